/**
 * The login, second-factor and consent pages of a pending authorization (OpenID Connect Core §3.1.2.3,
 * §3.1.2.4). The interaction state and its browser and CSRF checks are in sessions/interaction.ts; consent
 * rules in protocol/authorization-request.ts; when a second factor is needed, sessions/mfa.ts. A session
 * short of the level the request needs is asked for the second factor (or, without one, to enrol a TOTP
 * authenticator) and stepped up in place.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { LoginSession } from '../model.ts';
import {
  acrLevelOf,
  acrSatisfies,
  passwordAmr,
  requiredAcrLevel,
  sessionMeetsLevel,
} from '../protocol/acr.ts';
import { isHintedUser, needsConsent, rememberConsent } from '../protocol/authorization-request.ts';
import { AuthorizationRedirectError, OAuthError } from '../protocol/errors.ts';
import { type RawParams, toParams } from '../protocol/params.ts';
import {
  checkInteractionCsrf,
  completeInteraction,
  interactionSession,
  type LoadedInteraction,
  loadInteraction,
} from '../sessions/interaction.ts';
import { checkPassword, startSession } from '../sessions/login.ts';
import {
  checkSecondFactor,
  confirmTotpEnrolment,
  factorSummary,
  pendingTotpEnrolment,
  startTotpEnrolment,
} from '../sessions/mfa.ts';
import { hintedUpstream, startUpstreamLogin } from '../sessions/upstream.ts';
import {
  authenticationOptions,
  interactionBinding,
  registrationOptions,
  webauthnEnabled,
} from '../sessions/webauthn.ts';
import { qrSvg } from '../views/mfa.ts';
import type { PasskeyFormView } from '../views/webauthn.ts';
import { trustClientSite } from './client-site.ts';
import { browserCookie, readCookie, sessionCookie, setSessionCookie } from './cookies.ts';
import {
  continueAfterSignIn,
  finishEnrolment,
  finishSecondFactor,
  redirectWithCode,
  sessionEnded,
} from './interaction-steps.ts';
import {
  factorPageError,
  type PageFormError,
  pageUiFor,
  renderPage,
  scopeGroups,
  scriptUi,
  sendPage,
  signInError,
  usernameOf,
} from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

/** The interaction of the request's path, for this browser; error pages speak its language from here on. */
export async function loadFor(ctx: ServerContext, request: FastifyRequest): Promise<LoadedInteraction> {
  const { id } = request.params as { id: string };
  const loaded = await loadInteraction(ctx, id, readCookie(request.headers.cookie, browserCookie));
  // From here on an error page may link back to the client: its redirect URI was verified at /authorize;
  // and it speaks the language the request asked for.
  trustClientSite(request, loaded.client, loaded.interaction.request.redirectUri);
  request.uiLocales = loaded.interaction.request.uiLocales;
  return loaded;
}

/** The interaction a form was posted to and the form's fields, once its CSRF token has been checked. */
export async function loadSubmission(ctx: ServerContext, request: FastifyRequest) {
  const loaded = await loadFor(ctx, request);
  const params = formParams(request);
  checkInteractionCsrf(loaded.interaction, params.get('csrf'));
  return { loaded, params };
}

function sessionOf(ctx: ServerContext, request: FastifyRequest, loaded: LoadedInteraction) {
  return interactionSession(ctx, loaded.interaction, readCookie(request.headers.cookie, sessionCookie));
}

function formParams(request: FastifyRequest) {
  return toParams((request.body as RawParams | undefined) ?? {});
}

/**
 * The login page; with passkey-first sign-in (`webauthn.passkeyFirst`) it also runs the ceremony for any
 * discoverable credential, with a challenge bound to this interaction (sessions/webauthn.ts).
 */
export async function renderLogin(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  username: string | undefined,
  error?: PageFormError,
): Promise<void> {
  const base = `${ctx.issuer}/interaction/${loaded.interaction.id}`;
  let ui = pageUiFor(ctx, request, loaded.interaction.request.uiLocales);
  let passkey: PasskeyFormView | undefined;
  if (webauthnEnabled(ctx, true)) {
    ui = scriptUi(ctx, ui);
    passkey = {
      action: `${base}/passkey-login`,
      csrfToken: loaded.interaction.csrfToken,
      optionsJson: (await authenticationOptions(ctx, interactionBinding(loaded.interaction.id), null))!,
    };
  }
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.login(
      {
        action: `${base}/login`,
        csrfToken: loaded.interaction.csrfToken,
        clientName: loaded.client.name,
        username,
        error: error?.form,
        upstreams: ctx.upstreams.forClient(loaded.client).map(({ config }) => ({
          name: config.name,
          action: `${base}/upstream/${config.id}`,
        })),
        passkey,
      },
      ui,
    ),
    error?.retryAfter,
    ui,
  );
}

async function renderConsent(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  session: LoginSession,
): Promise<void> {
  const username = await usernameOf(ctx, session.userId);
  renderPage(
    ctx,
    request,
    reply,
    (ui) =>
      ctx.ui.pages.consent(
        {
          action: `${ctx.issuer}/interaction/${loaded.interaction.id}/consent`,
          csrfToken: loaded.interaction.csrfToken,
          clientName: loaded.client.name,
          username,
          groups: scopeGroups(ctx, loaded.interaction.request.scopes),
        },
        ui,
      ),
    loaded.interaction.request.uiLocales,
  );
}

/** True when this interaction's sign-in needs a second factor the session does not have yet. */
async function secondFactorMissing(
  ctx: ServerContext,
  loaded: LoadedInteraction,
  session: LoginSession,
  account: Account | undefined,
): Promise<boolean> {
  const level = requiredAcrLevel(ctx.config, loaded.client, loaded.interaction.request, account?.roles);
  return !sessionMeetsLevel(session, level);
}

/**
 * The second-factor step: the code prompt and the account's passkeys when it has a factor, else the
 * enrolment of a TOTP authenticator (a pending secret is shown again rather than replaced, so a reload keeps
 * the QR code already scanned) or of a passkey. Passkey forms carry a challenge bound to this interaction.
 */
async function renderSecondFactor(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  account: Account,
  error?: PageFormError,
): Promise<void> {
  let ui = pageUiFor(ctx, request, loaded.interaction.request.uiLocales);
  const base = `${ctx.issuer}/interaction/${loaded.interaction.id}`;
  const binding = interactionBinding(loaded.interaction.id);
  const common = {
    csrfToken: loaded.interaction.csrfToken,
    clientName: loaded.client.name,
    username: account.username,
    error: error?.form,
  };
  const summary = await factorSummary(ctx, account.subject);
  let passkey: PasskeyFormView | undefined;
  if (summary.any) {
    const optionsJson =
      summary.passkeys > 0 ? await authenticationOptions(ctx, binding, account.subject) : undefined;
    if (optionsJson !== undefined) {
      ui = scriptUi(ctx, ui);
      passkey = { action: `${base}/passkey`, csrfToken: loaded.interaction.csrfToken, optionsJson };
    }
    sendPage(
      ctx,
      reply,
      error?.status ?? 200,
      ctx.ui.pages.mfa({ ...common, action: `${base}/mfa`, totp: summary.totp, passkey }, ui),
      error?.retryAfter,
      ui,
    );
    return;
  }
  if (webauthnEnabled(ctx)) {
    ui = scriptUi(ctx, ui);
    passkey = {
      action: `${base}/passkey/enrol`,
      csrfToken: loaded.interaction.csrfToken,
      optionsJson: await registrationOptions(ctx, account, binding),
    };
  }
  const enrolment = (await pendingTotpEnrolment(ctx, account)) ?? (await startTotpEnrolment(ctx, account));
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.mfaEnrol(
      { ...common, action: `${base}/enrol`, ...enrolment, qrSvg: await qrSvg(enrolment.uri), passkey },
      ui,
    ),
    error?.retryAfter,
    ui,
  );
}

export function interactionPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const loaded = await loadFor(ctx, request);
    const session = await sessionOf(ctx, request, loaded);
    if (session === undefined) {
      // An `idp` parameter or a login_hint domain naming one of the client's upstreams skips the chooser.
      const hinted = hintedUpstream(ctx, loaded);
      if (hinted !== undefined) {
        const location = await startUpstreamLogin(ctx, loaded, hinted.config.id);
        reply.code(303).headers(noStoreHeaders).header('location', location).send();
        return;
      }
      await renderLogin(ctx, request, reply, loaded, loaded.interaction.request.loginHint);
      return;
    }
    const account = await ctx.accounts.findBySubject(session.userId);
    if (account === undefined) throw sessionEnded();
    if (await secondFactorMissing(ctx, loaded, session, account)) {
      await renderSecondFactor(ctx, request, reply, loaded, account);
      return;
    }
    // After a second factor (or the recovery codes page) nothing may be left to ask: finish here.
    if (!(await needsConsent(ctx, loaded.client, loaded.interaction.request, session.userId))) {
      await completeInteraction(ctx, loaded.interaction);
      await redirectWithCode(ctx, reply, loaded, session);
      return;
    }
    await renderConsent(ctx, request, reply, loaded, session);
  };
}

/** The session and account a second-factor form is posted for, with the session value the browser holds. */
async function factorSubmission(ctx: ServerContext, request: FastifyRequest) {
  const { loaded, params } = await loadSubmission(ctx, request);
  const sessionValue = readCookie(request.headers.cookie, sessionCookie);
  const session = await sessionOf(ctx, request, loaded);
  if (session === undefined || sessionValue === undefined) throw sessionEnded();
  const account = await ctx.accounts.findBySubject(session.userId);
  if (account === undefined) throw sessionEnded();
  return { loaded, params, session, sessionValue, account };
}

/** What a second-factor check answers: success, or why not (rendered with the prompt again). */
type FactorOutcome = { ok: true } | FactorRefused;
type FactorRefused = { ok: false } & Parameters<typeof factorPageError>[0];

/**
 * A second factor posted during sign-in: `check` decides on the submission; on success the session steps
 * up with `method` in `amr`, otherwise the prompt comes back with the error.
 */
export function secondFactorPost(
  ctx: ServerContext,
  method: 'otp' | 'hwk',
  check: (submission: Awaited<ReturnType<typeof factorSubmission>>) => Promise<FactorOutcome>,
) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const submission = await factorSubmission(ctx, request);
    const { loaded, session, sessionValue, account } = submission;
    const outcome = await check(submission);
    if (!outcome.ok) {
      await renderSecondFactor(ctx, request, reply, loaded, account, factorPageError(outcome));
      return;
    }
    await finishSecondFactor(ctx, reply, loaded, { session, sessionValue, account }, method);
  };
}

/** POST /interaction/:id/mfa: a TOTP code (RFC 6238) or a recovery code steps the session up. */
export function secondFactorSubmit(ctx: ServerContext) {
  return secondFactorPost(ctx, 'otp', ({ loaded, params, account }) =>
    checkSecondFactor(
      ctx,
      account.subject,
      { code: params.get('code'), recoveryCode: params.get('recovery_code') },
      loaded.client.clientId,
    ),
  );
}

/** What an enrolment answers: the new recovery codes, or why not (rendered with the prompt again). */
type EnrolmentOutcome = { ok: true; recoveryCodes: string[] } | FactorRefused;

/**
 * A factor enrolled during sign-in by an account without one (`alreadySet` describes the refusal for an
 * account that has one: it proves it here; replacing it is the signed-in /mfa page's). `enrol` decides on
 * the submission; on success the session steps up with `method` in `amr` and the recovery codes are shown
 * once, with a link back to the sign-in; otherwise the prompt comes back with the error.
 */
export function enrolmentPost(
  ctx: ServerContext,
  method: 'otp' | 'hwk',
  alreadySet: string,
  enrol: (submission: Awaited<ReturnType<typeof factorSubmission>>) => Promise<EnrolmentOutcome>,
) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const submission = await factorSubmission(ctx, request);
    const { loaded, session, sessionValue, account } = submission;
    if ((await factorSummary(ctx, account.subject)).any)
      throw new OAuthError('invalid_request', alreadySet, { pageMessage: 'error.formExpired' });
    const result = await enrol(submission);
    if (!result.ok) {
      await renderSecondFactor(ctx, request, reply, loaded, account, factorPageError(result));
      return;
    }
    await finishEnrolment(
      ctx,
      request,
      reply,
      loaded,
      { session, sessionValue },
      method,
      result.recoveryCodes,
    );
  };
}

/**
 * POST /interaction/:id/enrol: the first code of a TOTP authenticator enrolled during sign-in confirms it
 * (`enrolmentPost`).
 */
export function enrolmentSubmit(ctx: ServerContext) {
  return enrolmentPost(
    ctx,
    'otp',
    'an authenticator is already set up for this account',
    ({ loaded, params, account }) =>
      confirmTotpEnrolment(ctx, account, params.get('code'), loaded.client.clientId),
  );
}

export function loginSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { loaded, params } = await loadSubmission(ctx, request);
    const username = params.get('username');
    const check = await checkPassword(ctx, {
      username,
      password: params.get('password'),
      clientId: loaded.client.clientId,
      browserValue: readCookie(request.headers.cookie, browserCookie),
      address: request.ip,
    });
    if ('error' in check) {
      await renderLogin(ctx, request, reply, loaded, username?.slice(0, 256), {
        form: signInError(check.error, username),
        status: check.status,
        ...('retryAfter' in check ? { retryAfter: check.retryAfter } : {}),
      });
      return;
    }
    await finishSignIn(ctx, request, reply, loaded, check.user, passwordAmr);
  };
}

/**
 * The account `user` signed in with `amr` (a password, or a passkey alone): unless the request hints at
 * another account, a session starts (or the browser's is renewed), and the sign-in goes on to the second
 * factor when its level falls short of the one required, to consent, or back to the client.
 */
export async function finishSignIn(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  user: Account,
  amr: readonly string[],
): Promise<void> {
  // OpenID Connect Core §3.1.2.1: with an id_token_hint, only the hinted user may finish this sign-in.
  if (!isHintedUser(loaded.interaction.request, user.subject)) {
    await renderLogin(ctx, request, reply, loaded, undefined, {
      form: { message: { key: 'login.otherAccount' }, field: 'username' },
      status: 400,
    });
    return;
  }
  // When the sign-in needs more than `amr` gives, the interaction page asks for the second factor next
  // (protocol/acr.ts).
  const factorNeeded = !acrSatisfies(
    acrLevelOf(amr),
    requiredAcrLevel(ctx.config, loaded.client, loaded.interaction.request, user.roles),
  );
  // Without a consent or second-factor step this login finishes the interaction: claim it before starting
  // a session, so a concurrent second submission of the form starts no session and sets no cookie.
  const consentNeeded = await needsConsent(ctx, loaded.client, loaded.interaction.request, user.subject);
  if (!consentNeeded && !factorNeeded) await completeInteraction(ctx, loaded.interaction);
  const started = await startSession(
    ctx,
    readCookie(request.headers.cookie, sessionCookie),
    user,
    loaded.client.clientId,
    [...amr],
  );
  setSessionCookie(reply, started.sessionValue, ctx.config.login.sessionTtl);
  await ctx.storage.interactions.attachSession(loaded.interaction.id, started.session.sid);
  await continueAfterSignIn(ctx, reply, loaded, started.session, consentNeeded || factorNeeded);
}

export function consentSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { loaded, params } = await loadSubmission(ctx, request);
    const session = await sessionOf(ctx, request, loaded);
    if (session === undefined) throw sessionEnded();
    // Consent is given by a session that reached the level the request needs, never before.
    const account = await ctx.accounts.findBySubject(session.userId);
    if (account === undefined || (await secondFactorMissing(ctx, loaded, session, account)))
      throw sessionEnded();
    const { request: authorization } = loaded.interaction;
    const decision = params.get('decision');
    if (decision === 'deny') {
      await completeInteraction(ctx, loaded.interaction);
      ctx.audit('consent_denied', { user_id: session.userId, client_id: loaded.client.clientId });
      throw new AuthorizationRedirectError(
        'access_denied',
        'the user denied the request',
        authorization.redirectUri,
        authorization.state,
      );
    }
    if (decision !== 'allow')
      throw new OAuthError('invalid_request', 'Choose Allow or Deny.', {
        pageMessage: 'error.chooseAllowDeny',
      });
    await rememberConsent(ctx, session.userId, loaded.client.clientId, authorization.scopes, ctx.now());
    ctx.audit('consent_granted', {
      user_id: session.userId,
      client_id: loaded.client.clientId,
      scope: authorization.scopes.join(' '),
    });
    await completeInteraction(ctx, loaded.interaction);
    await redirectWithCode(ctx, reply, loaded, session);
  };
}
