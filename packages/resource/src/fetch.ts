/**
 * Fetch-style adapter for servers built on web Request/Response (Hono, Bun, Deno, Node with undici):
 * `authenticate(request)` resolves the verified token or a ready-made RFC 6750 / RFC 9449 refusal
 * `Response`; `withAuth` wraps a handler.
 */

import type { AuthInfo, AuthRequest } from './model.ts';
import type { VerifierOptions } from './options.ts';
import type { Policy } from './policies.ts';
import { createVerifier, type Verifier } from './verifier.ts';

export type FetchAuthResult =
  | { ok: true; auth: AuthInfo; headers: Readonly<Record<string, string>> }
  | { ok: false; response: Response };

async function describe(request: Request, allowBody: boolean): Promise<AuthRequest> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  let body: unknown;
  if (
    allowBody &&
    request.method !== 'GET' &&
    headers['content-type']?.toLowerCase().startsWith('application/x-www-form-urlencoded')
  ) {
    body = Object.fromEntries(new URLSearchParams(await request.clone().text()));
  }
  return {
    method: request.method,
    path: `${url.pathname}${url.search}`,
    headers,
    host: url.host,
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    body,
  };
}

/**
 * Creates `(request, ...policies) => Promise<FetchAuthResult>`. With the form body enabled in the
 * options, the body is read from a clone, so the handler can still read it.
 */
export function createAuthenticator(
  verifier: Verifier | VerifierOptions,
): (request: Request, ...policies: Policy[]) => Promise<FetchAuthResult> {
  const allowBody = !('authenticate' in verifier) && verifier.allowFormBodyToken === true;
  const resolved = 'authenticate' in verifier ? verifier : createVerifier(verifier);
  return async (request, ...policies) => {
    const result = await resolved.authenticate(await describe(request, allowBody), ...policies);
    if (result.ok) return result;
    return {
      ok: false,
      response: new Response(JSON.stringify(result.body), {
        status: result.status,
        headers: { ...result.headers, 'content-type': 'application/json' },
      }),
    };
  };
}

/** Wraps a handler: it runs only for authenticated requests that pass `policies`. */
export function withAuth(
  verifier: Verifier | VerifierOptions,
  policies: Policy[],
  handler: (request: Request, auth: AuthInfo) => Response | Promise<Response>,
): (request: Request) => Promise<Response> {
  const authenticate = createAuthenticator(verifier);
  return async (request) => {
    const result = await authenticate(request, ...policies);
    if (!result.ok) return result.response;
    const response = await handler(request, result.auth);
    const extra = Object.entries(result.headers);
    if (extra.length === 0) return response;
    // Some responses (e.g. from fetch) have immutable headers: copy into a new one.
    const headers = new Headers(response.headers);
    for (const [name, value] of extra) headers.set(name, value);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}
