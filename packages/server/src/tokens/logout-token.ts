/**
 * Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4): JWTs signed with the ID token key, with
 * `typ: logout+jwt`, the back-channel logout event, both `sub` and `sid` (§2.1) and never a `nonce`, so
 * one can never pass as an ID token. They live two minutes: enough for clock skew, short for a leaked
 * token; each delivery attempt signs a fresh one (sessions/backchannel-logout.ts).
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
