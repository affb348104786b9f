/**
 * Error classes with a stable `code`. Every failure the client can meet (network, timeout, a response
 * that is not what the specification says, an OAuth error response per RFC 6749 §5.2, a session that
 * needs a new login) surfaces as one of these, so callers can branch on `code` or `instanceof`.
 */

/** Stable codes of {@link GatehouseClientError}. */
export type ClientErrorCode =
  | 'network_error'
  | 'timeout'
  | 'aborted'
  | 'invalid_response'
  | 'response_too_large'
  | 'http_error'
  | 'oauth_error'
  | 'login_required'
  | 'state_mismatch'
  | 'issuer_mismatch'
  | 'id_token_invalid'
  | 'unsupported'
  | 'device_code_expired'
  | 'auth_req_id_expired';

/** Base class of every error the client throws. */
export class GatehouseClientError extends Error {
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatehouseClientError';
    this.code = code;
  }
}

/** The server answered with an OAuth error (RFC 6749 §5.2, §4.1.2.1; RFC 6750 §3; RFC 8628 §3.5). */
export class OAuthResponseError extends GatehouseClientError {
  /** The `error` code, e.g. `invalid_grant`. */
  readonly error: string;
  readonly errorDescription: string | undefined;
  /** HTTP status, or 0 for an error returned on the redirect URI. */
  readonly status: number;

  constructor(error: string, errorDescription: string | undefined, status: number) {
    super('oauth_error', errorDescription ? `${error}: ${errorDescription}` : error);
    this.name = 'OAuthResponseError';
    this.error = error;
    this.errorDescription = errorDescription;
    this.status = status;
  }
}

/** The user session is gone (no session, or its refresh token was refused): start a new login. */
export class LoginRequiredError extends GatehouseClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('login_required', message, options);
    this.name = 'LoginRequiredError';
  }
}
