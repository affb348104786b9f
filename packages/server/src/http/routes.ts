/** Every route of the server, in one list. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';
import { authorizeEndpoint } from '../endpoints/authorize.ts';
import { discoveryDocument } from '../endpoints/discovery.ts';
import { consentSubmit, interactionPage, loginSubmit } from '../endpoints/interaction.ts';
import { introspectEndpoint } from '../endpoints/introspect.ts';
import { revokeEndpoint } from '../endpoints/revoke.ts';
import { tokenEndpoint } from '../endpoints/token.ts';
import { userinfoEndpoint } from '../endpoints/userinfo.ts';
import { OAuthError } from '../protocol/errors.ts';

export function registerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const discovery = JSON.stringify(discoveryDocument(ctx));
  const serveDiscovery = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    reply.header('cache-control', 'public, max-age=300').type('application/json').send(discovery);
  };
  const methodNotAllowed = async () => {
    throw new OAuthError('method_not_allowed', 'method not allowed');
  };

  app.get('/.well-known/openid-configuration', serveDiscovery);
  app.get('/.well-known/oauth-authorization-server', serveDiscovery);
  app.get('/jwks', async (_request, reply) => {
    reply
      .header('cache-control', 'public, max-age=300')
      .type('application/jwk-set+json')
      .send(JSON.stringify(ctx.keys.jwks()));
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/authorize',
    config: { errorFormat: 'html' },
    handler: authorizeEndpoint(ctx),
  });
  app.get('/interaction/:id', { config: { errorFormat: 'html' } }, interactionPage(ctx));
  app.post(
    '/interaction/:id/login',
    { config: { errorFormat: 'html', ipRateLimit: 'loginPerIp' } },
    loginSubmit(ctx),
  );
  app.post('/interaction/:id/consent', { config: { errorFormat: 'html' } }, consentSubmit(ctx));

  app.post('/token', { config: { errorFormat: 'json', ipRateLimit: 'tokenPerIp' } }, tokenEndpoint(ctx));
  app.post('/introspect', { config: { errorFormat: 'json' } }, introspectEndpoint(ctx));
  app.post('/revoke', { config: { errorFormat: 'json', ipRateLimit: 'revokePerIp' } }, revokeEndpoint(ctx));
  app.route({ method: ['GET', 'PUT', 'DELETE', 'PATCH'], url: '/introspect', handler: methodNotAllowed });
  app.route({ method: ['GET', 'PUT', 'DELETE', 'PATCH'], url: '/revoke', handler: methodNotAllowed });
  app.route({ method: ['GET', 'PUT', 'DELETE', 'PATCH'], url: '/token', handler: methodNotAllowed });
  app.route({
    method: ['GET', 'POST'],
    url: '/userinfo',
    config: { errorFormat: 'bearer' },
    handler: userinfoEndpoint(ctx),
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    await ctx.storage.db.selectFrom('clients').select('client_id').limit(1).execute();
    reply.send({ status: 'ready' });
  });
}
