/**
 * The sign-in of a page a user reaches by a link, outside any authorization request: the device
 * verification page (RFC 8628 §3.3) and the CIBA approval page (CIBA Core §7.1). Each flow has its own
 * CSRF label (protocol/browser-csrf.ts) and sign-in form; this module has what they share: the password
 * sign-in that starts a session and sends the browser back to the page, the signed-in user behind a form
 * post, the Approve/Deny choice, the level an approval must reach (protocol/acr.ts), and the second factor
 * (a code or a passkey) that steps the session up to it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { AcrLevel, LoginSession } from '../model.ts';
import { requiredAcrLevel, sessionMeetsLevel } from '../protocol/acr.ts';
import { browserCsrfMatches, browserCsrfToken } from '../protocol/browser-csrf.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type Params, type RawParams, toParams } from '../protocol/params.ts';
import { randomHandle } from '../protocol/secrets.ts';
import { checkPassword, findSession, startSession } from '../sessions/login.ts';
import { checkSecondFactor, factorSummary, stepUpSession } from '../sessions/mfa.ts';
import {
  authenticationOptions,
  finishAuthentication,
  sessionBinding,
  webauthnEnabled,
} from '../sessions/webauthn.ts';
import type { PageUi } from '../views/html.ts';
import type { MessageKey } from '../views/i18n.ts';
import type { FormError } from '../views/pages.ts';
import { browserCookie, browserIdFor, readCookie, sessionCookie, setSessionCookie } from './cookies.ts';
import {
  factorPageError,
  type PageFormError,
  pageUiFor,
  postedCeremony,
  scriptUi,
  secondFactorError,
  sendPage,
  signInError,
} from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

export type { PageFormError } from './page-response.ts';

/** One flow's side of the link sign-in. */
export interface LinkSignIn {
  /** The flow's CSRF label (browser-csrf.ts). */
  csrfLabel: string;
  /** The error for a form that fails the CSRF check. */
  formExpired(): OAuthError;
  /** Renders the flow's sign-in form, keeping what the page carries (a user code, a link's token). */
  renderSignIn(browserId: string, username: string | undefined, error?: PageFormError): void;
}

/** What a flow's sign-in page shows besides its own fields: the form's token, the username, the error. */
export interface LinkSignInView {
  csrfToken: string;
  username: string | undefined;
  error: FormError | undefined;
}

export interface LinkSignInSpec {
  /** The flow's CSRF label (browser-csrf.ts); the sign-in form's token is for no session yet. */
  csrfLabel: string;
  /** The page message and the description of a form that fails the CSRF check. */
  expired: { pageMessage: MessageKey; description: string };
  page(view: LinkSignInView, ui: PageUi): string;
}

/** A flow's side of the link sign-in, answering `request` with `reply`. */
export function signInFlow(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  spec: LinkSignInSpec,
): LinkSignIn {
  return {
    csrfLabel: spec.csrfLabel,
    formExpired: () =>
      new OAuthError('invalid_request', spec.expired.description, { pageMessage: spec.expired.pageMessage }),
    renderSignIn: (browserId, username, error) =>
      sendPage(
        ctx,
        reply,
        error?.status ?? 200,
        spec.page(
          { csrfToken: browserCsrfToken(spec.csrfLabel, browserId, undefined), username, error: error?.form },
          pageUiFor(ctx, request),
        ),
        error?.retryAfter,
      ),
  };
}

/** The fields of a posted page form. */
export function postedParams(request: FastifyRequest): Params {
  return toParams((request.body as RawParams | undefined) ?? {});
}

export function checkLinkCsrf(
  flow: LinkSignIn,
  browserId: string | undefined,
  sid: string | undefined,
  submitted: string | undefined,
): asserts browserId is string {
  if (!browserCsrfMatches(flow.csrfLabel, browserId, sid, submitted)) throw flow.formExpired();
}

export interface LinkSignInSubmission {
  params: Params;
  clientId: string | undefined;
  /** Where the browser goes once signed in: the page again. */
  next: string;
  /** Refuses an account whose password was right (rendered on the sign-in form), or accepts it. */
  refuse?(account: Account): PageFormError | undefined;
}

/** POST .../login: checks the password and starts a session, then back to the page; else the form again. */
export async function linkSignInSubmit(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  flow: LinkSignIn,
  submission: LinkSignInSubmission,
): Promise<void> {
  const { params } = submission;
  const browserId = readCookie(request.headers.cookie, browserCookie);
  checkLinkCsrf(flow, browserId, undefined, params.get('csrf'));
  const username = params.get('username');
  const check = await checkPassword(ctx, {
    username,
    password: params.get('password'),
    clientId: submission.clientId,
    browserValue: browserId,
    address: request.ip,
  });
  const refused =
    'error' in check
      ? {
          form: signInError(check.error, username),
          status: check.status,
          ...('retryAfter' in check ? { retryAfter: check.retryAfter } : {}),
        }
      : submission.refuse?.(check.user);
  if (refused !== undefined || 'error' in check) {
    flow.renderSignIn(browserId, username?.slice(0, 256), refused);
    return;
  }
  const { sessionValue } = await startSession(
    ctx,
    readCookie(request.headers.cookie, sessionCookie),
    check.user,
  );
  setSessionCookie(reply, sessionValue, ctx.config.login.sessionTtl);
  reply.code(303).headers(noStoreHeaders).header('location', submission.next).send();
}

export interface LinkEntrant {
  browserId: string;
  session: LoginSession;
}

/**
 * The signed-in user behind a form post, after the CSRF check. When the session has ended, the sign-in
 * form is rendered and undefined returned: nothing is done on anyone's behalf, so that needs no CSRF check.
 */
export async function signedInPost(
  ctx: ServerContext,
  request: FastifyRequest,
  flow: LinkSignIn,
  params: Params,
): Promise<LinkEntrant | undefined> {
  const browserId = readCookie(request.headers.cookie, browserCookie);
  if (browserId === undefined) throw flow.formExpired();
  const session = await findSession(ctx, readCookie(request.headers.cookie, sessionCookie));
  if (session === undefined) {
    flow.renderSignIn(browserId, undefined, {
      form: { message: { key: 'device.sessionEnded' } },
      status: 401,
    });
    return undefined;
  }
  checkLinkCsrf(flow, browserId, session.sid, params.get('csrf'));
  return { browserId, session };
}

/** The browser (its id cookie set when new) and the session, if any, of a page opened by a link. */
export async function visit(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply) {
  const browserId = browserIdFor(request.headers.cookie, reply, randomHandle);
  const session = await findSession(ctx, readCookie(request.headers.cookie, sessionCookie));
  return { browserId, session };
}

/** The page that ends the flow: approved or denied, for the client named. */
export function sendOutcome(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  page: (view: { outcome: 'approved' | 'denied'; clientName: string }, ui: PageUi) => string,
  decision: 'approve' | 'deny',
  clientName: string,
): void {
  const outcome = decision === 'approve' ? 'approved' : 'denied';
  sendPage(ctx, reply, 200, page({ outcome, clientName }, pageUiFor(ctx, request)));
}

/** The button pressed on a confirmation page. */
export function chosenDecision(params: Params): 'approve' | 'deny' {
  const decision = params.get('decision');
  if (decision !== 'approve' && decision !== 'deny') {
    throw new OAuthError('invalid_request', 'Choose Approve or Deny.', {
      pageMessage: 'error.chooseApproveDeny',
    });
  }
  return decision;
}

/**
 * True when the session reaches the level an approval for `clientId` needs: the MFA policy of the server,
 * the client and the account's roles, as at /authorize, and the level the request asked for (`requested`).
 * False for a client that no longer exists.
 */
export async function meetsApprovalLevel(
  ctx: ServerContext,
  clientId: string,
  session: LoginSession,
  requested?: AcrLevel,
): Promise<boolean> {
  const client = await ctx.findClient(clientId);
  if (client === undefined) return false;
  const account = await ctx.accounts.findBySubject(session.userId);
  const level = requiredAcrLevel(ctx.config, client, { requiredAcr: requested }, account?.roles);
  return sessionMeetsLevel(session, level);
}

/** The answer to an approval posted before the second factor: the prompt, saying what is missing. */
export const factorMissing: PageFormError = { form: secondFactorError({ key: 'mfa.missing' }), status: 403 };

/** Where a flow's second-factor forms post (a code, a passkey), their CSRF token, the client named. */
export interface LinkFactorForm {
  codeAction: string;
  passkeyAction: string;
  csrfToken: string;
  clientName: string;
}

/**
 * The second-factor prompt of a link page: every factor the account has, a TOTP or recovery code and its
 * passkeys (a challenge bound to the session, sessions/webauthn.ts). An account with no factor is sent to
 * /mfa, which says that the page it came from needs one: a link's page is no place to enrol.
 */
export async function renderSecondFactor(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  session: LoginSession,
  form: LinkFactorForm,
  error?: PageFormError,
): Promise<void> {
  const summary = await factorSummary(ctx, session.userId);
  if (!summary.any) {
    reply.code(303).headers(noStoreHeaders).header('location', `${ctx.issuer}/mfa?needed=link`).send();
    return;
  }
  const account = await ctx.accounts.findBySubject(session.userId);
  const optionsJson =
    summary.passkeys > 0
      ? await authenticationOptions(ctx, sessionBinding(session.sid), session.userId)
      : undefined;
  const ui = optionsJson === undefined ? pageUiFor(ctx, request) : scriptUi(ctx, pageUiFor(ctx, request));
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.mfa(
      {
        action: form.codeAction,
        csrfToken: form.csrfToken,
        clientName: form.clientName,
        username: account?.username ?? '',
        error: error?.form,
        totp: summary.totp,
        passkey:
          optionsJson === undefined
            ? undefined
            : { action: form.passkeyAction, csrfToken: form.csrfToken, optionsJson },
      },
      ui,
    ),
    error?.retryAfter,
    ui,
  );
}

/** A second factor posted on a link page, for the signed-in `entrant`, for an approval for `clientId`. */
export interface LinkFactorStep {
  flow: LinkSignIn;
  entrant: LinkEntrant;
  form: LinkFactorForm;
  clientId: string;
}

/**
 * Checks a posted TOTP or recovery code (RFC 6238) or passkey assertion (WebAuthn §7.2); failures count
 * with the account's login limits. A refused one shows the prompt again with its error; an accepted one
 * steps the session up (its acr and amr say so, RFC 8176) and sets its cookie. Returns the stepped session.
 */
export async function secondFactorSubmit(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  step: LinkFactorStep,
  kind: 'code' | 'passkey',
): Promise<LoginSession | undefined> {
  const { session, browserId } = step.entrant;
  const params = postedParams(request);
  if (kind === 'passkey' && !webauthnEnabled(ctx))
    throw new OAuthError('invalid_request', 'passkeys are not enabled on this server');
  const check =
    kind === 'passkey'
      ? await finishAuthentication(
          ctx,
          sessionBinding(session.sid),
          postedCeremony(params),
          session.userId,
          step.clientId,
        )
      : await checkSecondFactor(
          ctx,
          session.userId,
          { code: params.get('code'), recoveryCode: params.get('recovery_code') },
          step.clientId,
        );
  if (!check.ok) {
    await renderSecondFactor(ctx, request, reply, session, step.form, factorPageError(check));
    return undefined;
  }
  const sessionValue = readCookie(request.headers.cookie, sessionCookie) ?? '';
  const method = kind === 'passkey' ? 'hwk' : 'otp';
  const stepped = await stepUpSession(ctx, sessionValue, session, randomHandle(), step.clientId, method);
  if (stepped === undefined) {
    step.flow.renderSignIn(browserId, undefined, {
      form: { message: { key: 'device.sessionEnded' } },
      status: 401,
    });
    return undefined;
  }
  setSessionCookie(reply, stepped.sessionValue, ctx.config.login.sessionTtl);
  return stepped.session;
}
