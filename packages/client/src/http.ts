/**
 * HTTP for every call the client makes: global fetch with a timeout and the caller's AbortSignal, a cap on
 * the response size, and JSON parsing that turns each failure into a typed error. OAuth error bodies
 * (RFC 6749 §5.2) become {@link OAuthResponseError}. Nothing here can hang: the timeout covers the body too.
 */
import { GatehouseClientError, OAuthResponseError } from './errors.ts';

/** Transport settings shared by every request of a client. */
export interface HttpOptions {
  /** Milliseconds before a request (headers and body) is given up; default 10 000. */
  timeout?: number;
  /** Largest response body accepted, in bytes; default 1 MiB. */
  maxResponseSize?: number;
  /** A fetch implementation; default the global fetch. */
  fetch?: typeof fetch;
  /**
   * An undici dispatcher (Agent) passed to fetch, for example one with a client certificate for
   * mutual TLS (RFC 8705).
   */
  dispatcher?: unknown;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Cancels the request. */
  signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: string;
}

const defaultTimeout = 10_000;
const defaultMaxResponseSize = 1024 * 1024;

/**
 * The deadline of one request: the signal to give fetch (the caller's, if any, and the timeout), and the
 * typed error for whatever fetch threw: `aborted` when the caller cancelled, `timeout` when the time ran
 * out, `network_error` otherwise. Every request the client sends maps its failures here.
 */
export function requestDeadline(
  caller: AbortSignal | undefined,
  timeout: number,
): { signal: AbortSignal; failure: (cause: unknown, url: string) => GatehouseClientError } {
  const timeoutSignal = AbortSignal.timeout(timeout);
  return {
    signal: caller ? AbortSignal.any([caller, timeoutSignal]) : timeoutSignal,
    failure: (cause, url) => {
      if (caller?.aborted)
        return new GatehouseClientError('aborted', `request to ${url} was aborted`, { cause });
      if (timeoutSignal.aborted) {
        return new GatehouseClientError('timeout', `${url} did not answer within ${timeout} ms`, { cause });
      }
      return new GatehouseClientError('network_error', `request to ${url} failed`, { cause });
    },
  };
}

async function readLimited(response: Response, limit: number, url: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw new GatehouseClientError('response_too_large', `${url} answered with more than ${limit} bytes`);
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new GatehouseClientError('response_too_large', `${url} answered with more than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends one request; resolves with status, headers and the whole body, or throws a typed error. */
export async function httpRequest(
  url: string,
  request: HttpRequest,
  options: HttpOptions = {},
): Promise<HttpResponse> {
  const deadline = requestDeadline(request.signal, options.timeout ?? defaultTimeout);
  const doFetch = options.fetch ?? fetch;
  const init: RequestInit = {
    method: request.method,
    headers: request.headers ?? {},
    redirect: 'manual',
    signal: deadline.signal,
  };
  if (request.body !== undefined) init.body = request.body;
  if (options.dispatcher !== undefined) Object.assign(init, { dispatcher: options.dispatcher });
  try {
    const response = await doFetch(url, init);
    const body = await readLimited(response, options.maxResponseSize ?? defaultMaxResponseSize, url);
    return { status: response.status, headers: response.headers, body };
  } catch (error) {
    if (error instanceof GatehouseClientError) throw error;
    throw deadline.failure(error, url);
  }
}

function snippet(body: string): string {
  return body.length > 120 ? `${body.slice(0, 120)}...` : body;
}

/** Parses a JSON object body; anything else is `invalid_response`. */
export function parseJsonObject(response: HttpResponse, url: string): Record<string, unknown> {
  const type = response.headers.get('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type.trim())) {
    throw new GatehouseClientError(
      'invalid_response',
      `${url} answered ${response.status} with content type "${type}", not JSON: ${snippet(response.body)}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(response.body);
  } catch (error) {
    throw new GatehouseClientError('invalid_response', `${url} answered malformed JSON`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatehouseClientError('invalid_response', `${url} answered JSON that is not an object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Reads an OAuth endpoint's answer: a JSON object on 2xx, an
 * {@link OAuthResponseError} when the body carries `error`, `http_error` otherwise.
 */
export function oauthJson(response: HttpResponse, url: string): Record<string, unknown> {
  if (response.status >= 200 && response.status < 300) return parseJsonObject(response, url);
  let body: Record<string, unknown> | undefined;
  try {
    body = parseJsonObject(response, url);
  } catch {
    body = undefined;
  }
  if (body !== undefined && typeof body.error === 'string') {
    const description = typeof body.error_description === 'string' ? body.error_description : undefined;
    throw new OAuthResponseError(body.error, description, response.status);
  }
  throw new GatehouseClientError(
    'http_error',
    `${url} answered HTTP ${response.status}: ${snippet(response.body)}`,
  );
}

/** application/x-www-form-urlencoded body from defined values (repeated keys from arrays). */
export function formBody(values: Record<string, string | readonly string[] | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (typeof value === 'string') params.append(name, value);
    else for (const item of value) params.append(name, item);
  }
  return params.toString();
}
