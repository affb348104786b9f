/**
 * ID tokens (OpenID Connect Core §2, §3.1.3.6): iss, sub, aud, azp, exp, iat, auth_time, nonce, sid,
 * at_hash, acr and amr. Profile claims of the granted scopes are served by userinfo, since an access token
 * is always issued alongside (Core §5.4); claims the `claims` parameter asks for in the ID token (Core §5.5)
 * are put in it (protocol/claims-request.ts). `acr` is the configured value of the session's level, which
 * its `amr` (RFC 8176) tells (protocol/acr.ts).
 */
import { createHash } from 'node:crypto';
import type { ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import { acrOf } from '../protocol/acr.ts';
import { signJwt } from './jwt.ts';

export interface IdTokenRequest {
  client: Client;
  userId: string;
  authTime: number;
  amr: string[];
  sid: string;
  nonce: string | undefined;
  accessToken: string;
  /** Claims requested for the ID token (Core §5.5); never one of the claims above. */
  claims?: Record<string, unknown> | undefined;
}

/** Core §3.1.3.6: left half of the hash of the access token, with the hash of the signing algorithm. */
export function accessTokenHash(accessToken: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256')
    .update(accessToken)
    .digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export function issueIdToken(ctx: ServerContext, request: IdTokenRequest): Promise<string> {
  const now = ctx.now();
  const key = ctx.keys.signingKey(now);
  const payload: Record<string, unknown> = {
    ...request.claims,
    iss: ctx.issuer,
    sub: request.userId,
    aud: request.client.clientId,
    azp: request.client.clientId,
    exp: now + ctx.config.tokens.idTokenTtl,
    iat: now,
    auth_time: request.authTime,
    sid: request.sid,
    at_hash: accessTokenHash(request.accessToken, key.alg),
    acr: acrOf(ctx.config, request.amr),
    amr: request.amr,
  };
  if (request.nonce !== undefined) payload.nonce = request.nonce;
  return signJwt(key, 'JWT', payload);
}
