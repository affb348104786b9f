/**
 * The rules of OpenID Connect RP-Initiated Logout 1.0 (§2, §3, §4); whatever fails to validate counts as
 * not supplied, never as a server error. An unverifiable `id_token_hint` is absent; a `client_id` other
 * than the hint's audience drops both. `post_logout_redirect_uri` is used only for an identified client
 * whose registered URIs hold it by simple string comparison (§3), with `state` only on that redirect. A
 * verified hint naming the browser's session ends it at once; otherwise the user is asked (§2), so a
 * cross-site link cannot sign anyone out.
 */
import type { ServerContext } from '../context.ts';
import type { Client, LoginSession } from '../model.ts';
import { redirectUriProblem } from '../protocol/redirect-uri.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import { type IdTokenHint, verifyIdTokenHint } from '../tokens/id-token-hint.ts';

/** What a logout request says once validated: the client it comes from and where to send the user. */
export interface LogoutTarget {
  client: Client | undefined;
  /** A registered post-logout redirect URI of `client`, or undefined. */
  redirectUri: string | undefined;
  state: string | undefined;
}

/** The parameters of a logout request (§2) that select anything; `ui_locales` only sets the pages' language. */
export interface LogoutParameters {
  idTokenHint: string | undefined;
  clientId: string | undefined;
  postLogoutRedirectUri: string | undefined;
  state: string | undefined;
}

export interface LogoutRequest {
  target: LogoutTarget;
  /** The verified hint, unless it contradicts `client_id`. */
  hint: IdTokenHint | undefined;
}

/**
 * The confirmation form's CSRF token: SHA-256 over a label and the session value, a secret only this
 * browser holds (HttpOnly); it dies with the session and needs no server-side state. The label keeps it
 * apart from the session value's hash, which is the session's storage key.
 */
export function logoutCsrfToken(sessionValue: string): string {
  return sha256Base64Url(`gatehouse logout csrf:${sessionValue}`);
}

/** The client and the post-logout redirect URI a request may use (§3). */
export async function resolveLogoutTarget(
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

/** Validates a logout request (§4): the hint, the client it names and where the user may be sent. */
export async function validateLogoutRequest(
  ctx: ServerContext,
  parameters: LogoutParameters,
): Promise<LogoutRequest> {
  const hint = verifyIdTokenHint(ctx, parameters.idTokenHint);
  const { clientId } = parameters;
  if (hint !== undefined && clientId !== undefined && clientId !== hint.clientId) {
    ctx.audit('logout_request_mismatch', { client_id: clientId, hint_client_id: hint.clientId });
    return { target: { client: undefined, redirectUri: undefined, state: undefined }, hint: undefined };
  }
  const target = await resolveLogoutTarget(
    ctx,
    hint?.clientId ?? clientId,
    parameters.postLogoutRedirectUri,
    parameters.state,
  );
  return { target, hint };
}

/** True when the verified hint names `session`, so it ends without asking the user (§2). */
export function hintNamesSession(hint: IdTokenHint | undefined, session: LoginSession): boolean {
  if (hint === undefined || hint.sub !== session.userId) return false;
  return hint.sid === undefined || hint.sid === session.sid;
}
