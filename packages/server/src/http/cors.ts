/**
 * CORS (Fetch standard) only for origins registered on clients (`corsOrigins`) and only on the endpoints a
 * browser application may call: token, userinfo, revocation, discovery and JWKS. Never on /authorize or
 * the login pages, which browsers reach by navigation. No credentials mode: these endpoints take no
 * cookies. Preflights for other origins get no CORS headers, so the browser blocks the call.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;

  constructor(origins: Iterable<string>) {
    this.origins = new Set(origins);
  }

  allows(origin: string | undefined): origin is string {
    return origin !== undefined && this.origins.has(origin);
  }

  /** Adds the response headers for an allowed origin (called for every response of a CORS route). */
  decorate(request: FastifyRequest, reply: FastifyReply): void {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (!this.allows(origin)) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-expose-headers', 'WWW-Authenticate, DPoP-Nonce, Retry-After');
  }

  /** Answers a preflight request. */
  preflight(request: FastifyRequest, reply: FastifyReply): void {
    this.decorate(request, reply);
    if (this.allows(request.headers.origin)) {
      reply.header('access-control-allow-methods', 'GET, POST');
      reply.header('access-control-allow-headers', 'Authorization, Content-Type, DPoP');
      reply.header('access-control-max-age', '600');
    }
    reply.code(204).send();
  }
}
