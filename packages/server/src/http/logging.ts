/**
 * pino logging: one line per request with its id, secrets never written. Credential-bearing query
 * parameters are masked (a misbehaving client may put a token or code in a URL); headers and bodies that
 * carry credentials are redacted by path. `loggerOptions` redacts free-form objects (errors, handler and
 * background messages); `recordLoggerOptions` writes only fixed-shape records (the per-request line, audit
 * events) that no redaction path can match, so it skips the redaction pass.
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
