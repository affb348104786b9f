/**
 * pino logging: one line per request with its id, secrets and personal data never written. Request
 * parameters in logged URLs are masked unless they are on a list of parameters known to carry neither
 * credentials nor personal data (a misbehaving client may put any token, code, hint or assertion in a URL);
 * errors are logged through an allow-list of their fields (never a raw request packet, a query's values or
 * a driver's row detail), with URLs in their messages masked the same way. Headers and bodies are never
 * logged. `loggerOptions` is the logger for errors, handler and background messages; `recordLoggerOptions`
 * writes only fixed-shape records (the per-request line, audit events).
 */
import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';

/** Parameters whose values are protocol vocabulary, registered identifiers or public URLs. */
const safeParams = new Set([
  'response_type',
  'response_mode',
  'client_id',
  'redirect_uri',
  'post_logout_redirect_uri',
  'scope',
  'prompt',
  'max_age',
  'display',
  'ui_locales',
  'claims_locales',
  'acr_values',
  'code_challenge_method',
  'grant_type',
  'token_type_hint',
  'client_assertion_type',
  'subject_token_type',
  'actor_token_type',
  'requested_token_type',
  'resource',
  'audience',
  'error',
  'error_description',
  'iss',
]);

const masked = '[redacted]';

/** The URL with the value of every parameter not known to be safe replaced. */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  const kept = new URLSearchParams();
  for (const [name, value] of params) kept.append(name, safeParams.has(name) ? value : masked);
  return `${url.slice(0, queryStart)}?${kept.toString()}`;
}

/** Masks the query of every URL or path in free text (framework and driver messages may quote a URL). */
function redactUrlsIn(text: string): string {
  return text.replace(/[^\s'"`?]*\?[^\s'"`]*/g, redactUrl);
}

/** The per-request line's `req` field. */
export function requestSummary(request: FastifyRequest): {
  method: string;
  url: string;
  remoteAddress: string;
} {
  return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
}

/** The fields of an error that are logged: what it is and where it came from, never what it carried. */
const errorFields = ['code', 'errno', 'syscall', 'address', 'port', 'status', 'statusCode', 'error'] as const;

export function errorSummary(error: unknown, depth = 0): Record<string, unknown> {
  if (error === null || typeof error !== 'object') return { message: redactUrlsIn(String(error)) };
  const source = error as Record<string, unknown>;
  const summary: Record<string, unknown> = { type: error.constructor?.name ?? 'Object' };
  if (typeof source.message === 'string') summary.message = redactUrlsIn(source.message);
  for (const field of errorFields) {
    const value = source[field];
    if (typeof value === 'string' || typeof value === 'number') summary[field] = value;
  }
  if (typeof source.stack === 'string') summary.stack = redactUrlsIn(source.stack);
  if (source.cause !== undefined && depth < 3) summary.cause = errorSummary(source.cause, depth + 1);
  return summary;
}

export function recordLoggerOptions(level: string): LoggerOptions {
  return { level };
}

export function loggerOptions(level: string): LoggerOptions {
  return { level, serializers: { req: requestSummary, err: errorSummary } };
}
