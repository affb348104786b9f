/**
 * Client authentication at the token, PAR, revocation and device endpoints:
 * - `none`: public clients send only `client_id` (OAuth 2.1 §2.4, RFC 8252 §8.4);
 * - `client_secret_basic`: HTTP Basic with id and secret form-encoded first (RFC 6749 §2.3.1, Appendix B);
 * - `client_secret_post`: id and secret in the body (RFC 6749 §2.3.1);
 * - `private_key_jwt`: a signed assertion with a fresh `jti` and a short `exp` per request
 *   (RFC 7523 §2.2, §3; OpenID Connect Core §9);
 * - `tls_client_auth` / `self_signed_tls_client_auth`: mutual TLS (RFC 8705 §2), the certificate coming
 *   from the dispatcher given in {@link HttpOptions}.
 */
import type { KeyObject } from 'node:crypto';
import { type CryptoKey, importJWK, type JWK, SignJWT } from 'jose';
import { randomToken } from './pkce.ts';

/** How the client proves who it is. */
export type ClientAuthentication =
  | { method: 'none' }
  | { method: 'client_secret_basic'; clientSecret: string }
  | { method: 'client_secret_post'; clientSecret: string }
  | {
      method: 'private_key_jwt';
      /** The private key (a JWK with `d`, a CryptoKey or a KeyObject). */
      privateKey: JWK | CryptoKey | KeyObject;
      /** Signing algorithm; default the JWK's `alg`, else ES256. */
      algorithm?: string;
      /** `kid` header; default the JWK's `kid`. */
      keyId?: string;
      /** Seconds the assertion is valid; default 60. */
      lifetime?: number;
    }
  | { method: 'tls_client_auth' | 'self_signed_tls_client_auth' };

/** RFC 6749 Appendix B: application/x-www-form-urlencoded encoding of one value. */
export function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

export interface AuthenticatedRequest {
  headers: Record<string, string>;
  params: Record<string, string>;
}

/**
 * Headers and body parameters that authenticate `clientId`. `audience` is the `aud` of a private_key_jwt
 * assertion (the issuer identifier); `now` is seconds since the epoch.
 */
export async function authenticate(
  clientId: string,
  auth: ClientAuthentication,
  audience: string,
  now: number,
): Promise<AuthenticatedRequest> {
  switch (auth.method) {
    case 'none':
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      return { headers: {}, params: { client_id: clientId } };
    case 'client_secret_basic': {
      const credentials = `${formEncode(clientId)}:${formEncode(auth.clientSecret)}`;
      return {
        headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
        params: {},
      };
    }
    case 'client_secret_post':
      return { headers: {}, params: { client_id: clientId, client_secret: auth.clientSecret } };
    case 'private_key_jwt': {
      const jwk = isJwk(auth.privateKey) ? auth.privateKey : undefined;
      const algorithm = auth.algorithm ?? jwk?.alg ?? 'ES256';
      const key = jwk ? await importJWK(jwk, algorithm) : auth.privateKey;
      const keyId = auth.keyId ?? jwk?.kid;
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: algorithm, typ: 'JWT', ...(keyId ? { kid: keyId } : {}) })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(audience)
        .setJti(randomToken())
        .setIssuedAt(now)
        .setExpirationTime(now + (auth.lifetime ?? 60))
        .sign(key as CryptoKey);
      return {
        headers: {},
        params: {
          client_id: clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        },
      };
    }
  }
}

function isJwk(key: JWK | CryptoKey | KeyObject): key is JWK {
  return typeof (key as JWK).kty === 'string' && !('type' in key && 'algorithm' in key);
}
