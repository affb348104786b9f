/**
 * Logout token validation (OpenID Connect Back-Channel Logout 1.0 §2.6), with jose:
 * 1. a JWS signed by a key of the issuer's JWKS, with an asymmetric algorithm (never `none` or HMAC); the
 *    keys come from the caller (the BFF passes its OAuthClient's `issuerKey`, so logout tokens and ID
 *    Tokens share one JWKS cache, fetched through the BFF's HTTP settings and again once older than its
 *    `jwksMaxAge`, so a key the issuer withdrew stops verifying);
 * 2. `iss` equals the issuer, `aud` contains our client id;
 * 3. `iat` present; `exp` honoured when present (§2.4 makes it required in newer drafts, so a token
 *    without `exp` is also accepted only while `iat` is within `maxAge` seconds);
 * 4. `jti` present (used by the caller to refuse replays);
 * 5. `events` is an object with a `http://schemas.openid.net/event/backchannel-logout` member that is a
 *    JSON object;
 * 6. `sid` and/or `sub` present; 7. no `nonce` (so an ID token can never pass as a logout token).
 * A `typ` header, when present, must be `logout+jwt` (§2.4) or the generic `JWT`; any other type (an
 * access token's `at+jwt`, ...) is refused. A failure to get the keys (the JWKS cannot be fetched) is
 * the client's own error, not a {@link LogoutTokenError}: the token was not judged.
 */
import { GatehouseClientError } from '@gatehouse/client';
import { jwsAlgorithms } from '@gatehouse/jose-rules';
import { type CryptoKey, type JWTPayload, jwtVerify, type ProtectedHeaderParameters } from 'jose';

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
