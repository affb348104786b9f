/**
 * The peer: oidc-provider (a mature, certified Node.js OpenID Provider) configured for the same work as
 * Gatehouse, so the ratio says how Gatehouse compares with an established implementation:
 * - `service-a` (client_secret_basic, client_credentials, scope orders.read) gets an ES256 JWT access
 *   token for the orders API through resource indicators (defaultResource, accessTokenFormat 'jwt').
 * - `bench-web` (client_secret_basic, authorization_code + refresh_token, PKCE S256 required) gets an
 *   ES256 JWT access token for the same API, an ES256 id_token and a refresh token rotated on every use.
 * - DPoP (RFC 9449) is on (oidc-provider's default, stated explicitly) without required nonces, as in
 *   Gatehouse's default: a `DPoP` proof binds the access token (`cnf.jkt`, token_type DPoP).
 * - Storage is oidc-provider's own in-memory adapter, its default.
 * - Login and consent are completed programmatically: GET /interaction/:uid signs in the bench user and
 *   grants the requested scopes at once. The harness uses it only to obtain logged-in sessions before it
 *   measures; the measured loops never reach it (the login scenario has no peer).
 *
 * Environment: PORT (required), ISSUER (default http://127.0.0.1:PORT).
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { benchUser, ordersApi, serviceClient, webClient } from '../fixtures.ts';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is required');
const issuer = process.env.ISSUER ?? `http://127.0.0.1:${port}`;

const signingJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const kid = createHash('sha256').update(`${signingJwk.x}.${signingJwk.y}`).digest('base64url');

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: serviceClient.clientId,
      client_secret: serviceClient.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: webClient.clientId,
      client_secret: webClient.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [webClient.redirectUri],
    },
  ],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [{ ...signingJwk, kid, alg: 'ES256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access'],
  findAccount: (_ctx: unknown, accountId: string) => ({ accountId, claims: () => ({ sub: accountId }) }),
  pkce: { required: () => true },
  // Rotate on every use and issue refresh tokens without forcing prompt=consent, as Gatehouse does.
  rotateRefreshToken: true,
  issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
    client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 3600,
    RefreshToken: 30 * 86400,
    Grant: 30 * 86400,
    Session: 8 * 3600,
    Interaction: 900,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => ordersApi.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'orders.read',
        audience: ordersApi.audience,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
});

const handle = provider.callback();

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/interaction/')) {
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        const grant = new provider.Grant({
          accountId: benchUser.username,
          clientId: String(details.params.client_id),
        });
        grant.addOIDCScope('openid offline_access');
        grant.addResourceScope(ordersApi.resource, 'orders.read');
        const grantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: benchUser.username }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      }
    })();
    return;
  }
  handle(req, res);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
