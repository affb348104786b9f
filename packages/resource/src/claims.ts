/**
 * Claim checks shared by JWT access tokens and introspection answers: the time claims of RFC 7519
 * §4.1.4-§4.1.6 within the clock skew, `aud` (§4.1.3) against the accepted audiences, the claims the API
 * requires; and the `AuthInfo` of verified claims (scopes per RFC 9068 §2.2.3, roles per §2.2.3.1).
 */
import { confirmationOf } from './binding.ts';
import { invalidToken } from './errors.ts';
import type { AuthInfo } from './model.ts';
import type { VerifierSettings } from './options.ts';

export interface ClaimChecks {
  /** Checks `exp`, `nbf`, `iat` (and `maxTokenAge`) at `at`; returns when the token stops being valid. */
  checkTimes(claims: Record<string, unknown>, at: number, expRequired: boolean): number;
  /** Checks that `aud` names an accepted audience; an absent `aud` passes unless `required`. */
  checkAudience(aud: unknown, required: boolean): void;
  /** Checks that every configured required claim is present. */
  checkRequiredClaims(claims: Record<string, unknown>): void;
}

export function createClaimChecks(
  settings: Pick<VerifierSettings, 'audiences' | 'skew' | 'maxTokenAge' | 'requiredClaims'>,
): ClaimChecks {
  const { audiences, skew, maxTokenAge, requiredClaims } = settings;
  return {
    checkTimes(claims, at, expRequired) {
      const { exp, nbf, iat } = claims;
      if (exp === undefined) {
        if (expRequired) throw invalidToken('missing_claim', 'the token has no exp');
      } else if (typeof exp !== 'number' || !Number.isFinite(exp)) {
        throw invalidToken('malformed_token', 'exp is not a number');
      } else if (exp <= at - skew) {
        throw invalidToken('expired', 'the token has expired');
      }
      if (nbf !== undefined) {
        if (typeof nbf !== 'number' || !Number.isFinite(nbf))
          throw invalidToken('malformed_token', 'nbf is not a number');
        if (nbf > at + skew) throw invalidToken('not_yet_valid', 'the token is not valid yet');
      }
      let validUntil = typeof exp === 'number' ? exp + skew : Number.POSITIVE_INFINITY;
      if (iat !== undefined) {
        if (typeof iat !== 'number' || !Number.isFinite(iat))
          throw invalidToken('malformed_token', 'iat is not a number');
        if (iat > at + skew) throw invalidToken('issued_in_future', 'the token was issued in the future');
        if (maxTokenAge !== undefined) {
          if (iat < at - maxTokenAge - skew) throw invalidToken('expired', 'the token is too old');
          validUntil = Math.min(validUntil, iat + maxTokenAge + skew);
        }
      } else if (maxTokenAge !== undefined) {
        throw invalidToken('missing_claim', 'the token has no iat');
      }
      return validUntil;
    },

    checkAudience(aud, required) {
      if (aud === undefined && !required) return;
      if (typeof aud === 'string') {
        if (audiences.includes(aud)) return;
      } else if (Array.isArray(aud)) {
        if (aud.some((value) => typeof value === 'string' && audiences.includes(value))) return;
      }
      throw invalidToken('wrong_audience', 'the token is not meant for this resource');
    },

    checkRequiredClaims(claims) {
      for (const claim of requiredClaims) {
        if (claims[claim] === undefined) throw invalidToken('missing_claim', `the token has no ${claim}`);
      }
    },
  };
}

/** A space-separated scope string (RFC 6749 §3.3) or an array of scope names, as a list. */
function scopeList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string' && s !== '');
  return [];
}

/**
 * The token's scopes: RFC 9068 §2.2.3 `scope` (a space-separated string), and Microsoft's `scp` (a
 * space-separated string in Entra ID tokens, an array from Gatehouse's `scopeClaim: scp`). A token with
 * both has the scopes of both; they name the same scopes when one server issued them.
 */
function scopesOf(claims: Record<string, unknown>): Set<string> {
  return new Set([...scopeList(claims.scope), ...scopeList(claims.scp)]);
}

function rolesOf(claims: Record<string, unknown>): string[] {
  return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
}

/** The `AuthInfo` of verified claims, frozen: a cached result is shared by every request with the token. */
export function authInfoOf(claims: Record<string, unknown>, format: 'jwt' | 'opaque'): AuthInfo {
  const cnf = confirmationOf(claims);
  return Object.freeze({
    claims: Object.freeze(claims),
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    clientId: typeof claims.client_id === 'string' ? claims.client_id : undefined,
    scopes: scopesOf(claims),
    roles: rolesOf(claims),
    format,
    binding: cnf.jkt !== undefined ? 'dpop' : cnf.x5t !== undefined ? 'mtls' : undefined,
    expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
  });
}
