/** Every route of the server, in one list. */
import { constantTimeEqual } from '@gatehouse/jose-rules';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { authorizeEndpoint } from '../endpoints/authorize.ts';
import type { ClientCertificates } from '../endpoints/client-certificate.ts';
import { deviceAuthorizationEndpoint } from '../endpoints/device-authorization.ts';
import {
  deviceCodeSubmit,
  deviceDecisionSubmit,
  deviceLoginSubmit,
  deviceVerificationPage,
} from '../endpoints/device-verification.ts';
import { discoveryDocument } from '../endpoints/discovery.ts';
import { endSessionEndpoints } from '../endpoints/end-session.ts';
import { consentSubmit, interactionPage, loginSubmit } from '../endpoints/interaction.ts';
import { introspectEndpoint } from '../endpoints/introspect.ts';
import { parEndpoint } from '../endpoints/par.ts';
import { revokeEndpoint } from '../endpoints/revoke.ts';
import { tokenEndpoint } from '../endpoints/token.ts';
import { userinfoEndpoint } from '../endpoints/userinfo.ts';
import { OAuthError } from '../protocol/errors.ts';

export function registerRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  certificates: ClientCertificates,
): void {
  const discovery = JSON.stringify(discoveryDocument(ctx));
  const serveDiscovery = async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'public, max-age=300').type('application/json').send(discovery);
  };
  const methodNotAllowed = async () => {
    throw new OAuthError('method_not_allowed', 'method not allowed');
  };
  const otherMethods = ['PUT', 'DELETE', 'PATCH'] as const;

  // Browser-callable endpoints: CORS for registered origins (http/cors.ts).
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.routeOptions.config?.cors) ctx.cors.decorate(request, reply);
    done(null, payload);
  });
  const cors = { cors: true };

  app.get('/.well-known/openid-configuration', { config: cors }, serveDiscovery);
  app.get('/.well-known/oauth-authorization-server', { config: cors }, serveDiscovery);
  app.get('/jwks', { config: cors }, async (_request, reply) => {
    reply
      .header('cache-control', 'public, max-age=300')
      .type('application/jwk-set+json')
      .send(JSON.stringify(ctx.keys.jwks()));
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/authorize',
    config: { errorFormat: 'html', ipRateLimit: 'authorizePerIp' },
    handler: authorizeEndpoint(ctx),
  });
  // RFC 9126: pushed authorization requests (JSON errors, §2.3; POST only, so GET is 405).
  app.post(
    '/par',
    { config: { errorFormat: 'json', ipRateLimit: 'parPerIp', ...cors } },
    parEndpoint(ctx, certificates),
  );
  app.route({ method: ['GET', ...otherMethods], url: '/par', handler: methodNotAllowed });
  app.get('/interaction/:id', { config: { errorFormat: 'html' } }, interactionPage(ctx));
  app.post(
    '/interaction/:id/login',
    { config: { errorFormat: 'html', ipRateLimit: 'loginPerIp' } },
    loginSubmit(ctx),
  );
  app.post('/interaction/:id/consent', { config: { errorFormat: 'html' } }, consentSubmit(ctx));

  // RFC 8628: device authorization (JSON, for devices) and the verification pages (HTML, for users).
  app.post(
    '/device_authorization',
    { config: { errorFormat: 'json', ipRateLimit: 'deviceAuthorizationPerIp' } },
    deviceAuthorizationEndpoint(ctx, certificates),
  );
  app.route({
    method: ['GET', ...otherMethods],
    url: '/device_authorization',
    handler: methodNotAllowed,
  });
  app.get('/device', { config: { errorFormat: 'html' } }, deviceVerificationPage(ctx));
  app.post('/device', { config: { errorFormat: 'html' } }, deviceCodeSubmit(ctx));
  app.post(
    '/device/login',
    { config: { errorFormat: 'html', ipRateLimit: 'loginPerIp' } },
    deviceLoginSubmit(ctx),
  );
  app.post('/device/decision', { config: { errorFormat: 'html' } }, deviceDecisionSubmit(ctx));

  const logout = endSessionEndpoints(ctx);
  // Back-channel logouts run in the background; closing the server waits for those on the wire.
  app.addHook('onClose', async () => ctx.logout.backchannel.drain());
  app.route({
    method: ['GET', 'POST'],
    url: '/end_session',
    config: { errorFormat: 'html' },
    handler: logout.endSession,
  });
  app.post('/end_session/confirm', { config: { errorFormat: 'html' } }, logout.confirm);

  app.post(
    '/token',
    { config: { errorFormat: 'json', ipRateLimit: 'tokenPerIp', ...cors } },
    tokenEndpoint(ctx, certificates),
  );
  app.route({ method: ['GET', ...otherMethods], url: '/token', handler: methodNotAllowed });
  app.route({
    method: ['GET', 'POST'],
    url: '/userinfo',
    config: { errorFormat: 'bearer', ...cors },
    handler: userinfoEndpoint(ctx),
  });
  app.post(
    '/revoke',
    { config: { errorFormat: 'json', ipRateLimit: 'revokePerIp', ...cors } },
    revokeEndpoint(ctx, certificates),
  );
  app.route({ method: ['GET', ...otherMethods], url: '/revoke', handler: methodNotAllowed });
  app.post('/introspect', { config: { errorFormat: 'json' } }, introspectEndpoint(ctx, certificates));
  app.route({ method: ['GET', ...otherMethods], url: '/introspect', handler: methodNotAllowed });

  for (const url of [
    '/.well-known/openid-configuration',
    '/.well-known/oauth-authorization-server',
    '/jwks',
    '/par',
    '/token',
    '/userinfo',
    '/revoke',
  ]) {
    app.options(url, { config: cors }, async (request, reply) => ctx.cors.preflight(request, reply));
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    // A failing check answers 503 temporarily_unavailable (database and Redis errors map to it).
    for (const check of ctx.readinessChecks) await check();
    reply.send({ status: 'ready' });
  });
  if (ctx.config.metrics.enabled) {
    const token = ctx.config.metrics.bearerToken;
    app.get('/metrics', { config: { errorFormat: 'bearer' } }, async (request, reply) => {
      if (token !== undefined && !constantTimeEqual(request.headers.authorization ?? '', `Bearer ${token}`)) {
        throw new OAuthError('invalid_token', 'a valid metrics token is required');
      }
      reply.type('text/plain; version=0.0.4').send(await ctx.metrics.render());
    });
  }
}
