/**
 * Logout: GET and POST /end_session (OpenID Connect RP-Initiated Logout 1.0) and the confirmation form it
 * may show (POST /end_session/confirm). Ending a session also revokes what it granted and notifies the
 * clients that took part in it (OpenID Connect Back-Channel Logout 1.0; see logout/backchannel.ts).
 *
 * Parameters (RP-Initiated Logout §2): `id_token_hint` (an ID token we issued; verified by signature with
 * a key we publish, `iss` and `aud`, but an expired one is accepted, §2), `client_id`, `logout_hint`,
 * `post_logout_redirect_uri`, `state`, `ui_locales` (ignored: pages are English only). Duplicated
 * parameters are refused with an error page.
 *
 * Validation (§4): whatever fails to validate is treated as not supplied, never as a server error:
 * - an unverifiable hint (garbage, another issuer, an access token, an unknown key) counts as absent;
 * - `client_id` that differs from the hint's audience: both are dropped (the request does not say which
 *   client it comes from), so the user is asked to confirm and is never redirected;
 * - `post_logout_redirect_uri` is used only when a client is identified (by the hint or `client_id`) and the
 *   URI is, by simple string comparison (§3), one of the client's registered `postLogoutRedirectUris`;
 *   otherwise the user sees the signed-out page. We never redirect to an unregistered URI, nor to a
 *   registered one that breaks the redirect URI rules (protocol/redirect-uri.ts: absolute, no fragment,
 *   http only on loopback, no javascript:/data:/file:); registration checks these too, this is defence in
 *   depth for records written by other means. `state` is returned only on that redirect.
 * - `logout_hint` is accepted but selects nothing: a browser holds at most one session here, and an
 *   unverifiable hint can never make a logout happen without the user's confirmation.
 *
 * Decision: with a verified hint naming the browser's current session (same `sid`; same `sub` if a hint had
 * no sid) the session ends at once. Otherwise, while the browser has a live session, the user is asked
 * "Sign out of Gatehouse?" (§2: the OP SHOULD ask when the hint is missing or does not match), so a
 * cross-site link cannot sign anyone out. Without a live session there is nothing to end; the request
 * completes at once (§4: logging out twice is not an error).
 *
 * Confirmation CSRF: the form carries SHA-256("gatehouse logout csrf:" || session cookie value). The session
 * cookie is a 256-bit secret the page's origin never exposes (HttpOnly) and another site cannot read, so
 * nobody but this browser can compute the token; it dies with the session (a new sign-in gives a new
 * cookie), needs no server-side state, and the domain separation keeps it distinct from the cookie hash
 * stored as the session key. The form re-sends only fields already validated (client_id,
 * post_logout_redirect_uri, state), and they are validated again on submit.
 *
 * SameSite: the session cookie is SameSite=Lax, so a browser does not send it with an RP's cross-site form
 * POST. A POST that arrives without a session cookie is therefore answered with a 303 to the same request as
 * a GET (a top-level navigation, which does carry Lax cookies), instead of wrongly concluding that the user
 * is signed out. A GET never redirects to itself, so this cannot loop.
 *
 * Ending a session: the session is ended once (a conditional update; a concurrent second logout does
 * nothing), its cookie cleared, every grant made in it whose scopes lack `offline_access` revoked (with its
 * refresh tokens and codes; its access tokens are then refused by introspection and userinfo), logout
 * tokens are sent in the background to every client with a grant in the session and a registered
 * `backchannelLogoutUri`, and the audit event `logout` is logged. Grants with `offline_access` survive: the
 * user asked for access that outlives the browser session.
 */
import { constantTimeEqual } from '@gatehouse/jose-rules';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { clearCookie, readCookie, sessionCookie } from '../http/cookies.ts';
import { createRedirectUrl, noStoreHeaders } from '../http/error-handler.ts';
import { currentSession } from '../http/login-session.ts';
import type { Client, LoginSession } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type Params, type RawParams, toParams } from '../protocol/params.ts';
import { redirectUriProblem } from '../protocol/redirect-uri.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import { type IdTokenHint, verifyIdTokenHint } from '../tokens/id-token-hint.ts';
import { pageSecurityHeaders } from '../views/html.ts';
import { confirmLogoutPage, signedOutPage } from '../views/logout.ts';

/** What a logout request says once validated: the client it comes from and where to send the user. */
interface LogoutTarget {
  client: Client | undefined;
  /** A registered post-logout redirect URI of `client`, or undefined. */
  redirectUri: string | undefined;
  state: string | undefined;
}

export function logoutCsrfToken(sessionCookieValue: string): string {
  return sha256Base64Url(`gatehouse logout csrf:${sessionCookieValue}`);
}

async function resolveTarget(
  ctx: ServerContext,
  clientId: string | undefined,
  requestedRedirect: string | undefined,
  state: string | undefined,
): Promise<LogoutTarget> {
  const client = clientId === undefined ? undefined : await ctx.findClient(clientId);
  const redirectUri =
    client !== undefined &&
    requestedRedirect !== undefined &&
    client.postLogoutRedirectUris.includes(requestedRedirect) &&
    redirectUriProblem(requestedRedirect) === undefined
      ? requestedRedirect
      : undefined;
  return { client, redirectUri, state: redirectUri === undefined ? undefined : state };
}

function hintNamesSession(hint: IdTokenHint | undefined, session: LoginSession): boolean {
  if (hint === undefined || hint.sub !== session.userId) return false;
  return hint.sid === undefined || hint.sid === session.sid;
}

function requestParams(request: FastifyRequest): { raw: RawParams; params: Params } {
  const raw = ((request.method === 'POST' ? request.body : request.query) as RawParams | undefined) ?? {};
  return { raw, params: toParams(raw) };
}

/** Sends the user back to the client (with state) or shows the signed-out page. */
function finish(request: FastifyRequest, reply: FastifyReply, target: LogoutTarget): void {
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
  reply.code(200).headers(pageSecurityHeaders).send(signedOutPage());
}

export function endSessionEndpoints(ctx: ServerContext) {
  async function endSession(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { raw, params } = requestParams(request);
    const cookie = readCookie(request.headers.cookie, sessionCookie);
    if (request.method === 'POST' && cookie === undefined) {
      // A cross-site POST carries no SameSite=Lax cookie: repeat the request as a top-level GET.
      const query = new URLSearchParams();
      for (const [name, values] of Object.entries(raw)) for (const value of values) query.append(name, value);
      const suffix = query.size > 0 ? `?${query.toString()}` : '';
      reply
        .code(303)
        .headers(noStoreHeaders)
        .header('location', `${ctx.endpoints.endSession}${suffix}`)
        .send();
      return;
    }

    const hint = verifyIdTokenHint(ctx, params.get('id_token_hint'));
    const clientId = params.get('client_id');
    const mismatch = hint !== undefined && clientId !== undefined && clientId !== hint.clientId;
    if (mismatch)
      ctx.audit('logout_request_mismatch', { client_id: clientId, hint_client_id: hint.clientId });
    const target = mismatch
      ? { client: undefined, redirectUri: undefined, state: undefined }
      : await resolveTarget(
          ctx,
          hint?.clientId ?? clientId,
          params.get('post_logout_redirect_uri'),
          params.get('state'),
        );

    const session = await currentSession(ctx, request);
    if (session === undefined || cookie === undefined) {
      finish(request, reply, target);
      return;
    }
    if (!mismatch && hintNamesSession(hint, session)) {
      await ctx.logout.endSession(session, target.client?.clientId);
      finish(request, reply, target);
      return;
    }

    const user = await ctx.storage.users.findById(session.userId);
    reply
      .code(200)
      .headers(pageSecurityHeaders)
      .send(
        confirmLogoutPage({
          action: `${ctx.endpoints.endSession}/confirm`,
          csrfToken: logoutCsrfToken(cookie),
          username: user?.username ?? '',
          returnTo: target.redirectUri === undefined ? undefined : target.client?.name,
          fields: {
            client_id: target.redirectUri === undefined ? undefined : target.client?.clientId,
            post_logout_redirect_uri: target.redirectUri,
            state: target.state,
          },
        }),
      );
  }

  async function confirm(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const params = toParams((request.body as RawParams | undefined) ?? {});
    const cookie = readCookie(request.headers.cookie, sessionCookie);
    const target = await resolveTarget(
      ctx,
      params.get('client_id'),
      params.get('post_logout_redirect_uri'),
      params.get('state'),
    );
    if (cookie === undefined) {
      // No session cookie: nothing this browser could sign out of.
      finish(request, reply, target);
      return;
    }
    const submitted = params.get('csrf');
    if (submitted === undefined || !constantTimeEqual(submitted, logoutCsrfToken(cookie))) {
      throw new OAuthError(
        'invalid_request',
        'The sign-out form has expired. Go back to the application and sign out again.',
        { status: 403 },
      );
    }
    const session = await currentSession(ctx, request);
    if (session !== undefined) await ctx.logout.endSession(session, target.client?.clientId);
    finish(request, reply, target);
  }

  return { endSession, confirm };
}
