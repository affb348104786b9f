/**
 * Logout: GET and POST /end_session (OpenID Connect RP-Initiated Logout 1.0) and its confirmation form.
 * The rules are in sessions/rp-initiated-logout.ts, ending the session in sessions/logout.ts, continuing at
 * an upstream provider in sessions/upstream-logout.ts. The session
 * cookie is SameSite=Lax, so an RP's cross-site form POST arrives without it: such a POST gets a 303 to the
 * same request as a GET (a top-level navigation carries Lax cookies) rather than finding no session; a GET
 * never redirects to itself. Logging out twice is not an error (§4). Parameters are bounded as at /authorize
 * (`requestParameters`), and the repeated GET carries only the parameters of §2, so `Location` stays short.
 */

import { constantTimeEqual, readCookie as readCookieValue } from '@gatehouse/jose-rules';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { LoginSession } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import { checkParameterLengths, type Params, type RawParams, toParams } from '../protocol/params.ts';
import { createRedirectUrl } from '../protocol/redirect-uri.ts';
import { randomHandle } from '../protocol/secrets.ts';
import { findSession } from '../sessions/login.ts';
import {
  hintNamesSession,
  type LogoutTarget,
  logoutCsrfToken,
  resolveLogoutTarget,
  validateLogoutRequest,
} from '../sessions/rp-initiated-logout.ts';
import { upstreamEndSessionUrl } from '../sessions/upstream-logout.ts';
import { parseUiLocales } from '../views/i18n.ts';
import { clearCookie, readCookie, serializeCookie, sessionCookie } from './cookies.ts';
import { pageUiFor, renderPage, sendPage, usernameOf } from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

/** The parameters of a logout request (§2), the only ones a cookie-less POST repeats as a GET. */
const logoutParameters = [
  'id_token_hint',
  'logout_hint',
  'client_id',
  'post_logout_redirect_uri',
  'state',
  'ui_locales',
];

/** The query's parameters, or the form's for `POST`, once their lengths are checked. */
function requestParams(ctx: ServerContext, request: FastifyRequest): { raw: RawParams; params: Params } {
  const raw = ((request.method === 'POST' ? request.body : request.query) as RawParams | undefined) ?? {};
  checkParameterLengths(raw, ctx.config.requestParameters);
  return { raw, params: toParams(raw) };
}

/** Sends the user back to the client (with state) or shows the signed-out page in the request's language. */
function finishLogout(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  target: LogoutTarget,
  uiLocales: string | undefined,
): void {
  if (readCookie(request.headers.cookie, sessionCookie) !== undefined)
    reply.header('set-cookie', clearCookie(sessionCookie, 'Lax'));
  if (target.redirectUri !== undefined) {
    reply
      .code(303)
      .headers(noStoreHeaders)
      .header('location', createRedirectUrl(target.redirectUri, { state: target.state }))
      .send();
    return;
  }
  sendPage(ctx, reply, 200, ctx.ui.pages.loggedOut({}, pageUiFor(ctx, request, parseUiLocales(uiLocales))));
}

/** The rest of a logout that went on to an upstream provider, kept in the browser for the way back. */
interface PendingLogout {
  /** The `state` sent to the upstream; the way back must carry it. */
  state: string;
  clientId: string | undefined;
  redirectUri: string | undefined;
  clientState: string | undefined;
  uiLocales: string | undefined;
}

const pendingLogoutName = '__Host-gh-upstream-logout';

function pendingLogoutCookie(pending: PendingLogout): string {
  const value = Buffer.from(JSON.stringify(pending)).toString('base64url');
  return serializeCookie(pendingLogoutName, value, { sameSite: 'Lax', maxAge: 600 });
}

function readPendingLogout(header: string | undefined): PendingLogout | undefined {
  const value = readCookieValue(header, pendingLogoutName, /^[A-Za-z0-9_-]{1,4000}$/);
  if (value === undefined) return undefined;
  try {
    const pending = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Record<string, unknown>;
    const text = (name: string) =>
      typeof pending[name] === 'string' ? (pending[name] as string) : undefined;
    const state = text('state');
    if (state === undefined) return undefined;
    return {
      state,
      clientId: text('clientId'),
      redirectUri: text('redirectUri'),
      clientState: text('clientState'),
      uiLocales: text('uiLocales'),
    };
  } catch {
    return undefined;
  }
}

/**
 * Ends the session, then, when it came from an upstream that is to be signed out of too, sends the browser
 * there (sessions/upstream-logout.ts) with the rest of this logout in a short-lived cookie for the way back
 * (`upstreamLoggedOut` below); otherwise finishes here.
 */
async function endAndFinish(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  session: LoginSession,
  target: LogoutTarget,
  uiLocales: string | undefined,
): Promise<void> {
  const state = randomHandle();
  const upstream = await upstreamEndSessionUrl(ctx, session.sid, state);
  await ctx.logout.endSession(session, target.client?.clientId, ctx.audit);
  if (upstream === undefined) {
    finishLogout(ctx, request, reply, target, uiLocales);
    return;
  }
  const pending = pendingLogoutCookie({
    state,
    clientId: target.redirectUri === undefined ? undefined : target.client?.clientId,
    redirectUri: target.redirectUri,
    clientState: target.state,
    uiLocales,
  });
  reply
    .code(303)
    .headers(noStoreHeaders)
    .header('set-cookie', [clearCookie(sessionCookie, 'Lax'), pending])
    .header('location', upstream.href)
    .send();
}

/**
 * Where Cancel on the confirmation goes, signing nobody out: the site of the client that asked (the origin
 * of its registered post-logout URI, which carries no logout outcome), else the issuer's start page.
 */
function cancelUrl(ctx: ServerContext, target: LogoutTarget): string {
  if (target.redirectUri !== undefined) {
    const url = new URL(target.redirectUri);
    if (url.protocol === 'https:' || url.protocol === 'http:') return `${url.origin}/`;
  }
  return `${ctx.issuer}/`;
}

export function endSessionEndpoints(ctx: ServerContext) {
  async function endSession(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { raw, params } = requestParams(ctx, request);
    const cookie = readCookie(request.headers.cookie, sessionCookie);
    if (request.method === 'POST' && cookie === undefined) {
      // A cross-site POST carries no SameSite=Lax cookie: repeat the request as a top-level GET.
      const query = new URLSearchParams();
      for (const name of logoutParameters) for (const value of raw[name] ?? []) query.append(name, value);
      const suffix = query.size > 0 ? `?${query.toString()}` : '';
      reply
        .code(303)
        .headers(noStoreHeaders)
        .header('location', `${ctx.endpoints.endSession}${suffix}`)
        .send();
      return;
    }

    const { target, hint } = await validateLogoutRequest(ctx, {
      idTokenHint: params.get('id_token_hint'),
      clientId: params.get('client_id'),
      postLogoutRedirectUri: params.get('post_logout_redirect_uri'),
      state: params.get('state'),
    });
    const session = await findSession(ctx, cookie);
    if (session === undefined || cookie === undefined) {
      finishLogout(ctx, request, reply, target, params.get('ui_locales'));
      return;
    }
    if (hintNamesSession(hint, session)) {
      await endAndFinish(ctx, request, reply, session, target, params.get('ui_locales'));
      return;
    }

    const username = await usernameOf(ctx, session.userId);
    const uiLocales = parseUiLocales(params.get('ui_locales'));
    renderPage(
      ctx,
      request,
      reply,
      (ui) =>
        ctx.ui.pages.logoutConfirm(
          {
            action: `${ctx.endpoints.endSession}/confirm`,
            csrfToken: logoutCsrfToken(cookie),
            username,
            returnTo: target.redirectUri === undefined ? undefined : target.client?.name,
            cancelUrl: cancelUrl(ctx, target),
            fields: {
              client_id: target.redirectUri === undefined ? undefined : target.client?.clientId,
              post_logout_redirect_uri: target.redirectUri,
              state: target.state,
              // The signed-out page after the confirmation speaks the same language.
              ui_locales: uiLocales?.join(' '),
            },
          },
          ui,
        ),
      uiLocales,
    );
  }

  async function confirm(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { params } = requestParams(ctx, request);
    const cookie = readCookie(request.headers.cookie, sessionCookie);
    const target = await resolveLogoutTarget(
      ctx,
      params.get('client_id'),
      params.get('post_logout_redirect_uri'),
      params.get('state'),
    );
    if (cookie === undefined) {
      // No session cookie: nothing this browser could sign out of.
      finishLogout(ctx, request, reply, target, params.get('ui_locales'));
      return;
    }
    const submitted = params.get('csrf');
    if (submitted === undefined || !constantTimeEqual(submitted, logoutCsrfToken(cookie))) {
      throw new OAuthError(
        'invalid_request',
        'The sign-out form has expired. Go back to the application and sign out again.',
        { status: 403, pageMessage: 'error.logoutFormExpired' },
      );
    }
    const session = await findSession(ctx, cookie);
    if (session !== undefined) {
      await endAndFinish(ctx, request, reply, session, target, params.get('ui_locales'));
      return;
    }
    finishLogout(ctx, request, reply, target, params.get('ui_locales'));
  }

  /**
   * GET /upstream/{upstream}/logged-out: back from the upstream's logout. With the pending logout's cookie
   * and its `state`, the logout finishes as it would have here (the target checked again: a registered
   * post-logout URI of the client); otherwise the signed-out page. Either way the user is signed out here.
   */
  async function upstreamLoggedOut(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { params } = requestParams(ctx, request);
    const pending = readPendingLogout(request.headers.cookie);
    const state = params.get('state');
    const matches = pending !== undefined && state !== undefined && constantTimeEqual(state, pending.state);
    const target = matches
      ? await resolveLogoutTarget(ctx, pending.clientId, pending.redirectUri, pending.clientState)
      : { client: undefined, redirectUri: undefined, state: undefined };
    if (pending !== undefined) reply.header('set-cookie', clearCookie(pendingLogoutName, 'Lax'));
    finishLogout(ctx, request, reply, target, pending?.uiLocales);
  }

  return { endSession, confirm, upstreamLoggedOut };
}
