/**
 * Logout token validation (OpenID Connect Back-Channel Logout 1.0 §2.6): signed by the issuer's JWKS with
 * an asymmetric algorithm, `iss` and `aud` ours, `iat` present and `exp` honoured (without `exp`, `iat`
 * must be within `maxAge`), `jti` present (the caller refuses replays), the back-channel logout event,
 * `sid` and/or `sub`, and no `nonce` (so an ID token never passes). `typ`, when present, must be
 * `logout+jwt` (§2.4) or `JWT`. A JWKS fetch failure is the client's own error: the token was not judged.
 * Used by @gatehouse/bff for its back-channel logout, and by Gatehouse for its upstream providers' tokens.
 */

import { jwsAlgorithms } from '@gatehouse/jose-rules';
import { type CryptoKey, type JWTPayload, jwtVerify, type ProtectedHeaderParameters } from 'jose';
import { GatehouseClientError } from './errors.ts';

export const backchannelLogoutEvent = 'http://schemas.openid.net/event/backchannel-logout';

export interface LogoutTokenClaims {
  sub: string | undefined;
  sid: string | undefined;
  jti: string;
  /** Seconds since the epoch after which a replay cannot pass anyway. */
  expiresAt: number;
}

export class LogoutTokenError extends Error {
  override readonly name = 'LogoutTokenError';
}

export interface LogoutTokenValidatorOptions {
  issuer: string;
  clientId: string;
  /** The issuer's key for a token's header, e.g. `(header) => client.issuerKey(header)`. */
  key: (header: ProtectedHeaderParameters) => Promise<CryptoKey>;
  now: () => number;
  /** Seconds a token is accepted after its `iat`; default 300. */
  maxAge?: number;
  /** Seconds of clock skew; default 30. */
  clockTolerance?: number;
}

/** The asymmetric JWS algorithms (never `none` or an HMAC). */
const asymmetric = [...jwsAlgorithms];

export class LogoutTokenValidator {
  constructor(private readonly options: LogoutTokenValidatorOptions) {}

  async validate(token: string): Promise<LogoutTokenClaims> {
    const maxAge = this.options.maxAge ?? 300;
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      const verified = await jwtVerify(token, (header) => this.options.key(header), {
        issuer: this.options.issuer,
        audience: this.options.clientId,
        algorithms: asymmetric,
        requiredClaims: ['iat', 'jti'],
        maxTokenAge: maxAge,
        clockTolerance: this.options.clockTolerance ?? 30,
        currentDate: new Date(this.options.now() * 1000),
      });
      payload = verified.payload;
      typ = verified.protectedHeader.typ;
    } catch (error) {
      if (error instanceof GatehouseClientError) throw error;
      throw new LogoutTokenError(`the logout token does not verify (${(error as Error).message})`);
    }
    if (typ !== undefined && !['logout+jwt', 'application/logout+jwt', 'jwt'].includes(typ.toLowerCase())) {
      throw new LogoutTokenError(`a token of type ${typ} is not a logout token`);
    }
    const events = payload.events;
    if (typeof events !== 'object' || events === null || Array.isArray(events)) {
      throw new LogoutTokenError('the logout token has no events claim');
    }
    const event = (events as Record<string, unknown>)[backchannelLogoutEvent];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new LogoutTokenError('the events claim has no back-channel logout event');
    }
    if ('nonce' in payload) throw new LogoutTokenError('a logout token must not contain a nonce');
    const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
    const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
    if (sub === undefined && sid === undefined) {
      throw new LogoutTokenError('the logout token names neither sid nor sub');
    }
    if (typeof payload.jti !== 'string' || payload.jti === '')
      throw new LogoutTokenError('the jti is not a string');
    const iat = payload.iat!;
    const expiresAt = Math.max(typeof payload.exp === 'number' ? payload.exp : 0, iat + maxAge);
    return { sub, sid, jti: payload.jti, expiresAt: expiresAt + (this.options.clockTolerance ?? 30) };
  }
}
