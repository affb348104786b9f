/**
 * The account page at /account (issue 20), the server's own first-party page on the browser's login
 * session (the cookie of /authorize): no OAuth client stands in for it. Without a session it shows the
 * sign-in form (the same password check and failure counters as every sign-in, sessions/login.ts), then
 * the second factor when the account has one or the policy requires one (sessions/mfa.ts; enrolment when
 * required and missing). Changes are forms under /account (account-forms.ts) with a CSRF token bound to the
 * browser cookie and the session (protocol/browser-csrf.ts); the sensitive ones need a sign-in no older
 * than `account.reauthMaxAge`, else the sign-in form asks again (OpenID Connect Core §3.1.2.1 `max_age`,
 * done in place) and comes back to the section.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { LoginSession } from '../model.ts';
import { sessionMeetsLevel } from '../protocol/acr.ts';
import { browserCsrfMatches, browserCsrfToken } from '../protocol/browser-csrf.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type RawParams, toParams } from '../protocol/params.ts';
import { randomHandle } from '../protocol/secrets.ts';
import { connectedApplications, liveSessions, passwordChangeSupported } from '../sessions/account.ts';
import { findSession } from '../sessions/login.ts';
import { factorSummary, pendingTotpEnrolment, startTotpEnrolment } from '../sessions/mfa.ts';
import { finishAuthentication, sessionBinding, webauthnEnabled } from '../sessions/webauthn.ts';
import type { MessageKey } from '../views/i18n.ts';
import { browserCookie, browserIdFor, readCookie, sessionCookie } from './cookies.ts';
import { type LinkSignIn, linkSignInSubmit, type PageFormError, postedParams } from './link-sign-in.ts';
import { sendCodePrompt, sendEnrolment, stepUpOwnSession, verifyOwnCode } from './mfa.ts';
import { factorPageError, pageUiFor, postedCeremony, scopeGroups, sendPage } from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

const csrfLabel = 'gatehouse/account';

/** The sections a sign-in may come back to (a fragment of the page: never a URL from the request). */
export const accountSections = ['applications', 'sessions', 'password', 'factors'] as const;
export type AccountSection = (typeof accountSections)[number];

/** The notices a change redirects to (`?done=`), each shown once above the sections. */
export const accountNotices = {
  application: 'account.notice.applicationRevoked',
  session: 'account.notice.sessionEnded',
  sessions: 'account.notice.otherSessionsEnded',
  password: 'account.notice.passwordChanged',
  authenticator: 'account.notice.authenticatorRemoved',
  passkey: 'account.notice.passkeyRemoved',
} as const satisfies Record<string, MessageKey>;

export interface AccountUser {
  browserId: string;
  session: LoginSession;
  sessionValue: string;
  account: Account;
  /** The forms' token: bound to this browser and this session (protocol/browser-csrf.ts). */
  csrfToken: string;
}

export function accountUrl(ctx: ServerContext, path = ''): string {
  return `${ctx.issuer}/account${path}`;
}

/** The signed-in user of this browser, when it holds a live session of an enabled account. */
export async function accountUser(
  ctx: ServerContext,
  request: FastifyRequest,
  browserId = readCookie(request.headers.cookie, browserCookie),
): Promise<AccountUser | undefined> {
  const sessionValue = readCookie(request.headers.cookie, sessionCookie);
  const session = await findSession(ctx, sessionValue);
  if (session === undefined || sessionValue === undefined || browserId === undefined) return undefined;
  const account = await ctx.accounts.findBySubject(session.userId);
  if (account === undefined) return undefined;
  return {
    browserId,
    session,
    sessionValue,
    account,
    csrfToken: browserCsrfToken(csrfLabel, browserId, session.sid),
  };
}

export function formExpired(): OAuthError {
  return new OAuthError('invalid_request', 'The form has expired. Open your account page again.', {
    pageMessage: 'error.accountFormExpired',
  });
}

/** Throws unless `submitted` is this browser's token for the session `sid` (none: the sign-in form). */
export function checkAccountCsrf(
  browserId: string | undefined,
  sid: string | undefined,
  submitted: string | undefined,
): asserts browserId is string {
  if (!browserCsrfMatches(csrfLabel, browserId, sid, submitted)) throw formExpired();
}

/** True when the account needs the `mfa` level: it has an authenticator, or the policy requires one. */
export async function factorRequired(
  ctx: ServerContext,
  account: Account,
): Promise<{ required: boolean; totp: boolean; passkeys: number; policy: boolean }> {
  const { totp, passkeys, any } = await factorSummary(ctx, account.subject);
  const { requireForAll, requireForRoles } = ctx.config.mfa;
  const policy = requireForAll || account.roles.some((role) => requireForRoles.includes(role));
  return { required: any || policy, totp, passkeys, policy };
}

/**
 * What the session still has to show before the page opens: a factor the account has (a TOTP code, a
 * recovery code or a passkey), an enrolment when the policy requires one it lacks, or nothing.
 */
export async function factorGate(
  ctx: ServerContext,
  user: AccountUser,
): Promise<'code' | 'enrol' | undefined> {
  if (sessionMeetsLevel(user.session, 'mfa')) return undefined;
  const { required, totp, passkeys } = await factorRequired(ctx, user.account);
  if (!required) return undefined;
  return totp || passkeys > 0 ? 'code' : 'enrol';
}

/** True when the session signed in within `account.reauthMaxAge` seconds. */
export function recentSignIn(ctx: ServerContext, session: LoginSession): boolean {
  return ctx.now() - session.authTime <= ctx.config.account.reauthMaxAge;
}

export function renderSignIn(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  browserId: string,
  options: {
    username?: string | undefined;
    reauth: boolean;
    section?: AccountSection | undefined;
    error?: PageFormError;
  },
): void {
  const { error } = options;
  sendPage(
    ctx,
    reply,
    error?.status ?? (options.reauth ? 401 : 200),
    ctx.ui.pages.accountSignIn(
      {
        action: accountUrl(ctx, '/login'),
        csrfToken: browserCsrfToken(csrfLabel, browserId, undefined),
        username: options.username,
        reauth: options.reauth,
        section: options.section,
        error: error?.form,
      },
      pageUiFor(ctx, request),
    ),
    error?.retryAfter,
  );
}

/** The code prompt's form: the account's authenticator code steps the session up at /account/mfa. */
function codeForm(ctx: ServerContext, user: AccountUser) {
  return { action: accountUrl(ctx, '/mfa'), csrfToken: user.csrfToken, username: user.account.username };
}

/** The prompt's passkey form (with `webauthn.enabled` and a passkey), posted to /account/passkey/verify. */
function passkeyForm(ctx: ServerContext, user: AccountUser) {
  return { action: accountUrl(ctx, '/passkey/verify'), session: user.session, userId: user.account.subject };
}

/** The TOTP enrolment form (a pending secret shown again, else a new one), confirmed at /account/totp/confirm. */
export async function renderEnrolment(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: AccountUser,
  options: { restart: boolean; error?: PageFormError },
): Promise<void> {
  const pending = options.restart ? undefined : await pendingTotpEnrolment(ctx, user.account);
  const enrolment = pending ?? (await startTotpEnrolment(ctx, user.account));
  const form = {
    action: accountUrl(ctx, '/totp/confirm'),
    csrfToken: user.csrfToken,
    username: user.account.username,
  };
  await sendEnrolment(ctx, request, reply, form, enrolment, options.error);
}

/** Claim values as the profile section shows them: strings as they are, anything else as JSON. */
function profileRows(claims: Record<string, unknown>): Array<{ name: string; value: string }> {
  return Object.entries(claims).map(([name, value]) => ({
    name,
    value: typeof value === 'string' ? value : JSON.stringify(value),
  }));
}

/** The account's passkeys as the factors section lists them (views/webauthn.ts). */
async function passkeyItems(ctx: ServerContext, userId: string) {
  return (await ctx.storage.webauthn.listCredentials(userId)).map((credential) => ({
    credentialId: credential.credentialId,
    nickname: credential.nickname,
    createdAt: credential.createdAt,
    lastUsedAt: credential.lastUsedAt,
    synced: credential.backupEligible,
  }));
}

/** The account page with every section; `errors` are those of a form just posted. */
export async function renderAccount(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: AccountUser,
  options: { notice?: MessageKey | undefined; password?: PageFormError; factors?: PageFormError } = {},
): Promise<void> {
  const { account, session } = user;
  const [claims, applications, sessions, factors] = await Promise.all([
    ctx.accounts.claims(account, { scopes: ['profile', 'email'] }),
    connectedApplications(ctx, account.subject),
    liveSessions(ctx, account.subject),
    factorSummary(ctx, account.subject),
  ]);
  const status = options.password?.status ?? options.factors?.status ?? 200;
  sendPage(
    ctx,
    reply,
    status,
    ctx.ui.pages.account(
      {
        username: account.username,
        csrfToken: user.csrfToken,
        base: accountUrl(ctx),
        signOutUrl: ctx.endpoints.endSession,
        notice: options.notice,
        profile: profileRows(claims),
        applications: applications.map((application) => ({
          ...application,
          groups: scopeGroups(ctx, application.scopes),
        })),
        sessions: sessions.map(({ session: live, applications: names }) => ({
          sid: live.sid,
          current: live.sid === session.sid,
          authTime: live.authTime,
          secondFactor: sessionMeetsLevel(live, 'mfa'),
          applications: names,
        })),
        password: passwordChangeSupported(ctx) ? { error: options.password?.form } : undefined,
        factors: {
          totp: factors.totp,
          recoveryCodes: factors.recoveryCodes,
          passkeys: webauthnEnabled(ctx)
            ? { items: await passkeyItems(ctx, account.subject), addUrl: `${ctx.issuer}/mfa` }
            : undefined,
          error: options.factors?.form,
        },
      },
      pageUiFor(ctx, request),
    ),
    options.password?.retryAfter ?? options.factors?.retryAfter,
  );
}

/** GET /account: the sign-in form, the second factor, or the page. */
export function accountPageEndpoint(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const browserId = browserIdFor(request.headers.cookie, reply, randomHandle);
    const user = await accountUser(ctx, request, browserId);
    if (user === undefined) {
      renderSignIn(ctx, request, reply, browserId, { reauth: false });
      return;
    }
    const gate = await factorGate(ctx, user);
    if (gate === 'code')
      await sendCodePrompt(ctx, request, reply, codeForm(ctx, user), undefined, passkeyForm(ctx, user));
    else if (gate === 'enrol') await renderEnrolment(ctx, request, reply, user, { restart: false });
    else {
      const done = toParams((request.query as RawParams | undefined) ?? {}).get('done');
      const notice =
        done !== undefined && Object.hasOwn(accountNotices, done)
          ? accountNotices[done as keyof typeof accountNotices]
          : undefined;
      await renderAccount(ctx, request, reply, user, { notice });
    }
  };
}

/** A 303 back to the account page, at `section`, with `done`'s notice. */
export function backToAccount(
  ctx: ServerContext,
  reply: FastifyReply,
  section?: AccountSection,
  done?: keyof typeof accountNotices,
): void {
  const query = done === undefined ? '' : `?done=${done}`;
  const fragment = section === undefined ? '' : `#${section}`;
  reply
    .code(303)
    .headers(noStoreHeaders)
    .header('location', accountUrl(ctx, `${query}${fragment}`))
    .send();
}

function sectionOf(value: string | undefined): AccountSection | undefined {
  return accountSections.find((section) => section === value);
}

/** POST /account/login: signs in (or again, in place, for a recent sign-in), then back to the section. */
export function accountLoginSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = postedParams(request);
    const section = sectionOf(params.get('section'));
    const flow: LinkSignIn = {
      csrfLabel,
      formExpired,
      renderSignIn: (browserId, username, error) =>
        renderSignIn(ctx, request, reply, browserId, {
          username,
          reauth: section !== undefined,
          section,
          ...(error === undefined ? {} : { error }),
        }),
    };
    const next = accountUrl(ctx, section === undefined ? '' : `#${section}`);
    await linkSignInSubmit(ctx, request, reply, flow, { params, clientId: undefined, next });
  };
}

/** POST /account/mfa: the code of the account's authenticator (or a recovery code) steps the session up. */
export function accountSecondFactorSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = postedParams(request);
    const user = await accountUser(ctx, request);
    if (user === undefined) {
      backToAccount(ctx, reply);
      return;
    }
    checkAccountCsrf(user.browserId, user.session.sid, params.get('csrf'));
    if (await verifyOwnCode(ctx, request, reply, user, params, codeForm(ctx, user), passkeyForm(ctx, user)))
      backToAccount(ctx, reply);
  };
}

/** POST /account/passkey/verify: one of the account's passkeys steps the session up (WebAuthn §7.2). */
export function accountPasskeySubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = postedParams(request);
    const user = await accountUser(ctx, request);
    if (user === undefined || !webauthnEnabled(ctx)) {
      backToAccount(ctx, reply);
      return;
    }
    checkAccountCsrf(user.browserId, user.session.sid, params.get('csrf'));
    const binding = sessionBinding(user.session.sid);
    const result = await finishAuthentication(
      ctx,
      binding,
      postedCeremony(params),
      user.account.subject,
      undefined,
    );
    if (!result.ok) {
      const error = factorPageError(result);
      await sendCodePrompt(ctx, request, reply, codeForm(ctx, user), error, passkeyForm(ctx, user));
      return;
    }
    await stepUpOwnSession(ctx, reply, user, 'hwk');
    backToAccount(ctx, reply);
  };
}

/** The sign-in forms by path under /account (registered by http/routes.ts with accountForms). */
export const accountSignInForms = {
  '/login': accountLoginSubmit,
  '/mfa': accountSecondFactorSubmit,
  '/passkey/verify': accountPasskeySubmit,
};
