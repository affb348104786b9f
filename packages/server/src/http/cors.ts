/**
 * CORS (Fetch standard) only for the origins of registered clients and only on the endpoints a browser
 * application may call: token, userinfo, revocation, PAR, discovery and JWKS. Never on /authorize or the
 * login pages, which browsers reach by navigation. No credentials mode: these endpoints take no cookies.
 * Preflights for other origins get no CORS headers, so the browser blocks the call.
 *
 * A client's origins are its `corsOrigins` (config file or `gatehouse client add --cors-origin`) and, for a
 * public client, the origins of its https redirect URIs and of its http://localhost ones (a browser app
 * receives its code there), as oidc-provider does. Custom schemes and loopback IP literals (RFC 8252 §7.3,
 * native apps on any port) give none. The clients come from the store's client cache, so a client added or
 * removed on any node (or by the CLI) counts at the next request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Client } from '../model.ts';

/** The web origin of a redirect URI a browser application receives its code at, or undefined. */
function browserRedirectOrigin(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  const web = url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname === 'localhost');
  return web ? url.origin : undefined;
}

/** The browser origins allowed to call the CORS endpoints for `client`. */
export function clientOrigins(client: Client): string[] {
  const fromRedirects =
    client.tokenEndpointAuthMethod === 'none'
      ? client.redirectUris.map(browserRedirectOrigin).filter((origin) => origin !== undefined)
      : [];
  return [...new Set([...client.corsOrigins, ...fromRedirects])];
}

export class CorsPolicy {
  private origins: { of: readonly Client[]; allowed: ReadonlySet<string> } | undefined;

  /** `clients`: every registered client, the same array while none changes (storage's listClients). */
  constructor(private readonly clients: () => Promise<readonly Client[]>) {}

  async allows(origin: string): Promise<boolean> {
    const clients = await this.clients();
    if (this.origins?.of !== clients)
      this.origins = { of: clients, allowed: new Set(clients.flatMap(clientOrigins)) };
    return this.origins.allowed.has(origin);
  }

  /** Adds the response headers for an allowed origin (called for every request to a CORS route). */
  async decorate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined || !(await this.allows(origin))) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-expose-headers', 'WWW-Authenticate, DPoP-Nonce, Retry-After');
  }

  /** Answers a preflight request, whose CORS headers `decorate` has set (app.ts runs it for CORS routes). */
  preflight(reply: FastifyReply): void {
    if (reply.hasHeader('access-control-allow-origin')) {
      reply.header('access-control-allow-methods', 'GET, POST');
      reply.header('access-control-allow-headers', 'Authorization, Content-Type, DPoP');
      reply.header('access-control-max-age', '600');
    }
    reply.code(204).send();
  }
}
