/**
 * The one set of clients, secrets, user and scopes every server under test is configured with, so the
 * three targets (Gatehouse, oidc-provider, the bare ceiling) are asked to do the same thing. The values
 * here must match bench/gatehouse.bench.yaml; they are bench-only credentials on loopback.
 */
export const serviceClient = {
  clientId: 'service-a',
  secret: 'service-a-bench-secret-0123456789abcdefghijklmnop',
  scope: 'orders.read',
} as const;

export const webClient = {
  clientId: 'bench-web',
  secret: 'bench-web-bench-secret-0123456789abcdefghijklmnop',
  /** Never followed: the harness only reads the Location header. Port 1 is never listened on. */
  redirectUri: 'http://127.0.0.1:1/cb',
  scope: 'openid offline_access orders.read',
} as const;

export const benchUser = {
  username: 'bench-user',
  password: 'bench-user-Pa55word!',
} as const;

/** The API the access tokens are for: Gatehouse's apiResources id, oidc-provider's resource audience. */
export const ordersApi = {
  audience: 'orders-api',
  resource: 'http://127.0.0.1:4000/orders',
} as const;

/** Argon2id parameters of the issue (OWASP minimum), used by Gatehouse's config and the argon2 ceiling. */
export const argon2Parameters = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function basicAuthorization(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}
