/**
 * OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0) outside the token endpoint:
 * the authentication request (§7.1, §7.2) and its answer (§7.3), reaching the user (a notifier, then the
 * approval page), the user's decision, and the ping (§10.2). Push mode is not offered (FAPI-CIBA forbids
 * it), nor `user_code` (`backchannel_user_code_parameter_supported` false) or `login_hint_token`
 * (refused as invalid_request: no format for it is agreed with anyone). `auth_req_id` and the approval
 * link's token are 256 random bits each, found by their SHA-256 hashes; the link's token never reaches the
 * client and the `auth_req_id` never reaches the user.
 */
import { cibaGrantType } from '../config/clients.ts';
import type { ServerContext } from '../context.ts';
import type { BackchannelAuthenticationRequest, Client, LoginSession } from '../model.ts';
import { verifyIdTokenHint } from '../tokens/id-token-hint.ts';
import { requestedScopes } from './authorization-request.ts';
import { browserCsrfToken } from './browser-csrf.ts';
import { OAuthError } from './errors.ts';
import { BlockedAddressError } from './outbound-address.ts';
import { postOutbound } from './outbound-fetch.ts';
import type { Params } from './params.ts';
import { decidePolledAuthorization, polledGrantId, undecidedFields } from './polled-authorization.ts';
import { failureOutcome, statusOutcome } from './retried-delivery.ts';
import { parseScope } from './scopes.ts';
import { randomHandle, sha256Base64Url } from './secrets.ts';

/** The id of the grant an approved CIBA request belongs to (polled-authorization.ts). */
export function cibaGrantId(authReqIdHash: string): string {
  return polledGrantId('gatehouse/ciba-grant', authReqIdHash);
}

export interface IssuedBackchannelRequest {
  authReqId: string;
  expiresIn: number;
  interval: number;
}

/** The CIBA metadata of a client registered for the grant, else unauthorized_client (CIBA Core §13). */
function cibaSettings(client: Client) {
  const settings = client.backchannelAuthentication;
  if (!client.grantTypes.includes(cibaGrantType) || !settings) {
    throw new OAuthError('unauthorized_client', 'the client is not registered for the CIBA grant');
  }
  return settings;
}

/**
 * §7.1: exactly one hint. `login_hint` is a username; `id_token_hint` an ID token this server issued to
 * this client (expired ones too, as RP-Initiated Logout allows); an unknown or disabled user is
 * unknown_user_id, without saying which.
 */
async function hintedAccount(ctx: ServerContext, client: Client, params: Params) {
  const hints = ['login_hint', 'id_token_hint', 'login_hint_token'].filter(
    (name) => params.get(name) !== undefined,
  );
  if (hints.length !== 1) {
    throw new OAuthError(
      'invalid_request',
      'exactly one of login_hint, id_token_hint and login_hint_token is required',
    );
  }
  if (hints[0] === 'login_hint_token') {
    throw new OAuthError(
      'invalid_request',
      'login_hint_token is not supported; send login_hint or id_token_hint',
    );
  }
  let account: Awaited<ReturnType<ServerContext['accounts']['findBySubject']>>;
  if (hints[0] === 'login_hint') {
    account = await ctx.accounts.findByUsername(params.required('login_hint'));
  } else {
    const hint = verifyIdTokenHint(ctx, params.get('id_token_hint'));
    if (hint === undefined || hint.clientId !== client.clientId)
      throw new OAuthError('invalid_request', 'id_token_hint is not an ID token issued to this client');
    account = await ctx.accounts.findBySubject(hint.sub);
  }
  if (!account?.enabled) throw new OAuthError('unknown_user_id', 'the hint does not identify a known user');
  return account;
}

/**
 * §7.1 binding_message: shown on the client's and the user's devices so the user can tell the two
 * belong together, so short and plain: letters, digits, spaces and common punctuation, no control or
 * formatting characters.
 */
function bindingMessage(ctx: ServerContext, params: Params): string | null {
  const message = params.get('binding_message');
  if (message === undefined) return null;
  const max = ctx.config.ciba.maxBindingMessageLength;
  if ([...message].length > max || !/^[\p{L}\p{M}\p{N}][\p{L}\p{M}\p{N} .,:;!?'"()#+\-/]*$/u.test(message)) {
    throw new OAuthError(
      'invalid_binding_message',
      `binding_message must be at most ${max} letters, digits, spaces and common punctuation`,
    );
  }
  return message;
}

/** §7.1 requested_expiry: a positive whole number of seconds, capped at `ciba.maxRequestTtl`. */
function expiresIn(ctx: ServerContext, params: Params): number {
  const requested = params.get('requested_expiry');
  if (requested === undefined) return ctx.config.ciba.requestTtl;
  if (!/^[1-9][0-9]{0,8}$/.test(requested))
    throw new OAuthError('invalid_request', 'requested_expiry must be a positive whole number of seconds');
  return Math.min(Number(requested), ctx.config.ciba.maxRequestTtl);
}

/**
 * The authentication request of an authenticated client (§7.1, §7.2): stores a pending request for the
 * hinted user and notifies them. Answers what §7.3 returns.
 */
export async function issueBackchannelRequest(
  ctx: ServerContext,
  client: Client,
  params: Params,
): Promise<IssuedBackchannelRequest> {
  const settings = cibaSettings(client);
  const notify = ctx.backchannelNotifier;
  if (notify === undefined)
    throw new OAuthError('unauthorized_client', 'this server has no way to reach users (ciba.notifier)');
  if (params.get('request') !== undefined)
    throw new OAuthError('invalid_request', 'signed authentication requests (request) are not supported');
  const scopes = requestedScopes(ctx, client, params.get('scope'), []);
  if (!scopes.includes('openid')) throw new OAuthError('invalid_scope', 'scope must include openid');
  if (params.get('user_code') !== undefined)
    throw new OAuthError('invalid_request', 'user_code is not supported by this server');
  const notificationToken = params.get('client_notification_token');
  if (settings.tokenDeliveryMode === 'ping' && notificationToken === undefined)
    throw new OAuthError('invalid_request', 'client_notification_token is required in ping mode');
  if (notificationToken !== undefined && notificationToken.length > 1024)
    throw new OAuthError('invalid_request', 'client_notification_token is longer than 1024 characters');
  const message = bindingMessage(ctx, params);
  const lifetime = expiresIn(ctx, params);
  const account = await hintedAccount(ctx, client, params);

  const now = ctx.now();
  const authReqId = randomHandle();
  const approvalToken = randomHandle();
  const ping = settings.tokenDeliveryMode === 'ping';
  const request: BackchannelAuthenticationRequest = {
    authReqIdHash: sha256Base64Url(authReqId),
    approvalHash: sha256Base64Url(approvalToken),
    clientId: client.clientId,
    hintedUserId: account.subject,
    scope: scopes,
    resources: [],
    acrValues: parseScope(params.get('acr_values')),
    bindingMessage: message,
    deliveryMode: settings.tokenDeliveryMode,
    clientNotificationToken: ping ? (notificationToken ?? null) : null,
    pingAuthReqId: ping ? authReqId : null,
    interval: ctx.config.ciba.interval,
    expiresAt: now + lifetime,
    ...undecidedFields(now),
  };
  await ctx.storage.backchannelRequests.create(request);
  const approvalUrl = new URL(ctx.endpoints.backchannelApproval);
  approvalUrl.searchParams.set('token', approvalToken);
  const fields = { client_id: client.clientId, user_id: account.subject, mode: settings.tokenDeliveryMode };
  try {
    await notify({
      subject: account.subject,
      username: account.username,
      clientId: client.clientId,
      clientName: client.name,
      bindingMessage: message,
      scope: scopes,
      acrValues: request.acrValues,
      approvalUrl: approvalUrl.toString(),
      expiresAt: request.expiresAt,
    });
  } catch (error) {
    ctx.audit('ciba_notification_failed', { ...fields, reason: (error as Error).name });
    throw new OAuthError('temporarily_unavailable', 'the user could not be reached; try again later', {
      retryAfter: 30,
    });
  }
  ctx.audit('ciba_request_issued', { ...fields, scope: scopes.join(' ') });
  return { authReqId, expiresIn: lifetime, interval: request.interval };
}

/** A pending request the approval link's token opens, with its client's name; else undefined. */
export async function pendingApproval(
  ctx: ServerContext,
  token: string | undefined,
): Promise<{ record: BackchannelAuthenticationRequest; clientName: string } | undefined> {
  if (token === undefined || token.length > 128) return undefined;
  const record = await ctx.storage.backchannelRequests.findByApprovalHash(sha256Base64Url(token));
  if (record === undefined || record.status !== 'pending' || record.expiresAt <= ctx.now()) return undefined;
  const client = await ctx.findClient(record.clientId);
  // A client removed or disabled (admin/clients.ts) since the request: nothing to approve.
  return client === undefined || client.disabledAt !== undefined
    ? undefined
    : { record, clientName: client.name };
}

/**
 * The hinted user's decision (the caller has checked the session is theirs). False when the request is no
 * longer pending. A ping-mode client is then pinged in the background, whatever the decision (§10.2).
 */
export async function decideBackchannelRequest(
  ctx: ServerContext,
  record: BackchannelAuthenticationRequest,
  session: LoginSession,
  decision: 'approve' | 'deny',
): Promise<boolean> {
  if (session.userId !== record.hintedUserId) throw new Error('the session is not the hinted user');
  const decided = await decidePolledAuthorization(
    ctx,
    {
      grantId: cibaGrantId(record.authReqIdHash),
      clientId: record.clientId,
      scope: record.scope,
      resources: record.resources,
      record: (repositories, outcome) =>
        repositories.backchannelRequests.decide(record.approvalHash, ctx.now(), outcome),
    },
    session,
    decision,
  );
  if (!decided) return false;
  ctx.audit(decision === 'approve' ? 'ciba_approved' : 'ciba_denied', {
    user_id: session.userId,
    client_id: record.clientId,
    sid: session.sid,
  });
  if (record.deliveryMode === 'ping') void pingClient(ctx, record);
  return true;
}

/**
 * §10.2: POSTs `{"auth_req_id"}` with the client's notification token as a bearer token to its
 * notification endpoint, through the outbound guard (no private addresses unless
 * `ciba.allowPrivateAddresses`), with up to `ciba.pingAttempts` attempts (retried-delivery.ts: network
 * errors, timeouts, 408, 429 and 5xx are retried; a refused address or another status is final). The
 * outcome is audited, never with the token; the client can still poll. Resolves when done (tests wait on
 * it); never throws.
 */
export async function pingClient(
  ctx: ServerContext,
  record: BackchannelAuthenticationRequest,
): Promise<void> {
  const fields = { client_id: record.clientId };
  try {
    const client = await ctx.findClient(record.clientId);
    const endpoint = client?.backchannelAuthentication?.clientNotificationEndpoint;
    if (!endpoint || record.clientNotificationToken === null || record.pingAuthReqId === null) return;
    const post = {
      url: endpoint,
      headers: {
        authorization: `Bearer ${record.clientNotificationToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ auth_req_id: record.pingAuthReqId }),
      timeout: ctx.config.ciba.pingTimeout,
      allowPrivateAddresses: ctx.config.ciba.allowPrivateAddresses,
    };
    const { outcome, attempts } = await ctx.cibaPings.deliver(ctx.config.ciba.pingAttempts, () =>
      postOutbound(post).then(statusOutcome, (error: unknown) => {
        // A refused address stays refused: no retry.
        if (error instanceof BlockedAddressError) throw error;
        return failureOutcome(error);
      }),
    );
    if (!outcome?.ok) {
      ctx.audit('ciba_ping_failed', {
        ...fields,
        status: outcome?.status,
        reason: outcome?.reason,
        attempts,
      });
      return;
    }
    await ctx.storage.backchannelRequests.forgetPing(record.authReqIdHash);
    ctx.audit('ciba_ping_sent', { ...fields, status: outcome.status, attempts });
  } catch (error) {
    ctx.audit('ciba_ping_failed', { ...fields, reason: (error as Error).name });
  }
}

export const approvalCsrfLabel = 'gatehouse/ciba-approval/csrf';

/** The approval forms' CSRF token (browser-csrf.ts), as on the device pages. */
export function approvalCsrfToken(browserId: string, sid: string | undefined): string {
  return browserCsrfToken(approvalCsrfLabel, browserId, sid);
}
