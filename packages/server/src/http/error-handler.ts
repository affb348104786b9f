/**
 * The one place errors are rendered. Each route declares how its errors look (`errorFormat` in the route
 * config; framework errors that precede routing take the format of the route their path names):
 * token-endpoint JSON (RFC 6749 §5.2) with Cache-Control: no-store, a Bearer challenge (RFC 6750 §3), or
 * the HTML error page with the error code, the request id and a way back. Authorization errors after the
 * redirect URI was verified go back to the client (RFC 6749 §4.1.2.1 with RFC 9207 `iss`). The framework's
 * own errors (bad URL, body too large or of another type) become `invalid_request` without echoing the
 * request; a store that is down, busy, full or read-only is 503 `temporarily_unavailable` with
 * Retry-After, logged with its cause; anything unexpected is `server_error` with no internal detail, logged
 * with the request id. A client that hung up mid-request is logged as such, not as a server error.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitRule } from '../context.ts';
import type { ClientSite } from '../endpoints/client-site.ts';
import { noStoreHeaders } from '../endpoints/responses.ts';
import { AuthorizationRedirectError, OAuthError } from '../protocol/errors.ts';
import { createRedirectUrl } from '../protocol/redirect-uri.ts';
import { isTransientStorageError } from '../storage/index.ts';
import type { Ui } from '../views/templates.ts';

/** `problem`: RFC 9457 problem details (the admin API), with the Bearer/DPoP challenge of a 401. */
export type ErrorFormat = 'json' | 'bearer' | 'html' | 'problem';

declare module 'fastify' {
  interface FastifyContextConfig {
    errorFormat?: ErrorFormat;
    /** The per-IP rate limit rule applied before the handler runs. */
    ipRateLimit?: RateLimitRule;
    /** Browser-callable endpoint: CORS headers for registered origins. */
    cors?: boolean;
    /** The route reads a JSON body (RFC 7591 registration, the admin API); every other route refuses JSON with 415. */
    jsonBody?: boolean;
  }
}

export interface ErrorRendering {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

export interface ErrorRenderOptions {
  issuer: string;
  /** The DPoP proof algorithms accepted, named in DPoP challenges (RFC 9449 §7.1). */
  dpopAlgorithms: readonly string[];
  /** Headers every response carries (Strict-Transport-Security for an https issuer). */
  responseHeaders: Readonly<Record<string, string>>;
  /** The pages: the error template, the theme and the translations (the management listener has none: JSON only). */
  ui?: Ui | undefined;
}

/** What the framework reports for bad input, said without echoing the request. */
const frameworkDescriptions: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type; use application/x-www-form-urlencoded',
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is too large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the request body does not match its Content-Length',
  FST_ERR_BAD_URL: 'the request URL is not valid',
  FST_ERR_MAX_PARAM_LENGTH: 'the request URL is too long',
  HPE_HEADER_OVERFLOW: 'the request headers are too large',
  ERR_HTTP_REQUEST_TIMEOUT: 'the request was not received in time',
};
/** Statuses of client errors that say more than 400 (RFC 9110 §15.5). */
const keptStatuses = new Set([408, 413, 414, 415, 431]);

/** A framework or HTTP-parser error for bad input as a protocol error; undefined for anything else. */
export function clientErrorOf(code: string | undefined, status: number | undefined): OAuthError | undefined {
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  if (status === 404) return new OAuthError('not_found', 'not found');
  if (status === 405) return new OAuthError('method_not_allowed', 'method not allowed');
  return new OAuthError('invalid_request', frameworkDescriptions[code ?? ''] ?? 'malformed request', {
    status: keptStatuses.has(status) ? status : 400,
  });
}

/** The protocol error to answer `error` with, logging what the operator must see. */
function describeError(error: unknown, request: FastifyRequest): OAuthError {
  if (error instanceof OAuthError) {
    if (error.status >= 500) request.log.error({ err: error }, 'server error');
    return error;
  }
  // The client hung up before its request was complete (an aborted upload): nobody reads the answer, and
  // nothing is wrong with the server.
  if (request.raw.readableAborted) {
    request.log.info({ err: error }, 'the client closed the connection before its request was complete');
    return new OAuthError('invalid_request', 'the request was not received completely');
  }
  // The database is down, busy, full or read-only: the client may retry; nothing about its request was wrong.
  if (isTransientStorageError(error)) {
    request.log.error({ err: error }, 'storage unavailable');
    return new OAuthError(
      'temporarily_unavailable',
      'the service is temporarily unavailable; try again later',
      { status: 503, retryAfter: 1 },
    );
  }
  const fastifyError = error as Partial<FastifyError>;
  const clientError = clientErrorOf(fastifyError.code, fastifyError.statusCode);
  if (clientError !== undefined) return clientError;
  request.log.error({ err: error }, 'unhandled error');
  return new OAuthError('server_error', 'the server encountered an unexpected condition');
}

/** The answer for `error` in `format`, with the error page's request id and way back. */
export function renderError(
  error: OAuthError,
  format: ErrorFormat,
  options: ErrorRenderOptions,
  page: {
    requestId: string;
    clientSite?: ClientSite | undefined;
    uiLocales?: readonly string[] | undefined;
    acceptLanguage?: string | undefined;
  },
): ErrorRendering {
  const headers: Record<string, string | string[]> = { ...options.responseHeaders };
  if (error.retryAfter !== undefined) headers['retry-after'] = String(error.retryAfter);
  const { ui } = options;
  if (format === 'html' && ui !== undefined) {
    const back = page.clientSite
      ? { href: page.clientSite.href, clientName: page.clientSite.name }
      : { href: `${options.issuer}/`, clientName: undefined };
    return {
      status: error.status,
      headers: { ...headers, ...ui.theme.securityHeaders },
      body: ui.pages.error(
        {
          status: error.status,
          message: error.description,
          messageKey: error.pageMessage,
          code: error.error,
          requestId: page.requestId,
          back,
        },
        ui.pageUi(page.uiLocales, page.acceptLanguage),
      ),
    };
  }
  Object.assign(headers, noStoreHeaders);
  if (
    (format === 'bearer' || format === 'problem') &&
    (error.status === 401 || error.status === 403 || error.status === 400)
  ) {
    const parameters: string[] = [];
    if (!error.bareChallenge) {
      parameters.push(
        `error="${error.error}"`,
        `error_description="${error.description.replace(/["\\]/g, '')}"`,
      );
    }
    if (error.error === 'insufficient_scope' && format === 'bearer') parameters.push('scope="openid"');
    const bearer = `Bearer ${['realm="gatehouse"', ...parameters].join(', ')}`;
    // RFC 9449 §7.1: the DPoP scheme names the proof algorithms accepted.
    const dpop = `DPoP ${[`algs="${options.dpopAlgorithms.join(' ')}"`, ...parameters].join(', ')}`;
    // No credentials at all: offer both schemes. Otherwise answer in the scheme of the failure.
    headers['www-authenticate'] = error.bareChallenge
      ? [bearer, dpop]
      : error.challenge === 'DPoP'
        ? dpop
        : bearer;
  } else if (error.challenge === 'Basic' && error.status === 401) {
    headers['www-authenticate'] = 'Basic realm="gatehouse", charset="UTF-8"';
  }
  if (format === 'problem') {
    headers['content-type'] = 'application/problem+json';
    return { status: error.status, headers, body: JSON.stringify(problemDetails(error)) };
  }
  headers['content-type'] = 'application/json';
  return { status: error.status, headers, body: JSON.stringify(error.toJSON()) };
}

/** Reason phrases for the `title` of problem details (RFC 9110 §15). */
const statusTitles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * RFC 9457 §3: `type` is about:blank (§4.2.1: the title is the status's reason phrase), `detail` the
 * description; the extension members `error` (the stable code, as OAuth errors carry it) and `errors`
 * (each problem by field, §3.2) are what a program reads.
 */
export function problemDetails(error: OAuthError): Record<string, unknown> {
  return {
    type: 'about:blank',
    title: statusTitles[error.status] ?? 'Error',
    status: error.status,
    detail: error.description,
    error: error.error,
    ...(error.details.length > 0 ? { errors: error.details } : {}),
  };
}

/**
 * The Fastify error handler (and handler of the framework's errors before routing). `formatOf` names the
 * error format of the route a path belongs to, for requests that never reached a route.
 */
export function makeErrorHandler(options: ErrorRenderOptions, formatOf: (url: string) => ErrorFormat) {
  return function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const oauthError = describeError(error, request);
    if (oauthError instanceof AuthorizationRedirectError) {
      const location = createRedirectUrl(oauthError.redirectUri, {
        error: oauthError.error,
        error_description: oauthError.description,
        state: oauthError.state,
        iss: options.issuer,
      });
      reply.code(303).headers(noStoreHeaders).header('location', location).send();
      return;
    }
    const format = request.routeOptions.config?.errorFormat ?? formatOf(request.url);
    const rendering = renderError(oauthError, format, options, {
      requestId: request.id,
      clientSite: request.clientSite,
      uiLocales: request.uiLocales,
      acceptLanguage: request.headers['accept-language'],
    });
    reply.code(rendering.status).headers(rendering.headers).send(rendering.body);
  };
}
