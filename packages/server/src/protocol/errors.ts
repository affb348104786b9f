/**
 * One error type for every protocol failure (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1).
 *
 * Thrown anywhere, rendered in exactly one place (http/error-handler.ts) as token-endpoint JSON,
 * an authorization redirect, a WWW-Authenticate challenge or an HTML page. `description` is shown to
 * the caller, so it never carries internal detail.
 */
import type { MessageKey } from '../views/locales/en.ts';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'not_found'
  | 'method_not_allowed'
  // RFC 8628 §3.5: device authorization grant polling.
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  // RFC 9449 §5, §7.1, §8, §9: DPoP.
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  // RFC 9126 §4, OpenID Connect Core §3.1.2.6: a request_uri that is unknown, expired, used or not the client's.
  | 'invalid_request_uri'
  // OpenID Connect Core §6.1, §6.2: request objects (`request`, a fetched `request_uri`) are not supported.
  | 'request_not_supported'
  | 'request_uri_not_supported'
  // OpenID Connect CIBA Core §13: authentication request errors.
  | 'unknown_user_id'
  | 'expired_login_hint_token'
  | 'invalid_binding_message'
  | 'missing_user_code'
  | 'invalid_user_code'
  // RFC 7591 §3.2.2: a registration refused for its redirect URIs or other metadata.
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  // RFC 9110 §15.5.10, §15.5.13 and RFC 6585 §3: the admin API's writes (a taken id, a stale or missing If-Match).
  | 'conflict'
  | 'precondition_failed'
  | 'precondition_required';

const defaultStatus: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  server_error: 500,
  temporarily_unavailable: 503,
  login_required: 400,
  consent_required: 400,
  interaction_required: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  not_found: 404,
  method_not_allowed: 405,
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  invalid_request_uri: 400,
  request_not_supported: 400,
  request_uri_not_supported: 400,
  unknown_user_id: 400,
  expired_login_hint_token: 400,
  invalid_binding_message: 400,
  missing_user_code: 400,
  invalid_user_code: 400,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  conflict: 409,
  precondition_failed: 412,
  precondition_required: 428,
};

export interface OAuthErrorOptions {
  status?: number;
  /**
   * Authentication scheme challenge for 401s (`Basic` at the token endpoint, `Bearer` at userinfo, `DPoP`
   * at userinfo for DPoP-bound tokens and proof errors, RFC 9449 §7.1).
   */
  challenge?: 'Basic' | 'Bearer' | 'DPoP';
  /** RFC 6750 §3.1: a request with no credentials at all gets a challenge without an error code. */
  bareChallenge?: boolean;
  /** Seconds for a Retry-After header (rate limiting). */
  retryAfter?: number;
  /**
   * For an error a user meets on a page: the message of the page catalogues (views/locales/en.ts) that
   * says `description` in the user's language on the HTML error page.
   */
  pageMessage?: MessageKey;
  /** Each problem with the input, by field (the admin API's problem details list them, RFC 9457 §3.2). */
  details?: readonly InputProblem[];
}

/** One problem with a field of the input: `field` is its path (`redirectUris.0`), empty for the whole. */
export interface InputProblem {
  field: string;
  message: string;
}

export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly description: string;
  readonly status: number;
  readonly challenge: 'Basic' | 'Bearer' | 'DPoP' | undefined;
  readonly bareChallenge: boolean;
  readonly retryAfter: number | undefined;
  readonly pageMessage: MessageKey | undefined;
  readonly details: readonly InputProblem[];

  constructor(error: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(description);
    this.name = 'OAuthError';
    this.error = error;
    this.description = description;
    this.status = options.status ?? defaultStatus[error];
    this.challenge = options.challenge;
    this.bareChallenge = options.bareChallenge ?? false;
    this.retryAfter = options.retryAfter;
    this.pageMessage = options.pageMessage;
    this.details = options.details ?? [];
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

/** RFC 6749 §5.2: a failed client authentication, with a Basic challenge (answered with status 401). */
export function invalidClient(description: string): OAuthError {
  return new OAuthError('invalid_client', description, { challenge: 'Basic' });
}

/**
 * An error found at /authorize after the client and redirect URI were verified: it is sent back to
 * the client's redirect URI (RFC 6749 §4.1.2.1) instead of being shown to the user.
 */
export class AuthorizationRedirectError extends OAuthError {
  readonly redirectUri: string;
  readonly state: string | undefined;

  constructor(error: OAuthErrorCode, description: string, redirectUri: string, state: string | undefined) {
    super(error, description);
    this.redirectUri = redirectUri;
    this.state = state;
  }
}
