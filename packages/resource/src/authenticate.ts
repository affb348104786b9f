/**
 * One request through the verifier: its token found (RFC 6750 §2), verified (an RFC 9068 JWT or RFC 7662
 * introspection), its sender binding checked (RFC 9449, RFC 8705), then the route's policies; every
 * refusal answered and logged once. The walk returns without a promise when nothing asynchronous is
 * needed (a known key or a cached token, no DPoP).
 */
import type { BindingCheck } from './binding.ts';
import { AuthError, invalidToken } from './errors.ts';
import {
  type Attempt,
  type AuthInfo,
  type AuthRequest,
  type AuthResult,
  noHeaders,
  type PresentedToken,
  type Refusal,
} from './model.ts';
import type { VerifierSettings } from './options.ts';
import type { Outcomes } from './outcome.ts';
import { firstRefusal, type Policy } from './policies.ts';
import type { TokenExtractor } from './token-extraction.ts';

export interface RequestAuthenticator {
  authenticateMaybeSync(request: AuthRequest, policies: readonly Policy[]): AuthResult | Promise<AuthResult>;
  authorize(auth: AuthInfo, policies: readonly Policy[], request?: AuthRequest): AuthResult;
}

export interface RequestAuthenticatorParts {
  extractToken: TokenExtractor;
  /** A JWT or an opaque token to its `AuthInfo`; throws or rejects with AuthError. */
  verifyToken: (token: string, attempt: Attempt) => AuthInfo | Promise<AuthInfo>;
  checkBinding: BindingCheck;
  outcomes: Outcomes;
  settings: Pick<VerifierSettings, 'dpop' | 'now' | 'onAuthentication'>;
}

export function createRequestAuthenticator(parts: RequestAuthenticatorParts): RequestAuthenticator {
  const { extractToken, verifyToken, checkBinding } = parts;
  const { refuse, fail, report } = parts.outcomes;
  const { dpop, now, onAuthentication } = parts.settings;

  function authorize(auth: AuthInfo, policies: readonly Policy[], request?: AuthRequest): AuthResult {
    const refusal = firstRefusal(auth, policies);
    if (refusal === undefined) return { ok: true, auth, headers: noHeaders };
    const attempt: Attempt = { claimedClient: auth.clientId, cached: false };
    const scheme = auth.binding === 'dpop' ? 'dpop' : 'bearer';
    if (request !== undefined) return fail(refusal, request, attempt, scheme, auth.format);
    return refuse(refusal, scheme);
  }

  /** Any error as a refusal: an AuthError as it is, anything else as an unverifiable token. */
  function failure(
    error: unknown,
    request: AuthRequest,
    attempt: Attempt,
    scheme: 'bearer' | 'dpop' | undefined,
  ): Refusal {
    const authError =
      error instanceof AuthError ? error : invalidToken('malformed_token', 'the token could not be verified');
    return fail(authError, request, attempt, scheme, attempt.format);
  }

  function complete(
    auth: AuthInfo,
    headers: Readonly<Record<string, string>>,
    request: AuthRequest,
    policies: readonly Policy[],
    attempt: Attempt,
  ): AuthResult {
    if (policies.length > 0) {
      const decision = authorize(auth, policies, request);
      if (!decision.ok) return decision;
    }
    if (onAuthentication !== undefined) {
      report({
        outcome: 'success',
        status: 200,
        reason: undefined,
        clientId: auth.clientId,
        format: auth.format,
        cached: attempt.cached,
      });
    }
    return { ok: true, auth, headers };
  }

  function afterVerification(
    auth: AuthInfo,
    presented: PresentedToken,
    request: AuthRequest,
    policies: readonly Policy[],
    attempt: Attempt,
  ): AuthResult | Promise<AuthResult> {
    attempt.format = auth.format;
    if (auth.binding === undefined && presented.scheme !== 'dpop' && dpop?.required !== true) {
      return complete(auth, noHeaders, request, policies, attempt);
    }
    const at = now();
    return checkBinding(auth, presented, request, at).then(
      () => {
        const headers =
          auth.binding === 'dpop' && dpop?.nonces !== undefined
            ? { 'dpop-nonce': dpop.nonces.current(at) }
            : noHeaders;
        return complete(auth, headers, request, policies, attempt);
      },
      (error: unknown) => failure(error, request, attempt, presented.scheme),
    );
  }

  function authenticateMaybeSync(
    request: AuthRequest,
    policies: readonly Policy[],
  ): AuthResult | Promise<AuthResult> {
    const attempt: Attempt = { cached: false };
    let presented: PresentedToken | undefined;
    try {
      presented = extractToken(request);
      if (presented === undefined) {
        throw new AuthError('invalid_token', 'missing_token', 'an access token is required');
      }
      const verified = verifyToken(presented.token, attempt);
      if (verified instanceof Promise) {
        const found = presented;
        return verified.then(
          (auth) => afterVerification(auth, found, request, policies, attempt),
          (error: unknown) => failure(error, request, attempt, found.scheme),
        );
      }
      return afterVerification(verified, presented, request, policies, attempt);
    } catch (error) {
      return failure(error, request, attempt, presented?.scheme);
    }
  }

  return { authenticateMaybeSync, authorize };
}
