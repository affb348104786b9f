/**
 * Authorization policies over a verified token: scopes (RFC 6749 §3.3, answered per RFC 6750 §3.1 with
 * 403 `insufficient_scope` and the `scope` the resource needs), roles on the `roles` claim (RFC 9068
 * §2.2.3.1), the user's authentication (RFC 9470: `acr` and `auth_time`, answered with 401
 * `insufficient_user_authentication` and the `acr_values` / `max_age` to obtain a new token with), and
 * custom predicates on claims. Policies read only verified claims.
 */
import { AuthError } from './errors.ts';
import type { AuthInfo } from './model.ts';

/** A check on a verified token; returns an AuthError to refuse, undefined to allow. */
export type Policy = (auth: AuthInfo) => AuthError | undefined;

const insufficientScope = (description: string, scope: readonly string[]) =>
  new AuthError('insufficient_scope', 'insufficient_scope', description, scope.join(' '));

/** Requires every one of `scopes` (all-of). */
export function requireScopes(...scopes: string[]): Policy {
  return (auth) =>
    scopes.every((scope) => auth.scopes.has(scope))
      ? undefined
      : insufficientScope(`the token lacks the scope ${scopes.join(' ')}`, scopes);
}

/** Requires at least one of `scopes` (any-of). */
export function requireAnyScope(...scopes: string[]): Policy {
  return (auth) =>
    scopes.some((scope) => auth.scopes.has(scope))
      ? undefined
      : insufficientScope(`the token needs one of the scopes ${scopes.join(' ')}`, scopes);
}

/** Requires every one of `roles` in the `roles` claim. */
export function requireRoles(...roles: string[]): Policy {
  return (auth) =>
    roles.every((role) => auth.roles.includes(role))
      ? undefined
      : new AuthError('insufficient_scope', 'insufficient_role', `the role ${roles.join(' ')} is required`);
}

/** Requires at least one of `roles` in the `roles` claim. */
export function requireAnyRole(...roles: string[]): Policy {
  return (auth) =>
    roles.some((role) => auth.roles.includes(role))
      ? undefined
      : new AuthError(
          'insufficient_scope',
          'insufficient_role',
          `one of the roles ${roles.join(' ')} is required`,
        );
}

/**
 * A custom predicate on the verified claims; `description` is sent as `error_description` on refusal.
 * A predicate that throws refuses.
 */
export function requireClaims(
  predicate: (claims: Readonly<Record<string, unknown>>, auth: AuthInfo) => boolean,
  description = 'the token does not meet this resource policy',
): Policy {
  return (auth) => {
    let allowed = false;
    try {
      allowed = predicate(auth.claims, auth);
    } catch {
      allowed = false;
    }
    return allowed ? undefined : new AuthError('insufficient_scope', 'policy', description);
  };
}

/**
 * RFC 9470 §3: requires the token's `acr` to be one of `acrValues` (for Gatehouse, e.g.
 * `urn:gatehouse:acr:mfa`). A token without one, or with another, is refused with 401
 * `insufficient_user_authentication` and `acr_values` listing them, so the client can ask for a new
 * authorization with those `acr_values`.
 */
export function requireAcr(...acrValues: string[]): Policy {
  if (acrValues.length === 0) throw new TypeError('requireAcr needs at least one acr value');
  return (auth) =>
    typeof auth.claims.acr === 'string' && acrValues.includes(auth.claims.acr)
      ? undefined
      : new AuthError(
          'insufficient_user_authentication',
          'insufficient_acr',
          'a stronger authentication of the user is required',
          undefined,
          { acrValues: acrValues.join(' ') },
        );
}

/**
 * RFC 9470 §3: requires the user to have authenticated at most `maxAge` seconds ago (`auth_time`). A token
 * without `auth_time`, or with an older one, is refused with 401 `insufficient_user_authentication` and
 * `max_age`. `now` (seconds since the epoch) is for tests; a minute of clock skew is not allowed for.
 */
export function requireAuthTime(maxAge: number, options: { now?: () => number } = {}): Policy {
  if (!Number.isInteger(maxAge) || maxAge < 0) throw new TypeError('maxAge must be a non-negative integer');
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  return (auth) => {
    const authTime = auth.claims.auth_time;
    return typeof authTime === 'number' && now() - authTime <= maxAge
      ? undefined
      : new AuthError(
          'insufficient_user_authentication',
          'auth_time_too_old',
          'a more recent authentication of the user is required',
          undefined,
          { maxAge },
        );
  };
}

/** Every policy must pass (all-of); the first refusal is returned. */
export function allOf(...policies: Policy[]): Policy {
  return (auth) => {
    for (const policy of policies) {
      const refusal = policy(auth);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  };
}

/** At least one policy must pass (any-of); otherwise the first refusal is returned. */
export function anyOf(...policies: Policy[]): Policy {
  return (auth) => {
    let first: AuthError | undefined;
    for (const policy of policies) {
      const refusal = policy(auth);
      if (refusal === undefined) return undefined;
      first ??= refusal;
    }
    return first;
  };
}

/**
 * Applies `policies` in order to a verified token: the first refusal, or undefined when all pass. A
 * policy that throws refuses with `policy`.
 */
export function firstRefusal(auth: AuthInfo, policies: readonly Policy[]): AuthError | undefined {
  for (const policy of policies) {
    let refusal: AuthError | undefined;
    try {
      refusal = policy(auth);
    } catch {
      refusal = new AuthError('insufficient_scope', 'policy', 'the token does not meet this resource policy');
    }
    if (refusal !== undefined) return refusal;
  }
  return undefined;
}
