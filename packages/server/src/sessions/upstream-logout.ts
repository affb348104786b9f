/**
 * Logout of sessions started at an upstream provider:
 * - the session is recorded with the upstream's `sub`, `sid` and ID token (sealed with
 *   `keys.encryptionSecrets` when set, bound to the session's sid), in storage's upstreamSessions;
 * - RP-initiated logout here continues at the upstream (RP-Initiated Logout 1.0 §2) when the provider says
 *   `logout.endUpstreamSession` and advertises an `end_session_endpoint`: with the ID token as
 *   `id_token_hint`, our `/upstream/{id}/logged-out` as `post_logout_redirect_uri` and a fresh `state`;
 * - the upstream's back-channel logout token (Back-Channel Logout 1.0 §2.6: signature by its JWKS, `iss`,
 *   `aud` our client id there, `iat`, `jti` used once, the event, `sid` and/or `sub`, no `nonce`; checked by
 *   @gatehouse/client's LogoutTokenValidator) ends each local session it names as a logout here does:
 *   grants revoked and our own clients told by back-channel (sessions/logout.ts).
 */
import { GatehouseClientError, LogoutTokenError, LogoutTokenValidator } from '@gatehouse/client';
import type { ServerContext } from '../context.ts';
import { KeyEncryption } from '../keys/key-encryption.ts';
import type { LoginSession } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';

/** What an upstream sign-in says about the upstream session (sessions/upstream.ts). */
export interface UpstreamIdentity {
  subject: string;
  /** The ID token's `sid` (OpenID Connect Front-Channel/Back-Channel Logout), when it has one. */
  sid: string | undefined;
  /** The ID token as received, for `id_token_hint` at the upstream's logout. */
  idToken: string | undefined;
}

/** ID tokens are sealed like TOTP secrets (keys/key-encryption.ts), with the local sid as authenticated data. */
function sealing(ctx: ServerContext): KeyEncryption {
  return new KeyEncryption(ctx.config.keys.encryptionSecrets);
}
const sealAad = (sid: string) => `upstream-id-token:${sid}`;

/** Remembers which upstream session the local `session` came from. */
export async function recordUpstreamSession(
  ctx: ServerContext,
  session: LoginSession,
  upstreamId: string,
  identity: UpstreamIdentity,
): Promise<void> {
  const idToken =
    identity.idToken === undefined || identity.idToken.length > 16_384
      ? null
      : sealing(ctx).seal(sealAad(session.sid), identity.idToken);
  await ctx.storage.upstreamSessions.record(
    {
      sid: session.sid,
      upstreamId,
      upstreamSubject: identity.subject,
      upstreamSid: identity.sid ?? null,
      idToken,
      expiresAt: session.expiresAt,
    },
    ctx.now(),
  );
}

/** Where the upstream sends the browser after its logout (registered there as a post-logout redirect URI). */
export function upstreamLoggedOutUri(ctx: ServerContext, upstreamId: string): string {
  return `${ctx.issuer}/upstream/${upstreamId}/logged-out`;
}

/**
 * The upstream's end-session URL for local session `sid`, when it came from an upstream whose provider
 * ends upstream sessions too; undefined otherwise, or when the upstream cannot say where (no
 * `end_session_endpoint`, discovery failing: the local logout stands on its own, audited).
 */
export async function upstreamEndSessionUrl(
  ctx: ServerContext,
  sid: string,
  state: string,
): Promise<URL | undefined> {
  const record = await ctx.storage.upstreamSessions.find(sid, ctx.now());
  const provider = record === undefined ? undefined : ctx.upstreams.get(record.upstreamId);
  if (record === undefined || provider === undefined || !provider.config.logout.endUpstreamSession)
    return undefined;
  let idTokenHint: string | undefined;
  try {
    idTokenHint = record.idToken === null ? undefined : sealing(ctx).open(sealAad(sid), record.idToken);
  } catch {
    // Sealed with a secret no longer configured: the upstream asks its user instead.
    idTokenHint = undefined;
  }
  try {
    const url = await provider.client.endSessionUrl({
      ...(idTokenHint === undefined ? {} : { idTokenHint }),
      postLogoutRedirectUri: upstreamLoggedOutUri(ctx, record.upstreamId),
      state,
    });
    ctx.audit('upstream_logout_redirect', { upstream: record.upstreamId, sid });
    return url;
  } catch (error) {
    if (!(error instanceof GatehouseClientError)) throw error;
    ctx.audit('upstream_logout_unavailable', { upstream: record.upstreamId, reason: error.code });
    return undefined;
  }
}

const validators = new WeakMap<object, LogoutTokenValidator>();

/** The logout token validator of an upstream: its issuer, our client id there, its JWKS (through the guard). */
function validatorFor(ctx: ServerContext, upstreamId: string): LogoutTokenValidator | undefined {
  const provider = ctx.upstreams.get(upstreamId);
  if (provider === undefined || provider.config.type !== 'oidc' || !provider.config.logout.backchannel)
    return undefined;
  let validator = validators.get(provider);
  if (validator === undefined) {
    validator = new LogoutTokenValidator({
      issuer: provider.config.issuer,
      clientId: provider.config.clientId,
      key: (header) => provider.client.issuerKey(header),
      now: ctx.now,
    });
    validators.set(provider, validator);
  }
  return validator;
}

function refused(ctx: ServerContext, upstreamId: string, reason: string, description: string): OAuthError {
  ctx.audit('upstream_backchannel_logout_refused', { upstream: upstreamId, reason });
  return new OAuthError('invalid_request', description);
}

/**
 * Handles a logout token POSTed by upstream `upstreamId` (Back-Channel Logout 1.0 §2.6, §2.7): ends every
 * live local session it names and returns how many. Throws `invalid_request` (400, §2.8) for a token that
 * does not validate or was seen before; `temporarily_unavailable` when the upstream's keys cannot be fetched.
 */
export async function upstreamBackchannelLogout(
  ctx: ServerContext,
  upstreamId: string,
  logoutToken: string | undefined,
): Promise<number> {
  const validator = validatorFor(ctx, upstreamId);
  if (validator === undefined)
    throw refused(ctx, upstreamId, 'not_enabled', 'This upstream sends no back-channel logout here.');
  if (logoutToken === undefined || logoutToken.length > 16_384)
    throw refused(ctx, upstreamId, 'missing_token', 'logout_token is missing.');
  let claims: Awaited<ReturnType<LogoutTokenValidator['validate']>>;
  try {
    claims = await validator.validate(logoutToken);
  } catch (error) {
    if (error instanceof LogoutTokenError)
      throw refused(ctx, upstreamId, error.message.slice(0, 120), 'The logout token is not valid.');
    if (!(error instanceof GatehouseClientError)) throw error;
    ctx.audit('upstream_unavailable', { upstream: upstreamId, reason: error.code });
    throw new OAuthError('temporarily_unavailable', 'The upstream keys cannot be fetched just now.', {
      status: 503,
    });
  }
  const now = ctx.now();
  if (!(await ctx.replay.firstUse(`upstream-logout:${upstreamId}:${claims.jti}`, claims.expiresAt, now)))
    throw refused(ctx, upstreamId, 'replayed_jti', 'The logout token was used before.');
  const sids = await ctx.storage.upstreamSessions.findSids(
    upstreamId,
    { sub: claims.sub, sid: claims.sid },
    now,
  );
  let ended = 0;
  for (const sid of sids) {
    const session = await ctx.storage.sessions.findLiveBySid(sid, now);
    if (session === undefined) continue;
    await ctx.logout.endSession(session, undefined, ctx.audit);
    ended++;
  }
  ctx.audit('upstream_backchannel_logout', { upstream: upstreamId, sessions: ended });
  return ended;
}
