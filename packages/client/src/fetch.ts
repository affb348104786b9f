/**
 * A fetch that sends an access token: `Authorization: Bearer` (RFC 6750 §2.1) or `Authorization: DPoP`
 * with a proof bound to the token by `ath` (RFC 9449 §7.1). On a 401 whose challenge says
 * `error="invalid_token"` (RFC 6750 §3.1) it gets a new token once and retries once; on
 * `error="use_dpop_nonce"` with a `DPoP-Nonce` header (RFC 9449 §9) it retries once with that nonce.
 * Request bodies must be replayable (string, URLSearchParams, Buffer, ...), not streams.
 */

import { type Clock, systemClock } from './clock.ts';
import { accessTokenHeaders, type DPoPKey, rememberDPoPNonce } from './dpop.ts';
import { requestDeadline } from './http.ts';
import type { AccessTokenSource } from './token-manager.ts';

export interface AuthenticatedFetchOptions {
  /** The DPoP key the tokens are bound to; required for `DPoP` tokens. */
  dpop?: DPoPKey;
  /** Default the global fetch. */
  fetch?: typeof fetch;
  /** An undici dispatcher for every request, e.g. with the client certificate of mTLS-bound tokens (RFC 8705 §3). */
  dispatcher?: unknown;
  /** Milliseconds per attempt before giving up with `timeout`; default 30 000. */
  timeout?: number;
  clock?: Clock;
}

/** The `error` parameter of a WWW-Authenticate challenge. */
function challengeError(header: string | null): string | undefined {
  if (header === null) return undefined;
  return /(?:^|[\s,])error="([^"]*)"/.exec(header)?.[1];
}

/** Returns a fetch function that authenticates every request with a token from `source`. */
export function authenticatedFetch(
  source: AccessTokenSource,
  options: AuthenticatedFetchOptions = {},
): (input: string | URL, init?: RequestInit) => Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  const clock = options.clock ?? systemClock;
  const timeout = options.timeout ?? 30_000;
  return async (input, init = {}) => {
    const url = String(input);
    const method = (init.method ?? 'GET').toUpperCase();
    const signal = init.signal ?? undefined;
    let token = await source.getAccessToken(signal ? { signal } : {});
    let renewed = false;
    let nonceRetried = false;
    for (;;) {
      const headers = new Headers(init.headers);
      const credentials = await accessTokenHeaders(token, options.dpop, { method, url, now: clock() });
      for (const [name, value] of Object.entries(credentials)) headers.set(name, value);
      const deadline = requestDeadline(signal, timeout);
      let response: Response;
      try {
        const attempt: RequestInit = { ...init, headers, signal: deadline.signal };
        if (options.dispatcher !== undefined) Object.assign(attempt, { dispatcher: options.dispatcher });
        response = await doFetch(url, attempt);
      } catch (error) {
        throw deadline.failure(error, url);
      }
      const gotNonce =
        credentials.dpop !== undefined &&
        options.dpop !== undefined &&
        rememberDPoPNonce(options.dpop, url, response.headers);
      if (response.status !== 401) return response;
      const error = challengeError(response.headers.get('www-authenticate'));
      if (error === 'use_dpop_nonce' && gotNonce && !nonceRetried) {
        nonceRetried = true;
        await response.body?.cancel();
        continue;
      }
      if (error === 'invalid_token' && !renewed) {
        renewed = true;
        await response.body?.cancel();
        token = await source.getAccessToken(
          signal ? { rejected: token.value, signal } : { rejected: token.value },
        );
        continue;
      }
      return response;
    }
  };
}
