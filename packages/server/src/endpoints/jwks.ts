/**
 * GET /jwks: the public signing keys (RFC 7517 §5, OpenID Connect Discovery 1.0 §3 `jwks_uri`), the next
 * key included before it signs and the previous one until every token it signed has expired
 * (keys/keystore.ts). Cacheable for five minutes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';

export function jwksEndpoint(ctx: ServerContext) {
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    reply
      .header('cache-control', 'public, max-age=300')
      .type('application/jwk-set+json')
      .send(JSON.stringify(ctx.keys.jwks()));
  };
}
