/**
 * OpenID Connect CIBA Core 1.0 at the client: the authentication request to the backchannel
 * authentication endpoint (§7.1, §7.3), then tokens by polling (poll mode, §7.3, §11: `slow_down` adds 5
 * seconds) or, in ping mode, one token request once the application has received the ping (§10.2) at its
 * notification endpoint. The client must be confidential (its `clientAuthentication`).
 */
import type { ClientContext } from './client-context.ts';
import { GatehouseClientError } from './errors.ts';
import { type PollOptions, type PollTiming, pollTokenEndpoint, startPolling } from './polling.ts';
import { type TokenSet, tokenRequest } from './token-endpoint.ts';

export const cibaGrantType = 'urn:openid:params:grant-type:ciba';

export interface BackchannelAuthenticationOptions {
  /** Must include `openid`. */
  scope: string;
  /** Exactly one hint (§7.1): the user's username at the server... */
  loginHint?: string;
  /** ...or an ID token the server issued to this client. */
  idTokenHint?: string;
  /** Shown on both devices so the user can tell they belong together (short, plain text). */
  bindingMessage?: string;
  /** Seconds the request should live; the server may shorten it. */
  requestedExpiry?: number;
  acrValues?: string;
  /** Ping mode: the bearer token the server will send with the ping (§7.1). */
  clientNotificationToken?: string;
  signal?: AbortSignal;
}

export interface BackchannelAuthentication extends PollTiming {
  authReqId: string;
}

/** Sends the authentication request (§7.1) and reads the acknowledgement (§7.3). */
export async function startBackchannelAuthentication(
  context: ClientContext,
  options: BackchannelAuthenticationOptions,
): Promise<BackchannelAuthentication> {
  const { members, timing } = await startPolling(
    context,
    'backchannel_authentication_endpoint',
    {
      scope: options.scope,
      login_hint: options.loginHint,
      id_token_hint: options.idTokenHint,
      binding_message: options.bindingMessage,
      requested_expiry: options.requestedExpiry === undefined ? undefined : String(options.requestedExpiry),
      acr_values: options.acrValues,
      client_notification_token: options.clientNotificationToken,
    },
    options.signal,
    ['auth_req_id'],
    'authentication request',
  );
  return { authReqId: members.auth_req_id, ...timing };
}

/** Poll mode: polls until the user decides, the request expires (`auth_req_id_expired`) or `signal` aborts. */
export function pollBackchannelAuthentication(
  context: ClientContext,
  authentication: BackchannelAuthentication,
  options: PollOptions,
): Promise<TokenSet> {
  return pollTokenEndpoint(
    context,
    { grant_type: cibaGrantType, auth_req_id: authentication.authReqId },
    authentication,
    () =>
      new GatehouseClientError('auth_req_id_expired', 'the authentication request expired before approval'),
    options,
  );
}

/** Ping mode: the one token request after the ping for `authReqId` arrived (§10.2, §10.1). */
export function redeemBackchannelAuthentication(
  context: ClientContext,
  authReqId: string,
  signal?: AbortSignal,
): Promise<TokenSet> {
  return tokenRequest(context, { grant_type: cibaGrantType, auth_req_id: authReqId }, signal);
}
