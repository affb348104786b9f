/**
 * DPoP (RFC 9449): a key pair (ES256 by default, §4.2 says the key is the client's own), proofs with
 * `typ: dpop+jwt`, the public `jwk` in the header and `jti`, `htm`, `htu`, `iat` claims (§4.2), `ath` when
 * an access token is presented (§4.2, §7.1), and the server-provided `nonce` (§8, §9) cached per origin,
 * since the authorization server and each resource server issue their own. {@link accessTokenHeaders} is the
 * one place that presents an access token: `Bearer` (RFC 6750 §2.1) or `DPoP` with a proof (RFC 9449 §7.1).
 */
import { dpopAccessTokenHash, jwkThumbprint } from '@gatehouse/jose-rules';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { GatehouseClientError } from './errors.ts';
import { randomToken } from './pkce.ts';

/** A DPoP key pair and the nonces servers gave for it. */
export interface DPoPKey {
  readonly algorithm: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  /** Latest `DPoP-Nonce` per origin. */
  readonly nonces: Map<string, string>;
}

/** Generates a non-extractable DPoP key pair; default ES256. */
export async function generateDPoPKey(algorithm = 'ES256'): Promise<DPoPKey> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: false });
  const jwk = await exportJWK(publicKey);
  const publicJwk: JWK = { kty: jwk.kty! };
  for (const member of ['crv', 'x', 'y', 'n', 'e'] as const) {
    if (jwk[member] !== undefined) publicJwk[member] = jwk[member];
  }
  return { algorithm, privateKey, publicJwk, nonces: new Map() };
}

/** The key's JWK SHA-256 thumbprint (RFC 7638), as in `cnf.jkt` and `dpop_jkt`. */
export async function dpopThumbprint(key: DPoPKey): Promise<string> {
  const thumbprint = jwkThumbprint(key.publicJwk);
  if (thumbprint === undefined)
    throw new GatehouseClientError('unsupported', 'the DPoP key has no RFC 7638 members');
  return thumbprint;
}

/** `htu`: the request URI without query and fragment (RFC 9449 §4.2). */
function htu(url: string | URL): string {
  const target = new URL(url);
  return `${target.origin}${target.pathname}`;
}

/** Creates one proof for `method` and `url`; uses the nonce cached for the URL's origin unless given. */
export async function createDPoPProof(
  key: DPoPKey,
  request: { method: string; url: string | URL; accessToken?: string; nonce?: string; now: number },
): Promise<string> {
  const origin = new URL(request.url).origin;
  const nonce = request.nonce ?? key.nonces.get(origin);
  const claims: Record<string, unknown> = {
    htm: request.method.toUpperCase(),
    htu: htu(request.url),
  };
  if (nonce !== undefined) claims.nonce = nonce;
  if (request.accessToken !== undefined) {
    claims.ath = dpopAccessTokenHash(request.accessToken);
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.algorithm, typ: 'dpop+jwt', jwk: key.publicJwk })
    .setJti(randomToken())
    .setIssuedAt(request.now)
    .sign(key.privateKey);
}

/**
 * The headers that present an access token: `Authorization: Bearer` (RFC 6750 §2.1), or for a `DPoP`
 * token `Authorization: DPoP` and a `DPoP` proof bound to it by `ath` (RFC 9449 §7.1). A `DPoP` token
 * without its key is `unsupported`.
 */
export async function accessTokenHeaders(
  token: { value: string; type: string },
  key: DPoPKey | undefined,
  request: { method: string; url: string | URL; now: number },
): Promise<{ authorization: string; dpop?: string }> {
  if (token.type.toLowerCase() !== 'dpop') return { authorization: `Bearer ${token.value}` };
  if (key === undefined)
    throw new GatehouseClientError('unsupported', 'a DPoP-bound token needs the DPoP key');
  return {
    authorization: `DPoP ${token.value}`,
    dpop: await createDPoPProof(key, { ...request, accessToken: token.value }),
  };
}

/** Remembers the `DPoP-Nonce` a server sent (RFC 9449 §8.2, §9). Returns whether one was present. */
export function rememberDPoPNonce(key: DPoPKey, url: string | URL, headers: Headers): boolean {
  const nonce = headers.get('dpop-nonce');
  if (nonce === null) return false;
  key.nonces.set(new URL(url).origin, nonce);
  return true;
}
