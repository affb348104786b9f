/**
 * The device authorization grant at the client (RFC 8628): the device authorization request (§3.1,
 * §3.2) and polling the token endpoint until the user approves (§3.4, §3.5).
 */
import { asString, type ClientContext } from './client-context.ts';
import { GatehouseClientError } from './errors.ts';
import { type PollOptions, type PollTiming, pollTokenEndpoint, startPolling } from './polling.ts';
import type { TokenSet } from './token-endpoint.ts';
import type { GrantOptions } from './token-grants.ts';

export interface DeviceAuthorization extends PollTiming {
  deviceCode: string;
  /** Show this to the user... */
  userCode: string;
  /** ...and this, where they enter it. */
  verificationUri: string;
  /** The URI with the code included (for a QR code), when the server gives one. */
  verificationUriComplete: string | undefined;
}

export type { PollOptions as DevicePollOptions } from './polling.ts';

/** Starts the device flow (RFC 8628 §3.1, §3.2). */
export async function startDeviceAuthorization(
  context: ClientContext,
  options: GrantOptions,
): Promise<DeviceAuthorization> {
  const { members, answer, timing } = await startPolling(
    context,
    'device_authorization_endpoint',
    { client_id: context.clientId, scope: options.scope, resource: options.resource },
    options.signal,
    ['device_code', 'user_code', 'verification_uri'],
    'device authorization',
  );
  return {
    deviceCode: members.device_code,
    userCode: members.user_code,
    verificationUri: members.verification_uri,
    verificationUriComplete: asString(answer.verification_uri_complete),
    ...timing,
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
