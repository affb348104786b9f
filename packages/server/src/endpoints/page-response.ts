/**
 * Sending a page: the language it is rendered in (the request's `ui_locales`, then `Accept-Language`,
 * then `ui.defaultLocale`; views/i18n.ts) and the theme's security headers (views/html.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { Params } from '../protocol/params.ts';
import { randomHandle } from '../protocol/secrets.ts';
import type { SignInFailure } from '../sessions/login.ts';
import type { SecondFactorFailure } from '../sessions/mfa.ts';
import type { PostedCeremony } from '../sessions/webauthn.ts';
import { type PageUi, scriptHeaders } from '../views/html.ts';
import type { FormError, ScopeGroup } from '../views/pages.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The `ui_locales` of the authorization request this request continues, for its error page too. */
    uiLocales?: readonly string[] | undefined;
  }
}

/**
 * The translator and theme for a page answering `request`, preferring `uiLocales` (OIDC Core §3.1.2.1),
 * which are kept on the request so that an error page later in it speaks the same language.
 */
export function pageUiFor(
  ctx: ServerContext,
  request: FastifyRequest,
  uiLocales?: readonly string[] | undefined,
): PageUi {
  if (uiLocales !== undefined) request.uiLocales = uiLocales;
  return ctx.ui.pageUi(uiLocales, request.headers['accept-language']);
}

/**
 * Sends `html` with the page headers, `status` and, for a throttled request, Retry-After. A page rendered
 * with a script (`scriptUi`) is sent with a CSP that allows that script alone.
 */
export function sendPage(
  ctx: ServerContext,
  reply: FastifyReply,
  status: number,
  html: string,
  retryAfter?: number,
  ui?: PageUi,
): void {
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  const nonce = ui?.script?.nonce;
  const headers = nonce === undefined ? ctx.ui.theme.securityHeaders : scriptHeaders(ctx.ui.theme, nonce);
  reply.code(status).headers(headers).send(html);
}

/** Renders a page (`render`) in the language of `request`, preferring `uiLocales`, and sends it: 200. */
export function renderPage(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  render: (ui: PageUi) => string,
  uiLocales?: readonly string[] | undefined,
): void {
  sendPage(ctx, reply, 200, render(pageUiFor(ctx, request, uiLocales)));
}

/** The username a page shows for the signed-in user `userId` (empty for an account removed meanwhile). */
export async function usernameOf(ctx: ServerContext, userId: string): Promise<string> {
  return (await ctx.accounts.findBySubject(userId))?.username ?? '';
}

/** Where the WebAuthn ceremony's script is served (endpoints/ui-assets.ts). */
export const webauthnScriptPath = '/ui/webauthn.js';

/** `ui` for a page that runs the WebAuthn ceremony's script, with a fresh nonce for this response. */
export function scriptUi(ctx: ServerContext, ui: PageUi): PageUi {
  return { ...ui, script: { src: `${ctx.issuer}${webauthnScriptPath}`, nonce: randomHandle(18) } };
}

/**
 * A failed sign-in as the form shows it: a wrong password is about the password (the username stays), a
 * missing value about the username when that is empty, else the password; a lock or a disabled account is
 * about the whole form.
 */
export function signInError(failure: SignInFailure, username: string | undefined): FormError {
  const field =
    failure.key === 'login.invalid'
      ? 'password'
      : failure.key === 'login.missing'
        ? username === undefined || username === ''
          ? 'username'
          : 'password'
        : undefined;
  return { message: failure, field };
}

/** The requested scopes in words, grouped as the consent sentence lists them: identity first, then per API. */
export function scopeGroups(ctx: ServerContext, scopes: readonly string[]): ScopeGroup[] {
  return ctx.catalog.groupByApi(scopes).map((group) => ({
    api: group.api,
    scopes: group.scopes.map((name) => ({ name, description: ctx.catalog.describe(name) })),
  }));
}

/** A refused second factor as the form shows it: a wrong or missing code is about the code field, a
 * refused passkey or a lock about the whole form. */
export function secondFactorError(failure: SecondFactorFailure): FormError {
  const aboutCode = failure.key === 'mfa.invalid' || failure.key === 'mfa.missing';
  return { message: failure, field: aboutCode ? 'code' : undefined };
}

/** An error shown on a form, with the page's status and, for a throttled attempt, Retry-After. */
export interface PageFormError {
  form: FormError;
  status: number;
  retryAfter?: number | undefined;
}

/** A refused code or passkey (sessions/mfa.ts, sessions/webauthn.ts) as its form shows it. */
export function factorPageError(failure: {
  error: SecondFactorFailure;
  status: number;
  retryAfter?: number | undefined;
}): PageFormError {
  return { form: secondFactorError(failure.error), status: failure.status, retryAfter: failure.retryAfter };
}

/** The fields the ceremony's script posts (views/webauthn-script.ts). */
export function postedCeremony(params: Params): PostedCeremony {
  return { credential: params.get('credential'), error: params.get('webauthn_error') };
}
