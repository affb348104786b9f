/**
 * Verifies our own JWT access tokens (RFC 9068 §4) where the server itself consumes them (userinfo):
 * `typ` at+jwt, our issuer, a key from our published set, the configured algorithm only, and exp/iat with
 * a small leeway. Any failure is `invalid_token`; nothing about the token is echoed back.
 */
import { importJWK, type JWTPayload, jwtVerify, type KeyObject } from 'jose';
import type { ServerContext } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';

const importedKeys = new WeakMap<ServerContext, Map<string, KeyObject | Uint8Array>>();

export async function verifyAccessToken(
  ctx: ServerContext,
  token: string,
): Promise<JWTPayload & { scope?: string }> {
  let keys = importedKeys.get(ctx);
  if (keys === undefined) {
    keys = new Map();
    importedKeys.set(ctx, keys);
  }
  const cache = keys;
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const kid = header.kid;
        const jwk = kid === undefined ? undefined : ctx.keys.publicJwk(kid);
        if (kid === undefined || jwk === undefined) throw new Error('unknown key');
        let key = cache.get(kid);
        if (key === undefined) {
          key = (await importJWK(jwk, jwk.alg)) as KeyObject | Uint8Array;
          cache.set(kid, key);
        }
        return key;
      },
      {
        issuer: ctx.issuer,
        typ: 'at+jwt',
        algorithms: [ctx.config.keys.algorithm],
        requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
        clockTolerance: 5,
        currentDate: new Date(ctx.now() * 1000),
      },
    );
    return payload as JWTPayload & { scope?: string };
  } catch {
    throw new OAuthError('invalid_token', 'the access token is invalid or expired');
  }
}
