/**
 * The one error type of the library, carrying what an RFC 6750 §3 / RFC 9449 §7.1 challenge needs.
 *
 * `code` is stable and machine-readable (for logs and metrics); `description` is safe to send to the
 * client in `error_description` (it never contains the token or key material).
 */

/**
 * The `error` values of RFC 6750 §3.1, RFC 9449 §7.1 and §12.2, RFC 9470 §3 (`insufficient_user_authentication`),
 * plus `temporarily_unavailable`.
 */
export type AuthErrorKind =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'temporarily_unavailable';

/** Stable reason codes, one per check, for logs and metrics. */
export type AuthErrorCode =
  | 'missing_token'
  | 'query_token'
  | 'multiple_tokens'
  | 'malformed_header'
  | 'token_too_large'
  | 'malformed_token'
  | 'unsupported_alg'
  | 'wrong_typ'
  | 'unknown_crit'
  | 'unknown_kid'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'missing_claim'
  | 'inactive'
  | 'wrong_scheme'
  | 'dpop_missing'
  | 'dpop_invalid'
  | 'dpop_replay'
  | 'dpop_nonce'
  | 'dpop_binding'
  | 'mtls_binding'
  | 'insufficient_scope'
  | 'insufficient_role'
  | 'policy'
  | 'insufficient_acr'
  | 'auth_time_too_old'
  | 'keys_unavailable'
  | 'introspection_unavailable';

const statusOf: Record<AuthErrorKind, number> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  insufficient_user_authentication: 401,
  invalid_dpop_proof: 401,
  use_dpop_nonce: 401,
  temporarily_unavailable: 503,
};

/**
 * RFC 9470 §3: what a step-up challenge asks the client to obtain: a token with one of these `acr` values
 * (space-separated, as `acr_values` of the authorization request), and/or one whose authentication is at
 * most `maxAge` seconds old.
 */
export interface StepUpRequirement {
  acrValues?: string;
  maxAge?: number;
}

export class AuthError extends Error {
  override readonly name = 'AuthError';
  /** The HTTP status to answer with: 400, 401, 403 or 503. */
  readonly status: number;

  constructor(
    readonly error: AuthErrorKind,
    readonly code: AuthErrorCode,
    readonly description: string,
    /** For `insufficient_scope`: the scopes the resource requires (the `scope` challenge parameter). */
    readonly scope?: string,
    /** For `insufficient_user_authentication`: the `acr_values` and `max_age` challenge parameters. */
    readonly stepUp?: StepUpRequirement,
  ) {
    super(description);
    this.status = statusOf[error];
  }
}

export const invalidToken = (code: AuthErrorCode, description: string): AuthError =>
  new AuthError('invalid_token', code, description);
