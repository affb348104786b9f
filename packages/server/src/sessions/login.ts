/**
 * Signing a user in (OpenID Connect Core §3.1.2.3): password checks with per-username throttling, and
 * starting the login session. The session is a server-side record; the browser holds its session value,
 * a random 256-bit id whose SHA-256 hash is the record's key. The endpoint puts the value in the cookie.
 */
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { LoginSession, UpstreamAuthentication } from '../model.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';

/**
 * The live session whose session value the browser presents, if any. A session whose account has been
 * disabled or deleted since does not count: the browser must sign in again, and the sign-in refuses it.
 */
export async function findSession(
  ctx: ServerContext,
  sessionValue: string | undefined,
): Promise<LoginSession | undefined> {
  if (sessionValue === undefined) return undefined;
  const session = await ctx.storage.sessions.findActive(sha256Base64Url(sessionValue), ctx.now());
  if (session === undefined) return undefined;
  const account = await ctx.accounts.findBySubject(session.userId);
  return account?.enabled ? session : undefined;
}

/**
 * Why a sign-in failed, as a message key of the page catalogues (views/locales/en.ts) with its parameters:
 * the page says it in the user's language.
 */
export type SignInFailure =
  | { key: 'login.missing' | 'login.invalid' | 'login.disabled' }
  | { key: 'login.throttled'; params: { seconds: number } };

export type PasswordCheck =
  | { user: Account }
  | { error: SignInFailure; status: 401 | 403 }
  | { error: SignInFailure; status: 429; retryAfter: number };

/** A sign-in form as posted, with where it came from. */
export interface SignInAttempt {
  username: string | undefined;
  password: string | undefined;
  clientId: string | undefined;
  /** The browser cookie's value (endpoints/cookies.ts). */
  browserValue: string | undefined;
  /** The client's IP address. */
  address: string;
}

/** A failure counter (rate-limit store key) and its lock rule. */
interface FailureCounter {
  key: string;
  freeFailures: number;
  maxDelay: number;
}

/**
 * The counters a sign-in attempt is held by, following OWASP's guidance (device cookies). A browser that
 * signed in to this account before counts its own failures only, so failures from elsewhere never lock it
 * out. Any other browser is held by two: the username at this address (`loginFreeFailures`, up to
 * `loginMaxDelay`), and the softer one of the username from all such browsers (`loginUsernameFreeFailures`,
 * up to `loginUsernameMaxDelay`), which slows a guesser rotating addresses. Counters exist for unknown
 * usernames too, so a lock reveals nothing.
 */
function failureCounters(
  ctx: ServerContext,
  username: string,
  browserHash: string | undefined,
  known: boolean,
  address: string,
): FailureCounter[] {
  const limits = ctx.config.rateLimits;
  const name = username.toLowerCase();
  const strict = { freeFailures: limits.loginFreeFailures, maxDelay: limits.loginMaxDelay };
  if (known) return [{ key: `login-browser:${name}\u0000${browserHash}`, ...strict }];
  return [
    { key: `login:${name}\u0000${address}`, ...strict },
    {
      key: `login-user:${name}`,
      freeFailures: limits.loginUsernameFreeFailures,
      maxDelay: limits.loginUsernameMaxDelay,
    },
  ];
}

/**
 * Checks a username and password under the failure counters above; a success remembers the browser as
 * known to the account for `login.knownBrowserTtl` and clears the counters it was held by.
 */
export async function checkPassword(ctx: ServerContext, attempt: SignInAttempt): Promise<PasswordCheck> {
  const { username, password, clientId, browserValue } = attempt;
  if (username === undefined || password === undefined || username.length > 256 || password.length > 1024) {
    return { error: { key: 'login.missing' }, status: 401 };
  }
  const now = ctx.now();
  const named = await ctx.accounts.findByUsername(username);
  const browserHash = browserValue === undefined ? undefined : sha256Base64Url(browserValue);
  const known =
    named !== undefined &&
    browserHash !== undefined &&
    (await ctx.storage.knownBrowsers.isKnown(browserHash, named.subject, now));
  const counters = failureCounters(ctx, username, browserHash, known, attempt.address);
  const locks = await Promise.all(counters.map(({ key }) => ctx.rateLimits.lockedSeconds(key)));
  const locked = Math.max(...locks);
  if (locked > 0) {
    ctx.audit('login_throttled', { client_id: clientId, retry_after: locked, known_browser: known });
    return {
      error: { key: 'login.throttled', params: { seconds: locked } },
      status: 429,
      retryAfter: locked,
    };
  }
  const user = await ctx.accounts.authenticate(username, password);
  if (user === undefined) {
    const counts = await Promise.all(
      counters.map(({ key, freeFailures, maxDelay }) =>
        ctx.rateLimits.countFailure(key, freeFailures, maxDelay),
      ),
    );
    ctx.audit('login_failed', { client_id: clientId, failures: counts[0], known_browser: known });
    return { error: { key: 'login.invalid' }, status: 401 };
  }
  await Promise.all(counters.map(({ key }) => ctx.rateLimits.forgetFailures(key)));
  // The password was right, so saying the account is disabled tells nothing to someone who guessed.
  if (!user.enabled) {
    ctx.audit('login_refused_disabled', { client_id: clientId, user_id: user.subject });
    return { error: { key: 'login.disabled' }, status: 403 };
  }
  if (browserHash !== undefined)
    await ctx.storage.knownBrowsers.remember(
      browserHash,
      user.subject,
      now + ctx.config.login.knownBrowserTtl,
      now,
    );
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
 * before the new one starts. `amr` says how the user proved who they are (RFC 8176): `pwd`, or `fed` for
 * a sign-in at an upstream provider (sessions/upstream.ts), whose own `amr`/`acr` come as `upstream`.
 */
export async function startSession(
  ctx: ServerContext,
  previousValue: string | undefined,
  user: Account,
  clientId?: string,
  amr: string[] = ['pwd'],
  upstream?: UpstreamAuthentication,
): Promise<StartedSession> {
  const now = ctx.now();
  const sessionValue = randomHandle();
  const fresh = { authTime: now, amr, expiresAt: now + ctx.config.login.sessionTtl, upstream };
  const previous =
    previousValue === undefined
      ? undefined
      : await ctx.storage.sessions.findActive(sha256Base64Url(previousValue), now);
  let session: LoginSession | undefined;
  if (previous !== undefined && previousValue !== undefined && previous.userId === user.subject) {
    if (
      await ctx.storage.sessions.reauthenticate(
        sha256Base64Url(previousValue),
        sha256Base64Url(sessionValue),
        { ...fresh, upstream: upstream ?? null },
        now,
      )
    ) {
      session = { ...fresh, sid: previous.sid, userId: user.subject };
    }
  } else if (previous !== undefined) {
    await ctx.logout.endSession(previous, clientId, ctx.audit);
  }
  if (session === undefined) {
    session = { ...fresh, sid: randomHandle(16), userId: user.subject };
    await ctx.storage.sessions.create(sha256Base64Url(sessionValue), session, now);
  }
  ctx.audit('login_succeeded', { user_id: user.subject, sid: session.sid, client_id: clientId });
  return { session, sessionValue };
}
