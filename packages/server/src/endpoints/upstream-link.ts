/**
 * The link page of an upstream identity that has no account here yet (sessions/upstream-link.ts):
 * `GET /interaction/{id}/link` shows the password form (the account offered for a verified e-mail filled
 * in), `POST /interaction/{id}/link` checks the password, and `POST /interaction/{id}/link/mfa` (a TOTP or
 * recovery code) or `/link/passkey` the second factor of an account that has one; then the link is stored and the sign-in goes on as an upstream
 * sign-in would (endpoints/upstream.ts). Forms carry the interaction's CSRF token.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { LoadedInteraction } from '../sessions/interaction.ts';
import { factorSummary } from '../sessions/mfa.ts';
import {
  type LinkRefused,
  type PendingLinkState,
  pendingLink,
  proveFactor,
  provePasskey,
  provePassword,
} from '../sessions/upstream-link.ts';
import { authenticationOptions, interactionBinding, webauthnEnabled } from '../sessions/webauthn.ts';
import type { FormError } from '../views/pages.ts';
import { browserCookie, readCookie } from './cookies.ts';
import { loadFor, loadSubmission } from './interaction.ts';
import {
  factorPageError,
  pageUiFor,
  postedCeremony,
  scriptUi,
  sendPage,
  signInError,
} from './page-response.ts';
import { startUpstreamSession } from './upstream.ts';

interface PageError {
  form: FormError;
  status: number;
  retryAfter?: number | undefined;
}

/** A form page: 200, or the status (and Retry-After) of the error it shows. */
function sendFormPage(ctx: ServerContext, reply: FastifyReply, html: string, error: PageError | undefined) {
  sendPage(ctx, reply, error?.status ?? 200, html, error?.retryAfter);
}

function renderLink(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  state: PendingLinkState,
  username: string | undefined,
  error?: PageError,
): void {
  sendFormPage(
    ctx,
    reply,
    ctx.ui.pages.upstreamLink(
      {
        action: `${ctx.issuer}/interaction/${loaded.interaction.id}/link`,
        csrfToken: loaded.interaction.csrfToken,
        clientName: loaded.client.name,
        providerName: state.config.name,
        emailOffered: state.offered !== undefined,
        existingOnly: state.config.provisioning === 'existing-only',
        username: username ?? state.offered?.username,
        error: error?.form,
      },
      pageUiFor(ctx, request, loaded.interaction.request.uiLocales),
    ),
    error,
  );
}

/**
 * The second-factor form of the proven account: its TOTP or recovery code, and its passkeys (a ceremony
 * bound to the interaction, run by the page's one script) when it has some.
 */
async function renderFactor(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  account: Account,
  error?: PageError,
): Promise<void> {
  const base = `${ctx.issuer}/interaction/${loaded.interaction.id}/link`;
  let ui = pageUiFor(ctx, request, loaded.interaction.request.uiLocales);
  const summary = await factorSummary(ctx, account.subject);
  const optionsJson =
    summary.passkeys > 0
      ? await authenticationOptions(ctx, interactionBinding(loaded.interaction.id), account.subject)
      : undefined;
  if (optionsJson !== undefined) ui = scriptUi(ctx, ui);
  const view = {
    action: `${base}/mfa`,
    csrfToken: loaded.interaction.csrfToken,
    clientName: loaded.client.name,
    username: account.username,
    error: error?.form,
    totp: summary.totp,
    passkey:
      optionsJson === undefined
        ? undefined
        : { action: `${base}/passkey`, csrfToken: loaded.interaction.csrfToken, optionsJson },
  };
  sendPage(ctx, reply, error?.status ?? 200, ctx.ui.pages.mfa(view, ui), error?.retryAfter, ui);
}

function pageError(step: LinkRefused<unknown>, form: FormError): PageError {
  return { form, status: step.status, retryAfter: step.retryAfter };
}

/** GET /interaction/:id/link: the password form, or the second factor once the password was proven. */
export function upstreamLinkPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const loaded = await loadFor(ctx, request);
    const state = await pendingLink(ctx, loaded);
    if (state.proven !== undefined) await renderFactor(ctx, request, reply, loaded, state.proven);
    else renderLink(ctx, request, reply, loaded, state, undefined);
  };
}

/** POST /interaction/:id/link: the password of the account to link. */
export function upstreamLinkSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { loaded, params } = await loadSubmission(ctx, request);
    const state = await pendingLink(ctx, loaded);
    const username = params.get('username');
    const step = await provePassword(ctx, loaded, state, {
      username,
      password: params.get('password'),
      clientId: loaded.client.clientId,
      browserValue: readCookie(request.headers.cookie, browserCookie),
      address: request.ip,
    });
    if ('error' in step) {
      const { error } = step;
      const form =
        error.key === 'login.otherAccount'
          ? { message: error, field: 'username' }
          : signInError(error, username);
      renderLink(ctx, request, reply, loaded, state, username?.slice(0, 256), pageError(step, form));
      return;
    }
    if ('factor' in step) {
      await renderFactor(ctx, request, reply, loaded, step.factor);
      return;
    }
    await startUpstreamSession(ctx, request, reply, loaded, step.linked);
  };
}

/** POST /interaction/:id/link/mfa: the second factor of the account whose password was proven. */
export function upstreamLinkFactorSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { loaded, params } = await loadSubmission(ctx, request);
    const state = await pendingLink(ctx, loaded);
    const step = await proveFactor(ctx, loaded, state, {
      code: params.get('code'),
      recoveryCode: params.get('recovery_code'),
    });
    if ('error' in step) {
      await renderFactor(ctx, request, reply, loaded, state.proven!, factorPageError(step));
      return;
    }
    await startUpstreamSession(ctx, request, reply, loaded, step.linked);
  };
}

/** POST /interaction/:id/link/passkey: one of the proven account's passkeys as the second factor. */
export function upstreamLinkPasskeySubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!webauthnEnabled(ctx))
      throw new OAuthError('invalid_request', 'passkeys are not enabled on this server');
    const { loaded, params } = await loadSubmission(ctx, request);
    const state = await pendingLink(ctx, loaded);
    const step = await provePasskey(ctx, loaded, state, postedCeremony(params));
    if ('error' in step) {
      await renderFactor(ctx, request, reply, loaded, state.proven!, factorPageError(step));
      return;
    }
    await startUpstreamSession(ctx, request, reply, loaded, step.linked);
  };
}
