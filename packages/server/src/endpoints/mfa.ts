/**
 * The signed-in user's second factors at /mfa: set up (or replace) a TOTP authenticator (RFC 6238), get
 * new recovery codes, and list, add and remove passkeys (endpoints/mfa-passkeys.ts). The browser's live session is required; once the account has an authenticator, every
 * change needs a session stepped up with it (a password alone cannot replace the factor that guards it), so
 * the page first asks for a code. Forms carry a token derived from the session value the browser holds
 * (HttpOnly, never in a page), so another site cannot post them; the rules are in sessions/mfa.ts.
 */

import { constantTimeEqual } from '@gatehouse/jose-rules';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { LoginSession } from '../model.ts';
import { sessionMeetsLevel } from '../protocol/acr.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type Params, type RawParams, toParams } from '../protocol/params.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { findSession } from '../sessions/login.ts';
import {
  checkSecondFactor,
  confirmTotpEnrolment,
  factorSummary,
  pendingTotpEnrolment,
  regenerateRecoveryCodes,
  startTotpEnrolment,
  stepUpSession,
} from '../sessions/mfa.ts';
import {
  authenticationOptions,
  registrationOptions,
  sessionBinding,
  webauthnEnabled,
} from '../sessions/webauthn.ts';
import { qrSvg } from '../views/mfa.ts';
import { readCookie, sessionCookie, setSessionCookie } from './cookies.ts';
import { factorPageError, type PageFormError, pageUiFor, scriptUi, sendPage } from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

export interface SignedIn {
  session: LoginSession;
  sessionValue: string;
  account: Account;
  /** The forms' token: a hash of the session value, which only this browser holds. */
  csrfToken: string;
  /** True when the account has a factor (TOTP or a passkey) and the session has not passed it. */
  gated: boolean;
}

async function signedIn(ctx: ServerContext, request: FastifyRequest): Promise<SignedIn | undefined> {
  const sessionValue = readCookie(request.headers.cookie, sessionCookie);
  const session = await findSession(ctx, sessionValue);
  if (session === undefined || sessionValue === undefined) return undefined;
  const account = await ctx.accounts.findBySubject(session.userId);
  if (account === undefined) return undefined;
  const { any } = await factorSummary(ctx, account.subject);
  return {
    session,
    sessionValue,
    account,
    csrfToken: sha256Base64Url(`gatehouse/mfa-page/${sessionValue}`),
    gated: any && !sessionMeetsLevel(session, 'mfa'),
  };
}

/** The signed-in browser that posted a form carrying its token; `open` also lets a gated session in. */
export async function submission(ctx: ServerContext, request: FastifyRequest, open = false) {
  const user = await signedIn(ctx, request);
  const params = toParams((request.body as RawParams | undefined) ?? {});
  const csrf = params.get('csrf');
  if (user === undefined || csrf === undefined || !constantTimeEqual(csrf, user.csrfToken))
    throw new OAuthError('invalid_request', 'The form has expired. Open the page again.', {
      pageMessage: 'error.formExpired',
    });
  if (user.gated && !open)
    throw new OAuthError('access_denied', 'confirm your current authenticator first', { status: 403 });
  return { user, params };
}

export function mfaUrl(ctx: ServerContext, path = ''): string {
  return `${ctx.issuer}/mfa${path}`;
}

/** The form a signed-in user's own page (/mfa, /account) posts a code to; no client is named. */
export interface OwnFactorForm {
  action: string;
  csrfToken: string;
  username: string;
}

/** Where a signed-in user's passkey is checked: the form's action, and the session the challenge is bound to. */
export interface OwnPasskeyForm {
  action: string;
  session: LoginSession;
  userId: string;
}

/**
 * The code prompt of a signed-in user's own page; with `passkey`, the account's passkeys too (the page then
 * runs the ceremony's script).
 */
export async function sendCodePrompt(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  form: OwnFactorForm,
  error?: PageFormError,
  passkey?: OwnPasskeyForm,
): Promise<void> {
  let ui = pageUiFor(ctx, request);
  const summary = passkey === undefined ? undefined : await factorSummary(ctx, passkey.userId);
  const optionsJson =
    passkey !== undefined && summary !== undefined && summary.passkeys > 0
      ? await authenticationOptions(ctx, sessionBinding(passkey.session.sid), passkey.userId)
      : undefined;
  if (optionsJson !== undefined) ui = scriptUi(ctx, ui);
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.mfa(
      {
        ...form,
        clientName: undefined,
        error: error?.form,
        ...(summary === undefined ? {} : { totp: summary.totp }),
        passkey:
          optionsJson === undefined || passkey === undefined
            ? undefined
            : { action: passkey.action, csrfToken: form.csrfToken, optionsJson },
      },
      ui,
    ),
    error?.retryAfter,
    ui,
  );
}

/** The TOTP enrolment form of a signed-in user's own page, with the QR code of `enrolment`. */
export async function sendEnrolment(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  form: OwnFactorForm,
  enrolment: { secret: string; uri: string },
  error?: PageFormError,
): Promise<void> {
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.mfaEnrol(
      { ...form, clientName: undefined, ...enrolment, qrSvg: await qrSvg(enrolment.uri), error: error?.form },
      pageUiFor(ctx, request),
    ),
    error?.retryAfter,
  );
}

/** Steps the browser's session up to the mfa level after a code or a passkey (sessions/mfa.ts), sets its cookie. */
export async function stepUpOwnSession(
  ctx: ServerContext,
  reply: FastifyReply,
  signed: { sessionValue: string; session: LoginSession },
  method: 'otp' | 'hwk' = 'otp',
): Promise<void> {
  const stepped = await stepUpSession(
    ctx,
    signed.sessionValue,
    signed.session,
    randomHandle(),
    undefined,
    method,
  );
  if (stepped !== undefined) setSessionCookie(reply, stepped.sessionValue, ctx.config.login.sessionTtl);
}

/**
 * After a new authenticator's first code: the session, which has just shown it, is stepped up to the mfa
 * level, and the new recovery codes are shown once with a link to `continueUrl`.
 */
export async function sendNewFactorCodes(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  signed: { sessionValue: string; session: LoginSession },
  codes: string[],
  continueUrl: string,
): Promise<void> {
  await stepUpOwnSession(ctx, reply, signed);
  sendRecoveryCodes(ctx, request, reply, codes, continueUrl);
}

/** Recovery codes just made, shown once, with a link to `continueUrl`. */
export function sendRecoveryCodes(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  codes: string[],
  continueUrl: string,
): void {
  sendPage(ctx, reply, 200, ctx.ui.pages.recoveryCodes({ codes, continueUrl }, pageUiFor(ctx, request)));
}

/**
 * Checks the code (or recovery code) a signed-in user posted on their own page and steps the session up;
 * when it is refused, the prompt is shown again with the error and false returned.
 */
export async function verifyOwnCode(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  signed: { account: Account; sessionValue: string; session: LoginSession },
  params: Params,
  form: OwnFactorForm,
  passkey?: OwnPasskeyForm,
): Promise<boolean> {
  const check = await checkSecondFactor(
    ctx,
    signed.account.subject,
    { code: params.get('code'), recoveryCode: params.get('recovery_code') },
    undefined,
  );
  if (!check.ok) {
    await sendCodePrompt(ctx, request, reply, form, factorPageError(check), passkey);
    return false;
  }
  await stepUpOwnSession(ctx, reply, signed);
  return true;
}

export function gateForm(ctx: ServerContext, user: SignedIn): OwnFactorForm {
  return { action: mfaUrl(ctx, '/verify'), csrfToken: user.csrfToken, username: user.account.username };
}

/** The /mfa gate's passkey form (endpoints/mfa-passkeys.ts). */
export function gatePasskey(ctx: ServerContext, user: SignedIn): OwnPasskeyForm {
  return { action: mfaUrl(ctx, '/passkey/verify'), session: user.session, userId: user.account.subject };
}

/** The /mfa page's passkeys part: the list with a remove form each, and a form adding one. */
async function passkeysPart(ctx: ServerContext, user: SignedIn) {
  if (!webauthnEnabled(ctx)) return undefined;
  const credentials = await ctx.storage.webauthn.listCredentials(user.account.subject);
  return {
    items: credentials.map((credential) => ({
      credentialId: credential.credentialId,
      nickname: credential.nickname,
      createdAt: credential.createdAt,
      lastUsedAt: credential.lastUsedAt,
      synced: credential.backupEligible,
    })),
    removeAction: mfaUrl(ctx, '/passkeys/remove'),
    add: {
      action: mfaUrl(ctx, '/passkeys'),
      csrfToken: user.csrfToken,
      optionsJson: await registrationOptions(ctx, user.account, sessionBinding(user.session.sid)),
    },
  };
}

function neededHere(request: FastifyRequest, hasFactor: boolean): boolean {
  return !hasFactor && toParams((request.query as RawParams | undefined) ?? {}).get('needed') === 'link';
}

/** GET /mfa; `?needed=link` says why a link's page sent the user here. */
export function mfaAccountPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const user = await signedIn(ctx, request);
    const ui = pageUiFor(ctx, request);
    if (user === undefined) {
      sendPage(ctx, reply, 200, ctx.ui.pages.mfaAccount({ signedIn: undefined }, ui));
      return;
    }
    if (user.gated) {
      await sendCodePrompt(ctx, request, reply, gateForm(ctx, user), undefined, gatePasskey(ctx, user));
      return;
    }
    const summary = await factorSummary(ctx, user.account.subject);
    const passkeys = await passkeysPart(ctx, user);
    const pageUi = passkeys === undefined ? ui : scriptUi(ctx, ui);
    sendPage(
      ctx,
      reply,
      200,
      ctx.ui.pages.mfaAccount(
        {
          signedIn: {
            username: user.account.username,
            csrfToken: user.csrfToken,
            totp: summary.totp,
            recoveryCodes: summary.recoveryCodes,
            totpAction: mfaUrl(ctx, '/totp'),
            recoveryAction: mfaUrl(ctx, '/recovery-codes'),
            // Sent here by a link's page (endpoints/link-sign-in.ts) while the account has no factor.
            notice: neededHere(request, summary.any) ? 'mfa.account.neededForLink' : undefined,
            passkeys,
          },
        },
        pageUi,
      ),
      undefined,
      pageUi,
    );
  };
}

/** POST /mfa/verify: a code steps the session up, then back to /mfa. */
export function mfaVerifySubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { user, params } = await submission(ctx, request, true);
    if (
      !(await verifyOwnCode(ctx, request, reply, user, params, gateForm(ctx, user), gatePasskey(ctx, user)))
    )
      return;
    reply.code(303).headers(noStoreHeaders).header('location', mfaUrl(ctx)).send();
  };
}

function renderEnrolment(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: SignedIn,
  enrolment: { secret: string; uri: string },
  error?: PageFormError,
): Promise<void> {
  const form = {
    action: mfaUrl(ctx, '/totp/confirm'),
    csrfToken: user.csrfToken,
    username: user.account.username,
  };
  return sendEnrolment(ctx, request, reply, form, enrolment, error);
}

/** POST /mfa/totp: a new secret to scan; the current authenticator (if any) works until it is confirmed. */
export function mfaTotpStart(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { user } = await submission(ctx, request);
    await renderEnrolment(ctx, request, reply, user, await startTotpEnrolment(ctx, user.account));
  };
}

/** POST /mfa/totp/confirm: the first code confirms the new authenticator; new recovery codes are shown. */
export function mfaTotpConfirm(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { user, params } = await submission(ctx, request);
    const result = await confirmTotpEnrolment(ctx, user.account, params.get('code'), undefined);
    if (!result.ok) {
      const pending = await pendingTotpEnrolment(ctx, user.account);
      if (pending === undefined)
        throw new OAuthError('invalid_request', 'The form has expired. Open the page again.', {
          pageMessage: 'error.formExpired',
        });
      await renderEnrolment(ctx, request, reply, user, pending, factorPageError(result));
      return;
    }
    await sendNewFactorCodes(ctx, request, reply, user, result.recoveryCodes, mfaUrl(ctx));
  };
}

/** POST /mfa/recovery-codes: ten new codes replace the old ones, shown once. */
export function mfaRecoveryCodes(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { user } = await submission(ctx, request);
    if (!(await factorSummary(ctx, user.account.subject)).any)
      throw new OAuthError('invalid_request', 'set up an authenticator first');
    const codes = await regenerateRecoveryCodes(ctx, user.account.subject);
    sendRecoveryCodes(ctx, request, reply, codes, mfaUrl(ctx));
  };
}
