/**
 * Fetch-style adapter for servers built on web Request/Response (Hono, Bun, Deno, Node with undici):
 * `authenticate(request)` resolves the verified token or a ready-made RFC 6750 / RFC 9449 refusal
 * `Response`; `withAuth` wraps a handler and also answers the RFC 9728 metadata request (no token
 * needed) when `resourceMetadata` is configured; `resourceMetadataHandler` serves it alone.
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
  return authenticatorOf('authenticate' in verifier ? verifier : createVerifier(verifier), allowBody);
}

function authenticatorOf(
  resolved: Verifier,
  allowBody: boolean,
): (request: Request, ...policies: Policy[]) => Promise<FetchAuthResult> {
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

/**
 * The RFC 9728 metadata as a fetch handler: a `Response` for a GET or HEAD of its well-known path, or
 * undefined for any other request.
 */
export function resourceMetadataHandler(
  verifier: Verifier | VerifierOptions,
): (request: Request) => Response | undefined {
  const resolved = 'authenticate' in verifier ? verifier : createVerifier(verifier);
  return (request) => {
    const url = new URL(request.url);
    const answer = resolved.resourceMetadataResponse(request.method, url.pathname);
    if (answer === undefined) return undefined;
    return new Response(request.method === 'HEAD' ? null : answer.body, {
      status: answer.status,
      headers: answer.headers,
    });
  };
}

/** Wraps a handler: it runs only for authenticated requests that pass `policies`. */
export function withAuth(
  verifier: Verifier | VerifierOptions,
  policies: Policy[],
  handler: (request: Request, auth: AuthInfo) => Response | Promise<Response>,
): (request: Request) => Promise<Response> {
  const resolved = 'authenticate' in verifier ? verifier : createVerifier(verifier);
  const allowBody = !('authenticate' in verifier) && verifier.allowFormBodyToken === true;
  const authenticate = authenticatorOf(resolved, allowBody);
  const metadata = resourceMetadataHandler(resolved);
  return async (request) => {
    const served = metadata(request);
    if (served !== undefined) return served;
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
