/**
 * Validates access tokens this server issued, for the endpoints that consume them (introspection, userinfo,
 * revocation). JWTs (RFC 9068 §4): a published key of ours, the configured algorithm, `typ` at+jwt, our
 * issuer, not expired; then neither the jti nor the grant may be revoked. Opaque tokens are looked up by
 * hash. Everything runs on node:crypto with keys imported once, because introspection sits on every
 * uncached API request. Any failure yields undefined: callers answer "inactive", never why.
 */
import { verifySignature } from '@gatehouse/jose-rules';
import type { ServerContext } from '../context.ts';
import { isHandle, sha256Base64Url } from '../protocol/secrets.ts';

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  auth_time?: number;
  roles?: string[];
  grant_id?: string;
  /** RFC 7800 confirmation: `jkt` for DPoP-bound tokens (RFC 9449 §6), `x5t#S256` (RFC 8705 §3). */
  cnf?: Record<string, string>;
  /** The scopes as an array, for APIs configured with `scopeClaim: scp` or `both`. */
  scp?: string[];
}

function decodeJson(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const segmentPattern = /^[A-Za-z0-9_-]+$/;

/**
 * The claims of a compact JWS this server signed with header `typ`, or undefined: three base64url segments,
 * no `crit`, a kid we still publish with its own algorithm, a valid signature, and our `iss`. Time claims
 * are the caller's business (an id_token_hint may be expired; an access token may not).
 */
export function verifyOwnJwt(
  ctx: ServerContext,
  token: string,
  typ: string,
): Record<string, unknown> | undefined {
  if (token.length > 8192) return undefined;
  const [header, payload, signature, extra] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined || extra !== undefined)
    return undefined;
  if (!segmentPattern.test(header) || !segmentPattern.test(payload) || !segmentPattern.test(signature))
    return undefined;
  const protectedHeader = decodeJson(header);
  if (
    protectedHeader?.typ !== typ ||
    typeof protectedHeader.kid !== 'string' ||
    protectedHeader.crit !== undefined
  )
    return undefined;
  const key = ctx.keys.verificationKey(protectedHeader.kid);
  if (key === undefined || protectedHeader.alg !== key.alg) return undefined;
  const signingInput = Buffer.from(`${header}.${payload}`);
  if (!verifySignature(key.alg, key.key, signingInput, Buffer.from(signature, 'base64url'))) return undefined;
  const claims = decodeJson(payload);
  return claims?.iss === ctx.issuer ? claims : undefined;
}

function verifyJwt(ctx: ServerContext, token: string, now: number): AccessTokenClaims | undefined {
  const claims = verifyOwnJwt(ctx, token, 'at+jwt');
  if (claims === undefined) return undefined;
  if (typeof claims.exp !== 'number' || claims.exp <= now || typeof claims.iat !== 'number') return undefined;
  if (
    typeof claims.sub !== 'string' ||
    typeof claims.client_id !== 'string' ||
    typeof claims.jti !== 'string'
  )
    return undefined;
  // A token for APIs that asked for `scp` alone carries no `scope`; the consumers here (introspection,
  // RFC 7662 §2.2, and userinfo) read `scope`, so it is restored from the array.
  if (claims.scope === undefined && Array.isArray(claims.scp))
    return { ...claims, scope: claims.scp.join(' ') } as unknown as AccessTokenClaims;
  if (typeof claims.scope !== 'string') return undefined;
  return claims as unknown as AccessTokenClaims;
}

/**
 * Verified-token cache: an API introspects the same token on every request it does not cache itself, so the
 * signature check is done once per token. Only tokens whose signature verified are kept, expiry is checked
 * on every hit, and revocation is still looked up on every request, so the cache can only save work, never
 * change an answer. Bounded; the oldest entry goes first. Keys are published or retired, never rewritten,
 * so a verified token stays verified until it expires.
 */
const verifiedTokenCaches = new WeakMap<ServerContext['keys'], Map<string, AccessTokenClaims>>();
const verifiedTokenLimit = 10_000;

/** One cache per server, kept with its key store (each request has its own context object). */
function verifiedTokensOf(ctx: ServerContext): Map<string, AccessTokenClaims> {
  let cache = verifiedTokenCaches.get(ctx.keys);
  if (cache === undefined) {
    cache = new Map();
    verifiedTokenCaches.set(ctx.keys, cache);
  }
  return cache;
}

/** The claims of an opaque access token's record (RFC 7662 describes both formats alike). */
async function opaqueClaims(
  ctx: ServerContext,
  token: string,
  now: number,
): Promise<AccessTokenClaims | undefined> {
  const record = await ctx.storage.accessTokens.find(sha256Base64Url(token));
  if (record === undefined || record.expiresAt <= now) return undefined;
  const claims: AccessTokenClaims = {
    ...record.claims,
    iss: ctx.issuer,
    sub: record.subject,
    aud: record.audience.length === 1 ? record.audience[0]! : record.audience,
    client_id: record.clientId,
    scope: record.scope,
    jti: record.jti,
    iat: record.createdAt,
    exp: record.expiresAt,
  };
  if (record.authTime !== null) claims.auth_time = record.authTime;
  if (record.roles !== null) claims.roles = record.roles;
  if (record.grantId !== null) claims.grant_id = record.grantId;
  if (record.cnf !== null) claims.cnf = record.cnf;
  return claims;
}

/** The claims of a JWT access token whose signature verified (once, then from the cache) and unexpired. */
function jwtClaims(ctx: ServerContext, token: string, now: number): AccessTokenClaims | undefined {
  const verifiedTokens = verifiedTokensOf(ctx);
  let claims = verifiedTokens.get(token);
  if (claims === undefined) {
    claims = verifyJwt(ctx, token, now);
    if (claims === undefined) return undefined;
    if (verifiedTokens.size >= verifiedTokenLimit)
      verifiedTokens.delete(verifiedTokens.keys().next().value as string);
    verifiedTokens.set(token, claims);
  } else if (claims.exp <= now) {
    verifiedTokens.delete(token);
    return undefined;
  }
  return claims;
}

/**
 * The claims of an active access token issued by this server, or undefined: unexpired, neither its jti nor
 * its grant revoked, and its client still registered and not disabled, so removing or disabling a client
 * stops its tokens at once (client_credentials tokens have no grant). Every node sees a removal at its next lookup (storage/caches.ts).
 */
export async function validateAccessToken(
  ctx: ServerContext,
  token: string,
): Promise<AccessTokenClaims | undefined> {
  const now = ctx.now();
  const claims = isHandle(token) ? await opaqueClaims(ctx, token, now) : jwtClaims(ctx, token, now);
  if (claims === undefined) return undefined;
  const grantId = typeof claims.grant_id === 'string' ? claims.grant_id : undefined;
  if (await ctx.storage.isAccessTokenRevoked(claims.jti, grantId, now)) return undefined;
  const client = await ctx.findClient(claims.client_id);
  if (client === undefined || client.disabledAt !== undefined) return undefined;
  return claims;
}
