/**
 * The device authorization grant at the client (RFC 8628): the device authorization request (§3.1,
 * §3.2) and polling the token endpoint until the user approves (§3.4, §3.5).
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { asString, type ClientContext, endpointUrl } from './client-context.ts';
import { GatehouseClientError, OAuthResponseError } from './errors.ts';
import { postForm, type TokenSet, tokenRequest } from './token-endpoint.ts';
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

export interface DevicePollOptions {
  signal?: AbortSignal;
  /** Waits between polls; default a real timer. Tests pass one that advances their clock. */
  sleep?: (milliseconds: number, signal: AbortSignal | undefined) => Promise<void>;
}

async function defaultSleep(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleepFor(milliseconds, undefined, signal ? { signal } : {});
  } catch (error) {
    throw new GatehouseClientError('aborted', 'device polling was cancelled', { cause: error });
  }
}

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
export async function pollDeviceAuthorization(
  context: ClientContext,
  authorization: DeviceAuthorization,
  options: DevicePollOptions,
): Promise<TokenSet> {
  const sleep = options.sleep ?? defaultSleep;
  const deadline = authorization.startedAt + authorization.expiresIn;
  let interval = authorization.interval;
  for (;;) {
    if (options.signal?.aborted) {
      throw new GatehouseClientError('aborted', 'device polling was cancelled', {
        cause: options.signal.reason,
      });
    }
    if (context.clock() + interval > deadline) {
      throw new GatehouseClientError('device_code_expired', 'the device code expired before approval');
    }
    await sleep(interval * 1000, options.signal);
    try {
      return await tokenRequest(
        context,
        {
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: authorization.deviceCode,
          client_id: context.clientId,
        },
        options.signal,
      );
    } catch (error) {
      if (error instanceof OAuthResponseError && error.error === 'authorization_pending') continue;
      if (error instanceof OAuthResponseError && error.error === 'slow_down') {
        interval += 5;
        continue;
      }
      if (
        error instanceof GatehouseClientError &&
        (error.code === 'timeout' || error.code === 'network_error') &&
        !options.signal?.aborted
      ) {
        interval = Math.min(interval * 2, 60);
        continue;
      }
      throw error;
    }
  }
}
