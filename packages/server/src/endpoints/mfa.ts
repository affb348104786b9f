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
import { type RawParams, toParams } from '../protocol/params.ts';
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
import type { FormError } from '../views/pages.ts';
import { readCookie, sessionCookie, setSessionCookie } from './cookies.ts';
import { pageUiFor, scriptUi, sendPage } from './page-response.ts';
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

/** The page asking a gated session for its factor: a code, a recovery code or one of its passkeys. */
export async function renderGate(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: SignedIn,
  error?: { form: FormError; status: number; retryAfter?: number },
): Promise<void> {
  let ui = pageUiFor(ctx, request);
  const summary = await factorSummary(ctx, user.account.subject);
  const optionsJson =
    summary.passkeys > 0
      ? await authenticationOptions(ctx, sessionBinding(user.session.sid), user.account.subject)
      : undefined;
  if (optionsJson !== undefined) ui = scriptUi(ctx, ui);
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.mfa(
      {
        action: mfaUrl(ctx, '/verify'),
        csrfToken: user.csrfToken,
        clientName: undefined,
        username: user.account.username,
        error: error?.form,
        totp: summary.totp,
        passkey:
          optionsJson === undefined
            ? undefined
            : { action: mfaUrl(ctx, '/passkey/verify'), csrfToken: user.csrfToken, optionsJson },
      },
      ui,
    ),
    error?.retryAfter,
    ui,
  );
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

/** GET /mfa */
export function mfaAccountPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const user = await signedIn(ctx, request);
    const ui = pageUiFor(ctx, request);
    if (user === undefined) {
      sendPage(ctx, reply, 200, ctx.ui.pages.mfaAccount({ signedIn: undefined }, ui));
      return;
    }
    if (user.gated) {
      await renderGate(ctx, request, reply, user);
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
    const check = await checkSecondFactor(
      ctx,
      user.account.subject,
      { code: params.get('code'), recoveryCode: params.get('recovery_code') },
      undefined,
    );
    if (!check.ok) {
      await renderGate(ctx, request, reply, user, {
        form: { message: check.error, field: check.error.key === 'login.throttled' ? undefined : 'code' },
        status: check.status,
        ...(check.retryAfter === undefined ? {} : { retryAfter: check.retryAfter }),
      });
      return;
    }
    const stepped = await stepUpSession(ctx, user.sessionValue, user.session, randomHandle(), undefined);
    if (stepped !== undefined) setSessionCookie(reply, stepped.sessionValue, ctx.config.login.sessionTtl);
    reply.code(303).headers(noStoreHeaders).header('location', mfaUrl(ctx)).send();
  };
}

async function renderEnrolment(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: SignedIn,
  enrolment: { secret: string; uri: string },
  error?: { form: FormError; status: number; retryAfter?: number },
): Promise<void> {
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.mfaEnrol(
      {
        action: mfaUrl(ctx, '/totp/confirm'),
        csrfToken: user.csrfToken,
        clientName: undefined,
        username: user.account.username,
        ...enrolment,
        qrSvg: await qrSvg(enrolment.uri),
        error: error?.form,
      },
      pageUiFor(ctx, request),
    ),
    error?.retryAfter,
  );
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
      await renderEnrolment(ctx, request, reply, user, pending, {
        form: { message: result.error, field: result.error.key === 'login.throttled' ? undefined : 'code' },
        status: result.status,
        ...(result.retryAfter === undefined ? {} : { retryAfter: result.retryAfter }),
      });
      return;
    }
    // The session has just shown the new factor: it is at the mfa level now.
    const stepped = await stepUpSession(ctx, user.sessionValue, user.session, randomHandle(), undefined);
    if (stepped !== undefined) setSessionCookie(reply, stepped.sessionValue, ctx.config.login.sessionTtl);
    sendPage(
      ctx,
      reply,
      200,
      ctx.ui.pages.recoveryCodes(
        { codes: result.recoveryCodes, continueUrl: mfaUrl(ctx) },
        pageUiFor(ctx, request),
      ),
    );
  };
}

/** POST /mfa/recovery-codes: ten new codes replace the old ones, shown once. */
export function mfaRecoveryCodes(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { user } = await submission(ctx, request);
    if (!(await factorSummary(ctx, user.account.subject)).any)
      throw new OAuthError('invalid_request', 'set up an authenticator first');
    const codes = await regenerateRecoveryCodes(ctx, user.account.subject);
    sendPage(
      ctx,
      reply,
      200,
      ctx.ui.pages.recoveryCodes({ codes, continueUrl: mfaUrl(ctx) }, pageUiFor(ctx, request)),
    );
  };
}
