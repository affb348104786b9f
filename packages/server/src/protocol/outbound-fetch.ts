/**
 * Every request the server makes to a URL it was given (RFC 9700 §4.16, server-side request forgery): one
 * `openGuarded` makes each connection, after `checkUrl`: https (http on loopback hosts), no credentials in
 * the URL, non-public addresses refused unless configured (outbound-address.ts, checked in the
 * connection's own DNS lookup, and for a literal address before it). Three ways to use it:
 * - `guardedGet`, a GET of a URL a client gave (a `jwks_uri`, a client ID metadata document): redirects
 *   followed at most `maxRedirects` times, each checked like the first URL, one timeout for the whole
 *   fetch, a size cap on the body; errors from `fail`, so each caller names its own URL in them;
 * - `postOutbound`, one POST (the CIBA notifier's webhook, a client's ping endpoint, CIBA Core §10.2): no
 *   redirects followed, a timeout, the answer's body drained unread;
 * - `guardedFetch`, a `fetch` for @gatehouse/client talking to an upstream provider (discovery, JWKS, token,
 *   userinfo): redirects not followed; the client adds the timeout and the size cap.
 */
import {
  type ClientRequest,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { BlockedAddressError, guardedLookup, isNonPublicAddress } from './outbound-address.ts';

export interface OutboundFetchOptions {
  allowPrivateAddresses: boolean;
  /** Milliseconds for the whole fetch, redirects included. */
  timeout: number;
  maxBytes: number;
}

export interface OutboundRequest {
  /** The Accept header. */
  accept: string;
  /** Redirects followed (each checked like the first URL); one more is a failure. */
  maxRedirects: number;
  /** Makes the error for a failure; the message says what failed (`what` leads it). */
  fail: (message: string) => Error;
  /** The name of the URL in messages, e.g. `jwks_uri`. */
  what: string;
  /** An Authorization header (an upstream's userinfo): give such a request `maxRedirects: 0`. */
  authorization?: string;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const loopbackHosts = ['localhost', '127.0.0.1', '[::1]'];

/** The checks before any connection: scheme, no credentials, no literal non-public address (unless allowed). */
export function checkUrl(
  url: URL,
  options: Pick<OutboundFetchOptions, 'allowPrivateAddresses'>,
  request: Pick<OutboundRequest, 'fail' | 'what'>,
): void {
  const loopbackHttp = url.protocol === 'http:' && loopbackHosts.includes(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) throw request.fail(`${request.what} must use https`);
  if (url.username !== '' || url.password !== '')
    throw request.fail(`${request.what} must not carry credentials`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A literal address skips DNS (and so the guarded lookup): check it here.
  if (!options.allowPrivateAddresses && isIP(host) !== 0 && isNonPublicAddress(host))
    throw new BlockedAddressError(host);
}

/** Opens a request to a checked URL, its connection made through the guarded lookup unless allowed. */
function openGuarded(
  url: URL,
  options: {
    method: string;
    headers: Record<string, string>;
    signal: AbortSignal | undefined;
    allowPrivateAddresses: boolean;
  },
): ClientRequest {
  return (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: options.method,
    headers: options.headers,
    signal: options.signal,
    agent: false,
    ...(options.allowPrivateAddresses ? {} : { lookup: guardedLookup }),
  });
}

function get(
  url: URL,
  options: OutboundFetchOptions,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = openGuarded(url, {
      method: 'GET',
      headers,
      signal,
      allowPrivateAddresses: options.allowPrivateAddresses,
    });
    request.once('response', resolve);
    request.once('error', reject);
    request.end();
  });
}

function readBody(response: IncomingMessage, maxBytes: number, request: OutboundRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      response.destroy();
      reject(request.fail(`${request.what} document is too large`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        response.destroy();
        reject(request.fail(`${request.what} document is too large`));
        return;
      }
      chunks.push(chunk);
    });
    response.once('end', () => resolve(Buffer.concat(chunks)));
    response.once('error', reject);
    response.once('aborted', () => reject(request.fail(`${request.what} response was cut off`)));
  });
}

/**
 * Fetches `uri`; any status other than a followed redirect is returned with its body (within the cap).
 * Throws `request.fail(...)` errors, or BlockedAddressError for a refused address.
 */
export async function guardedGet(
  uri: string,
  options: OutboundFetchOptions,
  request: OutboundRequest,
): Promise<OutboundResponse> {
  const signal = AbortSignal.timeout(options.timeout);
  let url = new URL(uri);
  // The failures made here are thrown as they are; anything else is wrapped below.
  const made = new WeakSet<Error>();
  const { fail: makeError } = request;
  request = {
    ...request,
    fail: (message) => {
      const error = makeError(message);
      made.add(error);
      return error;
    },
  };
  try {
    for (let redirects = 0; ; redirects++) {
      checkUrl(url, options, request);
      const { accept, authorization } = request;
      // Some APIs (GitHub's) refuse a request without a User-Agent.
      const headers = { accept, 'user-agent': 'Gatehouse', ...(authorization ? { authorization } : {}) };
      const response = await get(url, options, headers, signal);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location !== undefined) {
        response.resume();
        if (redirects >= request.maxRedirects)
          throw request.fail(
            request.maxRedirects === 0
              ? `${request.what} redirects, which is not allowed`
              : `${request.what} redirects too often`,
          );
        url = new URL(response.headers.location, url);
        continue;
      }
      return { status, headers: response.headers, body: await readBody(response, options.maxBytes, request) };
    }
  } catch (error) {
    if (made.has(error as Error) || error instanceof BlockedAddressError) throw error;
    if (signal.aborted) throw request.fail(`${request.what} fetch timed out`);
    if ((error as Error).cause instanceof BlockedAddressError) throw (error as Error).cause;
    throw request.fail(`${request.what} fetch failed: ${(error as Error).message}`);
  }
}

export interface OutboundPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds for the whole exchange. */
  timeout: number;
  allowPrivateAddresses: boolean;
}

export class OutboundPostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundPostError';
  }
}

/** Sends the POST and resolves with the answer's status; throws OutboundPostError or BlockedAddressError. */
export function postOutbound(post: OutboundPost): Promise<number> {
  const url = new URL(post.url);
  try {
    checkUrl(url, post, { what: 'the URL', fail: (message) => new OutboundPostError(message) });
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const request = openGuarded(url, {
      method: 'POST',
      headers: { ...post.headers, 'content-length': String(Buffer.byteLength(post.body)) },
      signal: AbortSignal.timeout(post.timeout),
      allowPrivateAddresses: post.allowPrivateAddresses,
    });
    request.once('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once('error', (error: Error) => {
      if (error.cause instanceof BlockedAddressError) reject(error.cause);
      else if (error instanceof BlockedAddressError) reject(error);
      else reject(new OutboundPostError(error.name === 'AbortError' ? 'timed out' : error.message));
    });
    request.end(post.body);
  });
}

function headersOf(response: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

/** A fetch that connects only where the guard allows; `allowPrivateAddresses` is for tests. */
export function guardedFetch(allowPrivateAddresses: boolean): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      checkUrl(
        url,
        { allowPrivateAddresses },
        { what: url.origin, fail: (message) => new TypeError(message) },
      );
      const request = openGuarded(url, {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(new Headers(init.headers).entries()),
        signal: init.signal ?? undefined,
        allowPrivateAddresses,
      });
      request.once('response', (response) => {
        const status = response.statusCode ?? 0;
        const body = status === 204 || status === 304 ? null : (Readable.toWeb(response) as ReadableStream);
        resolve(new Response(body, { status, headers: headersOf(response) }));
      });
      request.once('error', (error) =>
        reject(error.cause instanceof BlockedAddressError ? error.cause : error),
      );
      request.end(typeof init.body === 'string' ? init.body : undefined);
    });
}
