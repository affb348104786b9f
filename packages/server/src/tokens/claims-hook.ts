/**
 * The claims hook: computed access-token claims from the application embedding Gatehouse
 * (`buildServer(config, { claims })`), and the guard the core calls it through. Reserved claims (model.ts
 * `reservedAccessTokenClaims`) in its result are dropped, with an error logged that names the claim (never
 * its value). A hook that throws or returns something that is not a JSON object fails the token request
 * with 503 `temporarily_unavailable`: RFC 6749 §5.2 has no server-error code, and a failing hook is a
 * dependency that is down, answered as a store that is down is (http/error-handler.ts).
 */
import type { Account } from '../accounts/accounts.ts';
import { reservedAccessTokenClaims } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';

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
