/**
 * Claims released about a user (OpenID Connect Core §5.1, §5.4): `sub` always, then the claims of each
 * identity scope granted, as the scope catalogue lists them; `roles` for the roles scope, and
 * `preferred_username` falling back to the username.
 */
import type { User } from '../model.ts';
import type { ScopeCatalog } from './scopes.ts';

export function releasedClaims(
  catalog: ScopeCatalog,
  user: User,
  scopes: readonly string[],
): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: user.id };
  for (const scope of scopes) {
    for (const claim of catalog.identityScopes.get(scope)?.claims ?? []) {
      if (claim === 'roles') claims.roles = user.roles;
      else if (claim === 'preferred_username')
        claims.preferred_username = user.claims.preferred_username ?? user.username;
      else if (claim !== 'sub' && user.claims[claim] !== undefined) claims[claim] = user.claims[claim];
    }
  }
  return claims;
}
