/**
 * The device authorization grant at the client (RFC 8628): the device authorization request (§3.1,
 * §3.2) and polling the token endpoint until the user approves (§3.4, §3.5).
 */
import { asString, type ClientContext, endpointUrl } from './client-context.ts';
import { GatehouseClientError } from './errors.ts';
import { type PollOptions, pollTokenEndpoint } from './polling.ts';
import { postForm, type TokenSet } from './token-endpoint.ts';
import type { GrantOptions } from './token-grants.ts';

export interface DeviceAuthorization {
  deviceCode: string;
  /** Show this to the user... */
  userCode: string;
  /** ...and this, where they enter it. */
  verificationUri: string;
  /** The URI with the code included (for a QR code), when the server gives one. */
  verificationUriComplete: string | undefined;
  expiresIn: number;
  /** Seconds between polls; 5 when the server does not say (RFC 8628 §3.2). */
  interval: number;
  /** When the authorization started, by the client's clock. */
  startedAt: number;
}

export type { PollOptions as DevicePollOptions } from './polling.ts';

/** Starts the device flow (RFC 8628 §3.1, §3.2). */
export async function startDeviceAuthorization(
  context: ClientContext,
  options: GrantOptions,
): Promise<DeviceAuthorization> {
  const url = await endpointUrl(context, 'device_authorization_endpoint');
  const body = await postForm(
    context,
    url,
    { client_id: context.clientId, scope: options.scope, resource: options.resource },
    { dpop: false, signal: options.signal },
  );
  const deviceCode = asString(body.device_code);
  const userCode = asString(body.user_code);
  const verificationUri = asString(body.verification_uri);
  const expiresIn = body.expires_in;
  if (!deviceCode || !userCode || !verificationUri || typeof expiresIn !== 'number') {
    throw new GatehouseClientError('invalid_response', `${url} answered an incomplete device authorization`);
  }
  const interval = typeof body.interval === 'number' && body.interval > 0 ? body.interval : 5;
  return {
    deviceCode,
    userCode,
    verificationUri,
    verificationUriComplete: asString(body.verification_uri_complete),
    expiresIn,
    interval,
    startedAt: context.clock(),
  };
}

/**
 * Polls the token endpoint until the user approves (RFC 8628 §3.4, §3.5): waits `interval` seconds
 * before each poll, adds 5 seconds on `slow_down`, doubles the wait after a network failure or timeout,
 * and stops at `expires_in` (`device_code_expired`) or when `signal` aborts (`aborted`).
 */
export function pollDeviceAuthorization(
  context: ClientContext,
  authorization: DeviceAuthorization,
  options: PollOptions,
): Promise<TokenSet> {
  return pollTokenEndpoint(
    context,
    {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: authorization.deviceCode,
      client_id: context.clientId,
    },
    authorization,
    () => new GatehouseClientError('device_code_expired', 'the device code expired before approval'),
    options,
  );
}
