/**
 * What an access token says beyond RFC 9068 §2.2's fixed claims: per API, user claims copied from the
 * account and `roles` (§2.2.3.1), chosen in configuration (`apiResources[].claims`); the scopes as `scope`
 * (§2.2.3), as an `scp` array (Microsoft's shape, which .NET policies check), or both
 * (`apiResources[].scopeClaim`); and computed claims from the embedding application's claims hook
 * (`createGatehouse({ claims })`). A token for several APIs gets the union of their choices.
 *
 * Reserved claims (model.ts `reservedAccessTokenClaims`) are Gatehouse's alone: configuration naming one
 * is refused at start-up, and a hook returning one has it dropped, with an error logged that names the
 * claim (never its value). A hook that throws or returns something that is not a JSON object fails the
 * token request with 503 `temporarily_unavailable`: RFC 6749 §5.2 has no server-error code, and a failing
 * hook is a dependency that is down, answered as a store that is down is (http/error-handler.ts). The hook
 * runs before any record is written, so a failure leaves a code or refresh token unused.
 */
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import { reservedAccessTokenClaims } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { ApiResource } from '../protocol/scopes.ts';

/** What the claims hook is told about the access token being issued. */
export interface ClaimsHookContext {
  /** The token's `sub`: the user's subject, or the client id for client credentials. */
  subject: string;
  clientId: string;
  /** The token's audiences (API resource ids; the userinfo endpoint for an identity-only token). */
  audiences: string[];
  /** The scopes the token carries. */
  scopes: string[];
  /** The signed-in account, for tokens issued for a user. */
  account?: Account;
  /** The grant_type of the token request (RFC 6749 §4, RFC 8628, RFC 8693). */
  grantType: string;
}

/**
 * Computed claims for an access token (user and client-credentials tokens alike). The result is added to
 * the token; reserved claims in it are dropped. May be async; it runs before the token's records are
 * written, outside any database transaction.
 */
export type ClaimsHook = (
  context: ClaimsHookContext,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** Writes an error line for the operator: fields are names and ids, never claim values. */
export type ClaimsHookErrorLog = (fields: Record<string, string>, message: string) => void;

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The hook as the core calls it: its failures become a clean 503 `temporarily_unavailable` (logged with
 * the error's class name only: its message could carry anything), its result is checked to be a JSON
 * object, and reserved claims are dropped and logged by name.
 */
export function guardClaimsHook(hook: ClaimsHook, logError: ClaimsHookErrorLog): ClaimsHook {
  const unavailable = () =>
    new OAuthError('temporarily_unavailable', 'the token could not be issued; try again later');
  return async (context) => {
    let claims: Record<string, unknown>;
    try {
      const result: unknown = await hook(context);
      // A round trip through JSON: what the token will carry, and a throw for BigInt or cycles.
      const copy: unknown = JSON.parse(JSON.stringify(result) ?? 'null');
      if (!isJsonObject(copy)) {
        logError({ client_id: context.clientId }, 'claims hook did not return an object; no token issued');
        throw unavailable();
      }
      claims = copy;
    } catch (error) {
      if (error instanceof OAuthError) throw error;
      const name = error instanceof Error ? error.name : typeof error;
      logError({ client_id: context.clientId, error: name }, 'claims hook failed; no token issued');
      throw unavailable();
    }
    for (const name of Object.keys(claims)) {
      if (!reservedAccessTokenClaims.has(name)) continue;
      logError(
        { client_id: context.clientId, claim: name },
        'claims hook returned a reserved claim; it was dropped',
      );
      delete claims[name];
    }
    return claims;
  };
}

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
