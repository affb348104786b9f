/**
 * Signing a user in (OpenID Connect Core §3.1.2.3): password checks with per-username throttling, and
 * starting the login session. The session is a server-side record; the browser holds its session value,
 * a random 256-bit id whose SHA-256 hash is the record's key. The endpoint puts the value in the cookie.
 */
import type { ServerContext } from '../context.ts';
import type { LoginSession, User } from '../model.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';

/** The live session whose session value the browser presents, if any. */
export async function findSession(
  ctx: ServerContext,
  sessionValue: string | undefined,
): Promise<LoginSession | undefined> {
  if (sessionValue === undefined) return undefined;
  return ctx.storage.sessions.findActive(sha256Base64Url(sessionValue), ctx.now());
}

export type PasswordCheck = { user: User } | { error: string; status: 401 | 429 };

/**
 * Checks a username and password. Failures are counted per username (existing or not, so the lock reveals
 * nothing); after `loginFreeFailures` each failure locks the username for a doubling delay.
 */
export async function checkPassword(
  ctx: ServerContext,
  username: string | undefined,
  password: string | undefined,
  clientId: string | undefined,
): Promise<PasswordCheck> {
  if (username === undefined || password === undefined || username.length > 256 || password.length > 1024) {
    return { error: 'Enter your username and password.', status: 401 };
  }
  const throttleKey = `login:${username.toLowerCase()}`;
  const locked = await ctx.rateLimits.lockedSeconds(throttleKey);
  if (locked > 0) {
    ctx.audit('login_throttled', { client_id: clientId, retry_after: locked });
    return { error: `Too many failed sign-in attempts. Try again in ${locked} seconds.`, status: 429 };
  }
  const user = await ctx.storage.users.findByUsername(username);
  const valid = await ctx.passwords.verify(user?.passwordHash, password);
  if (!valid || user === undefined) {
    const { loginFreeFailures, loginMaxDelay } = ctx.config.rateLimits;
    const failures = await ctx.rateLimits.countFailure(throttleKey, loginFreeFailures, loginMaxDelay);
    ctx.audit('login_failed', { client_id: clientId, failures });
    return { error: 'The username or password is incorrect.', status: 401 };
  }
  await ctx.rateLimits.forgetFailures(throttleKey);
  return { user };
}

/** A session just started, and the new session value the browser is to hold for it. */
export interface StartedSession {
  session: LoginSession;
  sessionValue: string;
}

/**
 * Signs `user` in on the browser that presented `previousValue` and returns a new session value. When the
 * browser's live session is the same user's (prompt=login, max_age, step-up), it is re-authenticated in
 * place: same sid, new session value, new auth_time, so the clients signed in with it are not logged out.
 * When it belongs to someone else, that session is logged out fully (grants revoked, back-channel notices)
 * before the new one starts.
 */
export async function startSession(
  ctx: ServerContext,
  previousValue: string | undefined,
  user: User,
  clientId?: string,
): Promise<StartedSession> {
  const now = ctx.now();
  const sessionValue = randomHandle();
  const fresh = { authTime: now, amr: ['pwd'], expiresAt: now + ctx.config.login.sessionTtl };
  const previous =
    previousValue === undefined
      ? undefined
      : await ctx.storage.sessions.findActive(sha256Base64Url(previousValue), now);
  let session: LoginSession | undefined;
  if (previous !== undefined && previousValue !== undefined && previous.userId === user.id) {
    if (
      await ctx.storage.sessions.reauthenticate(
        sha256Base64Url(previousValue),
        sha256Base64Url(sessionValue),
        fresh,
        now,
      )
    ) {
      session = { ...fresh, sid: previous.sid, userId: user.id };
    }
  } else if (previous !== undefined) {
    await ctx.logout.endSession(previous, clientId, ctx.audit);
  }
  if (session === undefined) {
    session = { ...fresh, sid: randomHandle(16), userId: user.id };
    await ctx.storage.sessions.create(sha256Base64Url(sessionValue), session, now);
  }
  ctx.audit('login_succeeded', { user_id: user.id, sid: session.sid, client_id: clientId });
  return { session, sessionValue };
}
