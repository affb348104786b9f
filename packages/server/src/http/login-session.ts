/**
 * The login session shared by every page that signs a user in (authorization login, device verification,
 * logout): reading the session cookie, checking a password with per-username throttling, and starting a
 * session. The session is a server-side record; the browser holds a random 256-bit id whose SHA-256 hash
 * is the record's key.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { LoginSession, User } from '../model.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { readCookie, serializeCookie, sessionCookie } from './cookies.ts';

export async function currentSession(
  ctx: ServerContext,
  request: FastifyRequest,
): Promise<LoginSession | undefined> {
  const cookie = readCookie(request.headers.cookie, sessionCookie);
  if (cookie === undefined) return undefined;
  return ctx.storage.sessions.findActive(sha256Base64Url(cookie), ctx.now());
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

/**
 * Signs `user` in on this browser and sets a new session cookie. When the browser's live session is the
 * same user's (prompt=login, max_age, step-up), it is re-authenticated in place: same sid, new cookie id,
 * new auth_time, so the clients signed in with it are not logged out. When it belongs to someone else,
 * that session is logged out fully (grants revoked, back-channel notices) before the new one starts.
 */
export async function startSession(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: User,
  clientId?: string,
): Promise<LoginSession> {
  const now = ctx.now();
  const cookieValue = randomHandle();
  const fresh = { authTime: now, amr: ['pwd'], expiresAt: now + ctx.config.login.sessionTtl };
  const previousCookie = readCookie(request.headers.cookie, sessionCookie);
  const previous =
    previousCookie === undefined
      ? undefined
      : await ctx.storage.sessions.findActive(sha256Base64Url(previousCookie), now);
  let session: LoginSession | undefined;
  if (previous !== undefined && previousCookie !== undefined && previous.userId === user.id) {
    if (
      await ctx.storage.sessions.reauthenticate(
        sha256Base64Url(previousCookie),
        sha256Base64Url(cookieValue),
        fresh,
        now,
      )
    ) {
      session = { ...fresh, sid: previous.sid, userId: user.id };
    }
  } else if (previous !== undefined) {
    await ctx.logout.endSession(previous, clientId);
  }
  if (session === undefined) {
    session = { ...fresh, sid: randomHandle(16), userId: user.id };
    await ctx.storage.sessions.create(sha256Base64Url(cookieValue), session, now);
  }
  ctx.audit('login_succeeded', { user_id: user.id, sid: session.sid, client_id: clientId });
  reply.header(
    'set-cookie',
    serializeCookie(sessionCookie, cookieValue, { sameSite: 'Lax', maxAge: ctx.config.login.sessionTtl }),
  );
  return session;
}
