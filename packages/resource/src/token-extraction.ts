/**
 * Where an access token may come from (RFC 6750 §2): the Authorization header with the Bearer scheme
 * (§2.1) or, when DPoP is on, the DPoP scheme (RFC 9449 §7.1), its credentials a token68; a form-encoded
 * body (§2.2) only when enabled; the query string (§2.3) refused. Two ways at once are refused. A header
 * that is not `scheme [credentials]` (RFC 9110 §11.6.2), or a Bearer/DPoP one whose credentials are not one
 * token68, is malformed (400 invalid_request, RFC 6750 §3.1); another scheme counts as no token (401).
 */
import { AuthError, invalidToken } from './errors.ts';
import type { AuthRequest, PresentedToken } from './model.ts';

const token68 = /^[A-Za-z0-9\-._~+/]+=*$/;
/** RFC 9110 §11.6.2: an auth-scheme (a token, §5.6.2), then nothing or spaces and credentials. */
const authorizationSyntax = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?: .*)?$/;

/** The first value of a header. */
export function headerValue(headers: AuthRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Finds the request's token; undefined when it has none, AuthError for a query token or ambiguity. */
export type TokenExtractor = (request: AuthRequest) => PresentedToken | undefined;

export function createTokenExtractor(settings: {
  maxTokenLength: number;
  /** Whether the DPoP scheme is accepted. */
  dpop: boolean;
  allowFormBodyToken: boolean;
}): TokenExtractor {
  const { maxTokenLength, dpop, allowFormBodyToken } = settings;
  return function extractToken(request) {
    const queryAt = request.path.indexOf('?');
    if (queryAt >= 0 && request.path.includes('access_token', queryAt)) {
      const query = new URLSearchParams(request.path.slice(queryAt + 1));
      if (query.has('access_token')) {
        throw new AuthError(
          'invalid_request',
          'query_token',
          'access tokens in the query string are not accepted',
        );
      }
    }
    const authorization = headerValue(request.headers, 'authorization');
    let fromHeader: PresentedToken | undefined;
    if (authorization !== undefined) {
      if (authorization.length > maxTokenLength + 16) {
        throw invalidToken('token_too_large', 'the token is too large');
      }
      if (!authorizationSyntax.test(authorization)) {
        throw new AuthError('invalid_request', 'malformed_header', 'the Authorization header is malformed');
      }
      const space = authorization.indexOf(' ');
      const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
      if (scheme === 'bearer' || (scheme === 'dpop' && dpop)) {
        const token = space < 0 ? '' : authorization.slice(space + 1).trim();
        if (!token68.test(token)) {
          throw new AuthError('invalid_request', 'malformed_header', 'the Authorization header is malformed');
        }
        fromHeader = { token, scheme };
      }
    }
    const body = request.body;
    if (
      allowFormBodyToken &&
      typeof body === 'object' &&
      body !== null &&
      request.method !== 'GET' &&
      headerValue(request.headers, 'content-type')
        ?.toLowerCase()
        .startsWith('application/x-www-form-urlencoded')
    ) {
      const value = (body as Record<string, unknown>).access_token;
      if (value !== undefined) {
        if (fromHeader !== undefined) {
          throw new AuthError(
            'invalid_request',
            'multiple_tokens',
            'only one way of sending the token is allowed',
          );
        }
        if (typeof value !== 'string' || !token68.test(value)) {
          throw new AuthError(
            'invalid_request',
            'malformed_header',
            'the access_token parameter is malformed',
          );
        }
        return { token: value, scheme: 'bearer' };
      }
    }
    return fromHeader;
  };
}
