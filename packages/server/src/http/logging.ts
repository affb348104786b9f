/**
 * pino logging: one line per request with its id, secrets never written. Query strings are logged with
 * credential-bearing parameters masked (a misbehaving client may put a token or code in a URL), and
 * headers and bodies that carry credentials are redacted by path.
 *
 * Two loggers share one destination. The main one (`loggerOptions`) redacts: it takes free-form objects
 * (errors, request loggers of handlers, start-up and background messages). The records logger
 * (`recordLoggerOptions`) writes only the fixed-shape records of the hot path, the per-request line (method,
 * masked URL, address, status, time) and audit events (flat scalar fields): nothing in them can match a
 * redaction path, and the redaction pass cost about as much as formatting the line itself.
 */
import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';

const sensitiveParams = new Set([
  'access_token',
  'refresh_token',
  'id_token',
  'id_token_hint',
  'code',
  'code_verifier',
  'client_secret',
  'client_assertion',
  'password',
  'token',
  'csrf',
  'state',
  'nonce',
]);

export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  for (const name of [...params.keys()]) {
    if (sensitiveParams.has(name)) params.set(name, '[redacted]');
  }
  return `${url.slice(0, queryStart)}?${params.toString()}`;
}

/** The per-request line's `req` field. */
export function requestSummary(request: FastifyRequest): {
  method: string;
  url: string;
  remoteAddress: string;
} {
  return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
}

export function recordLoggerOptions(level: string): LoggerOptions {
  return { level };
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers.dpop',
        'res.headers["set-cookie"]',
        'res.headers.location',
        '*.password',
        '*.client_secret',
        '*.refresh_token',
        '*.access_token',
        '*.code',
        '*.code_verifier',
      ],
      censor: '[redacted]',
    },
    serializers: { req: requestSummary },
  };
}
