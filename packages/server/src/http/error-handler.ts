/**
 * The one place errors are rendered. Each route declares how its errors look (`errorFormat` in the route
 * config): token-endpoint JSON (RFC 6749 §5.2) with Cache-Control: no-store, a Bearer challenge
 * (RFC 6750 §3), or an HTML page. Authorization errors after the redirect URI was verified go back to the
 * client (RFC 6749 §4.1.2.1 with RFC 9207 `iss`). A database that is unreachable or busy is 503
 * `temporarily_unavailable` with Retry-After (logged). Anything unexpected becomes `server_error` with no
 * internal detail, logged with the request id.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitRule } from '../context.ts';
import { noStoreHeaders } from '../endpoints/responses.ts';
import { AuthorizationRedirectError, OAuthError } from '../protocol/errors.ts';
import { createRedirectUrl } from '../protocol/redirect-uri.ts';
import { isTransientStorageError } from '../storage/index.ts';
import { pageSecurityHeaders } from '../views/html.ts';
import { errorPage } from '../views/pages.ts';

export type ErrorFormat = 'json' | 'bearer' | 'html';

declare module 'fastify' {
  interface FastifyContextConfig {
    errorFormat?: ErrorFormat;
    /** The per-IP rate limit rule applied before the handler runs. */
    ipRateLimit?: RateLimitRule;
    /** Browser-callable endpoint: CORS headers for registered origins. */
    cors?: boolean;
  }
}

/** Turns framework errors for bad input (bad media type, body too large, bad JSON) into protocol errors. */
function toOAuthError(error: unknown): OAuthError | undefined {
  if (error instanceof OAuthError) return error;
  // The database is down or busy: the client may retry; nothing about its request was wrong.
  if (isTransientStorageError(error)) {
    return new OAuthError(
      'temporarily_unavailable',
      'the service is temporarily unavailable; try again later',
      {
        status: 503,
        retryAfter: 1,
      },
    );
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 404) return new OAuthError('not_found', 'not found');
    if (status === 405) return new OAuthError('method_not_allowed', 'method not allowed');
    const description =
      fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'unsupported content type; use application/x-www-form-urlencoded'
        : fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'request body is too large'
          : 'malformed request';
    return new OAuthError('invalid_request', description, {
      status: status === 413 || status === 415 ? status : 400,
    });
  }
  return undefined;
}

/** `dpopAlgorithms`: the DPoP proof algorithms accepted, named in DPoP challenges (RFC 9449 §7.1). */
export function makeErrorHandler(issuer: string, dpopAlgorithms: readonly string[]) {
  return function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
    let oauthError = toOAuthError(error);
    if (oauthError === undefined) {
      request.log.error({ err: error }, 'unhandled error');
      oauthError = new OAuthError('server_error', 'the server encountered an unexpected condition');
    } else if (oauthError.status >= 500) {
      request.log.error({ err: error }, 'server error');
    }

    if (oauthError instanceof AuthorizationRedirectError) {
      const location = createRedirectUrl(oauthError.redirectUri, {
        error: oauthError.error,
        error_description: oauthError.description,
        state: oauthError.state,
        iss: issuer,
      });
      reply.code(303).headers(noStoreHeaders).header('location', location).send();
      return;
    }

    if (oauthError.retryAfter !== undefined) reply.header('retry-after', String(oauthError.retryAfter));
    const format = request.routeOptions.config?.errorFormat ?? 'json';
    if (format === 'html') {
      const title =
        oauthError.status === 429
          ? 'Too many attempts'
          : oauthError.status >= 500
            ? 'Something went wrong'
            : 'This request cannot be completed';
      reply
        .code(oauthError.status)
        .headers(pageSecurityHeaders)
        .send(errorPage(title, oauthError.description));
      return;
    }
    reply.code(oauthError.status).headers(noStoreHeaders);
    if (
      format === 'bearer' &&
      (oauthError.status === 401 || oauthError.status === 403 || oauthError.status === 400)
    ) {
      const parameters: string[] = [];
      if (!oauthError.bareChallenge) {
        parameters.push(
          `error="${oauthError.error}"`,
          `error_description="${oauthError.description.replace(/["\\]/g, '')}"`,
        );
      }
      if (oauthError.error === 'insufficient_scope') parameters.push('scope="openid"');
      const bearer = `Bearer ${['realm="gatehouse"', ...parameters].join(', ')}`;
      // RFC 9449 §7.1: the DPoP scheme names the proof algorithms accepted.
      const dpop = `DPoP ${[`algs="${dpopAlgorithms.join(' ')}"`, ...parameters].join(', ')}`;
      // No credentials at all: offer both schemes. Otherwise answer in the scheme of the failure.
      reply.header(
        'www-authenticate',
        oauthError.bareChallenge ? [bearer, dpop] : oauthError.challenge === 'DPoP' ? dpop : bearer,
      );
    } else if (oauthError.challenge === 'Basic' && oauthError.status === 401) {
      reply.header('www-authenticate', 'Basic realm="gatehouse", charset="UTF-8"');
    }
    reply.type('application/json').send(JSON.stringify(oauthError.toJSON()));
  };
}
