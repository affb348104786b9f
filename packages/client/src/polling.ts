/**
 * Polling the token endpoint for a decision the user makes elsewhere, shared by the device flow (RFC 8628
 * §3.4, §3.5) and CIBA poll mode (CIBA Core §7.3, §11): wait `interval` seconds before each poll, add 5
 * seconds on `slow_down` (for every later poll too), double the wait after a network failure or timeout,
 * stop at `expires_in` or when `signal` aborts.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { asString, type ClientContext, endpointUrl } from './client-context.ts';
import type { ServerMetadata } from './discovery.ts';
import { GatehouseClientError, OAuthResponseError } from './errors.ts';
import { type FormValues, postForm, type TokenSet, tokenRequest } from './token-endpoint.ts';

export interface PollOptions {
  signal?: AbortSignal;
  /** Waits between polls; default a real timer. Tests pass one that advances their clock. */
  sleep?: (milliseconds: number, signal: AbortSignal | undefined) => Promise<void>;
}

/** When polling started (by the client's clock), how long it may last and the first interval, in seconds. */
export interface PollTiming {
  startedAt: number;
  expiresIn: number;
  /** Seconds between polls; 5 when the server does not say (RFC 8628 §3.2, CIBA Core §7.3). */
  interval: number;
}

/**
 * Sends the request that starts a polled flow (RFC 8628 §3.1, CIBA Core §7.1), without DPoP, and reads
 * the answer (RFC 8628 §3.2, CIBA Core §7.3): the named string members, all required, `expires_in`, and
 * `interval` (5 seconds when absent or not positive).
 */
export async function startPolling<Member extends string>(
  context: ClientContext,
  endpoint: keyof ServerMetadata & `${string}_endpoint`,
  values: FormValues,
  signal: AbortSignal | undefined,
  required: readonly Member[],
  what: string,
): Promise<{ members: Record<Member, string>; answer: Record<string, unknown>; timing: PollTiming }> {
  const url = await endpointUrl(context, endpoint);
  const answer = await postForm(context, url, values, { dpop: false, signal });
  const members = {} as Record<Member, string>;
  for (const name of required) {
    const value = asString(answer[name]);
    if (!value) throw new GatehouseClientError('invalid_response', `${url} answered an incomplete ${what}`);
    members[name] = value;
  }
  const expiresIn = answer.expires_in;
  if (typeof expiresIn !== 'number') {
    throw new GatehouseClientError('invalid_response', `${url} answered an incomplete ${what}`);
  }
  const interval = typeof answer.interval === 'number' && answer.interval > 0 ? answer.interval : 5;
  return { members, answer, timing: { startedAt: context.clock(), expiresIn, interval } };
}

async function defaultSleep(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleepFor(milliseconds, undefined, signal ? { signal } : {});
  } catch (error) {
    throw new GatehouseClientError('aborted', 'polling was cancelled', { cause: error });
  }
}

export async function pollTokenEndpoint(
  context: ClientContext,
  values: FormValues,
  timing: PollTiming,
  expired: () => GatehouseClientError,
  options: PollOptions,
): Promise<TokenSet> {
  const sleep = options.sleep ?? defaultSleep;
  const deadline = timing.startedAt + timing.expiresIn;
  let interval = timing.interval;
  for (;;) {
    if (options.signal?.aborted) {
      throw new GatehouseClientError('aborted', 'polling was cancelled', { cause: options.signal.reason });
    }
    if (context.clock() + interval > deadline) throw expired();
    await sleep(interval * 1000, options.signal);
    try {
      return await tokenRequest(context, values, options.signal);
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
