/**
 * What an access token says beyond RFC 9068 §2.2's fixed claims: per API, user claims copied from the
 * account and `roles` (§2.2.3.1), chosen in configuration (`apiResources[].claims`); the scopes as `scope`
 * (§2.2.3), as an `scp` array (Microsoft's shape, which .NET policies check), or both
 * (`apiResources[].scopeClaim`); and computed claims from the embedding application's claims hook
 * (`buildServer(config, { claims })`). A token for several APIs gets the union of their choices.
 *
 * Reserved claims (model.ts `reservedAccessTokenClaims`) are Gatehouse's alone: configuration naming one
 * is refused at start-up, and the hook's are dropped (claims-hook.ts). The hook runs before any record is
 * written, outside transactions, so a failure leaves a code or refresh token unused.
 */
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { ApiResource } from '../protocol/scopes.ts';

/** The union of the token's APIs' choices (see the header); without an API, today's defaults. */
export interface AccessTokenClaimsPlan {
  /** Claims copied from the account. */
  user: string[];
  roles: boolean;
  /** Emit `scope` (RFC 9068 §2.2.3). */
  scope: boolean;
  /** Emit `scp`, the scopes as an array. */
  scp: boolean;
}

export function accessTokenClaimsPlan(
  audience: readonly ApiResource[],
  scopes: readonly string[],
): AccessTokenClaimsPlan {
  const rolesScope = scopes.includes('roles');
  if (audience.length === 0) return { user: [], roles: rolesScope, scope: true, scp: false };
  return {
    user: [...new Set(audience.flatMap((resource) => resource.claims.user))],
    roles: audience.some((resource) => resource.claims.roles ?? rolesScope),
    scope: audience.some((resource) => resource.scopeClaim !== 'scp'),
    scp: audience.some((resource) => resource.scopeClaim !== 'scope'),
  };
}

export interface AdditionalClaimsRequest {
  clientId: string;
  subject: string;
  account: Account | undefined;
  scopes: readonly string[];
  resources: readonly ApiResource[];
  grantType: string;
}

/**
 * The configured user claims and the hook's claims for an access token, asked of the account store and the
 * hook now, before the caller's transaction (either may be slow or another database). Hook claims win over
 * configured ones of the same name; reserved claims never appear.
 */
export async function additionalAccessTokenClaims(
  ctx: ServerContext,
  request: AdditionalClaimsRequest,
): Promise<Record<string, unknown>> {
  const { audience, scopes } = ctx.catalog.audienceFor(request.scopes, request.resources);
  const plan = accessTokenClaimsPlan(audience, scopes);
  const claims: Record<string, unknown> = {};
  if (request.account !== undefined && plan.user.length > 0) {
    const released = await ctx.accounts.claims(request.account, { scopes: [], claims: plan.user });
    for (const name of plan.user) if (released[name] !== undefined) claims[name] = released[name];
  }
  if (ctx.claimsHook !== undefined) {
    const audiences = audience.map((resource) => resource.id);
    if (audiences.length === 0) audiences.push(ctx.endpoints.userinfo);
    const computed = await ctx.claimsHook({
      subject: request.subject,
      clientId: request.clientId,
      audiences,
      scopes,
      ...(request.account === undefined ? {} : { account: request.account }),
      grantType: request.grantType,
    });
    Object.assign(claims, computed);
  }
  return claims;
}
