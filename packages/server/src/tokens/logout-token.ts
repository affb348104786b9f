/**
 * Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4): a JWT signed with the key that signs our ID
 * tokens, with header `typ: logout+jwt` (§2.4, so that it can never be mistaken for an ID token) and the
 * claims iss, aud (the one client it is sent to), iat, exp, jti, sub, sid and
 * `events: { "http://schemas.openid.net/event/backchannel-logout": {} }`. A logout token never carries a
 * `nonce` (§2.4: its absence is what tells it apart from an ID token for RPs that ignore `typ`).
 *
 * We always send both `sub` and `sid` (hence `backchannel_logout_session_supported`, §2.1). The lifetime is
 * two minutes: long enough for clock skew, short enough that a leaked token is soon worthless; every
 * delivery attempt gets a freshly signed token (see sessions/backchannel-logout.ts), so a late retry never carries
 * an expired one.
 */
import type { KeyStore } from '../keys/keystore.ts';
import { randomHandle } from '../protocol/secrets.ts';
import { signJwt } from './jwt.ts';

export const backchannelLogoutEvent = 'http://schemas.openid.net/event/backchannel-logout';
export const logoutTokenTtl = 120;

export interface LogoutTokenSubject {
  clientId: string;
  sub: string;
  sid: string;
}

/** What signing a logout token needs (a narrow part of the server context). */
export interface LogoutTokenSigner {
  issuer: string;
  keys: Pick<KeyStore, 'signingKey'>;
  now(): number;
}

export function issueLogoutToken(ctx: LogoutTokenSigner, subject: LogoutTokenSubject): Promise<string> {
  const now = ctx.now();
  return signJwt(ctx.keys.signingKey(now), 'logout+jwt', {
    iss: ctx.issuer,
    sub: subject.sub,
    aud: subject.clientId,
    iat: now,
    exp: now + logoutTokenTtl,
    jti: randomHandle(16),
    sid: subject.sid,
    events: { [backchannelLogoutEvent]: {} },
  });
}
