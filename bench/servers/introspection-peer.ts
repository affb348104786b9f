/**
 * The introspection peer: oidc-provider (features.introspection) introspecting its own opaque access
 * tokens, the deployment where an established Node.js provider is asked about every token:
 * - `service-a` (client_secret_basic, client_credentials, scope orders.read) gets an opaque access token
 *   for the orders API through resource indicators (defaultResource, accessTokenFormat 'opaque').
 * - `orders-api` is a registered client with no grants, the resource server: it authenticates to the
 *   introspection endpoint with client_secret_basic and may see only tokens for its own audience
 *   (allowedPolicy), as Gatehouse's API resources do.
 * - Storage is a plain Map adapter: oidc-provider's bundled memory adapter is an LRU of 1,000 entries,
 *   which would evict part of the benchmark's token pool; a Map is no slower, so the peer loses nothing.
 *
 * Environment: PORT, RESOURCE_SECRET (required), ISSUER (default http://127.0.0.1:PORT).
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { ordersApi, serviceClient } from '../fixtures.ts';

const port = Number(process.env.PORT);
const resourceSecret = process.env.RESOURCE_SECRET;
if (!Number.isInteger(port) || port <= 0 || resourceSecret === undefined)
  throw new Error('PORT and RESOURCE_SECRET are required');
const issuer = process.env.ISSUER ?? `http://127.0.0.1:${port}`;

const signingJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const kid = createHash('sha256').update(`${signingJwk.x}.${signingJwk.y}`).digest('base64url');

/** What oidc-provider stores per model instance (bench/types has no adapter types). */
type AdapterPayload = Record<string, unknown>;

/** Every model in one Map per model name; entries expire as oidc-provider asks. */
const stores = new Map<string, Map<string, { payload: AdapterPayload; expiresAt: number | undefined }>>();

class MapAdapter {
  private readonly store: Map<string, { payload: AdapterPayload; expiresAt: number | undefined }>;

  constructor(name: string) {
    let store = stores.get(name);
    if (store === undefined) {
      store = new Map();
      stores.set(name, store);
    }
    this.store = store;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    this.store.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const entry = this.store.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async findByUserCode(): Promise<AdapterPayload | undefined> {
    return undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    for (const [id, entry] of this.store) if (entry.payload.uid === uid) return this.find(id);
    return undefined;
  }

  async consume(id: string): Promise<void> {
    const entry = this.store.get(id);
    if (entry !== undefined) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const store of stores.values()) {
      for (const [id, entry] of store) if (entry.payload.grantId === grantId) store.delete(id);
    }
  }
}

const provider = new Provider(issuer, {
  adapter: MapAdapter,
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
      client_id: ordersApi.audience,
      client_secret: resourceSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  // The only key is ES256, so every client must default to it.
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [{ ...signingJwk, kid, alg: 'ES256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid'],
  findAccount: (_ctx: unknown, accountId: string) => ({ accountId, claims: () => ({ sub: accountId }) }),
  ttl: { AccessToken: 600, ClientCredentials: 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // The resource server sees tokens for its audience only.
      allowedPolicy: (ctx: { oidc: { client?: { clientId: string } } }, _client: unknown, token: unknown) => {
        const aud = (token as { aud?: string | string[] }).aud;
        return (
          ctx.oidc.client?.clientId === ordersApi.audience &&
          (Array.isArray(aud) ? aud.includes(ordersApi.audience) : aud === ordersApi.audience)
        );
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => ordersApi.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'orders.read',
        audience: ordersApi.audience,
        accessTokenTTL: 600,
        accessTokenFormat: 'opaque',
      }),
    },
  },
});

const server = createServer(provider.callback());
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
