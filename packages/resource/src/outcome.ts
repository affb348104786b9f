/**
 * What the verifier answers and records. A refusal is an RFC 6750 §3 / RFC 9449 §7.1 challenge, with a
 * `DPoP-Nonce` (RFC 9449 §8.1) for `use_dpop_nonce`, `Retry-After` on 503, and a JSON body with the same
 * error; a request without credentials gets a challenge without an error code (RFC 6750 §3.1). Each
 * refusal is logged once, without the token, and every outcome goes to `onAuthentication`.
 */
import { type ChallengeSettings, challengeHeader } from './challenge.ts';
import type { AuthError } from './errors.ts';
import type { Attempt, AuthRequest, Refusal } from './model.ts';
import type { AuthEvent, VerifierSettings } from './options.ts';

export interface Outcomes {
  /** The refusal for `error`; `noCredentials` leaves the error out of the challenge. */
  refuse(error: AuthError, scheme?: 'bearer' | 'dpop', noCredentials?: boolean): Refusal;
  /** Logs and reports a refused request, then builds its refusal. */
  fail(
    error: AuthError,
    request: AuthRequest,
    attempt: Attempt,
    scheme: 'bearer' | 'dpop' | undefined,
    format: 'jwt' | 'opaque' | undefined,
  ): Refusal;
  /** Hands `event` to `onAuthentication`; its exceptions are ignored. */
  report(event: AuthEvent): void;
}

export function createOutcomes(
  settings: Pick<VerifierSettings, 'realm' | 'dpop' | 'now' | 'logger' | 'onAuthentication'>,
  resourceMetadataUrl?: string,
): Outcomes {
  const { dpop, now, logger, onAuthentication } = settings;
  const challengeSettings: ChallengeSettings = {
    realm: settings.realm,
    bearer: dpop?.required !== true,
    dpopAlgorithms: dpop?.algorithms,
    resourceMetadataUrl,
  };

  function refuse(error: AuthError, scheme?: 'bearer' | 'dpop', noCredentials = false): Refusal {
    const headers: Record<string, string> = {
      'www-authenticate': challengeHeader(challengeSettings, noCredentials ? undefined : error, scheme),
    };
    if (error.error === 'use_dpop_nonce' && dpop?.nonces !== undefined) {
      headers['dpop-nonce'] = dpop.nonces.current(now());
    }
    if (error.status === 503) headers['retry-after'] = '30';
    const body: {
      error: string;
      error_description: string;
      scope?: string;
      acr_values?: string;
      max_age?: number;
    } = {
      error: error.error,
      error_description: error.description,
    };
    if (error.scope !== undefined) body.scope = error.scope;
    if (error.stepUp?.acrValues !== undefined) body.acr_values = error.stepUp.acrValues;
    if (error.stepUp?.maxAge !== undefined) body.max_age = error.stepUp.maxAge;
    return { ok: false, error, status: error.status, headers, body };
  }

  function report(event: AuthEvent): void {
    if (onAuthentication === undefined) return;
    try {
      onAuthentication(event);
    } catch {
      // A metrics hook never breaks authentication.
    }
  }

  function fail(
    error: AuthError,
    request: AuthRequest,
    attempt: Attempt,
    scheme: 'bearer' | 'dpop' | undefined,
    format: 'jwt' | 'opaque' | undefined,
  ): Refusal {
    if (logger !== undefined) {
      const queryAt = request.path.indexOf('?');
      try {
        logger.warn(
          {
            event: 'access_token_rejected',
            reason: error.code,
            error: error.error,
            status: error.status,
            description: error.description,
            client_id: attempt.claimedClient,
            method: request.method,
            path: queryAt >= 0 ? request.path.slice(0, queryAt) : request.path,
            ip: request.remoteAddress,
          },
          'access token rejected',
        );
      } catch {
        // Logging never breaks authentication.
      }
    }
    report({
      outcome: 'failure',
      status: error.status,
      reason: error.code,
      clientId: attempt.claimedClient,
      format,
      cached: attempt.cached,
    });
    return refuse(error, scheme, error.code === 'missing_token');
  }

  return { refuse, fail, report };
}
