/**
 * Authentication context (OpenID Connect Core §2 `acr`, §3.1.2.1 `acr_values`, §5.5.1.1 an essential
 * `acr`) and methods (RFC 8176 `amr`). Gatehouse has two levels, a password alone (`pwd`) and a password
 * with a second factor (`mfa`), each named by a configured acr value (`mfa.acrValues`). A session's level
 * follows from its `amr`: a session whose methods include `mfa` is at the `mfa` level.
 *
 * `acr_values` lists acceptable values in order of preference (§3.1.2.1): the session must reach the lowest
 * level any supported value names; values not supported are ignored, as voluntary claims may be. An
 * essential `acr` request (§5.5.1.1) is read the same way, except that one naming no supported value
 * cannot be met, and the request is refused.
 */
import type { GatehouseConfig } from '../config/schema.ts';
import {
  type AcrLevel,
  type AuthorizationRequestRecord,
  acrLevels,
  type ClaimsParameter,
  type Client,
  type LoginSession,
} from '../model.ts';
import { OAuthError } from './errors.ts';

/** RFC 8176 §2: the methods Gatehouse records in a session's `amr`. */
export const passwordAmr = ['pwd'] as const;
/** A password and a one-time code (TOTP or a recovery code): RFC 8176 `otp`, and `mfa` for both. */
export const otpAmr = ['pwd', 'otp', 'mfa'] as const;
/**
 * A passkey alone, with user verification (required for passkey-first sign-in): `hwk` for the key held,
 * `user` for the test the authenticator made of its user (PIN or biometric), and `mfa` for the two.
 */
export const passkeyAmr = ['hwk', 'user', 'mfa'] as const;

/**
 * The methods of a sign-in at an upstream provider: RFC 8176 `fed`, followed by the upstream's own methods
 * (at most eight) only when the provider is trusted for MFA, so that only a trusted upstream's `mfa` meets
 * a local MFA policy.
 */
export function federatedAmr(upstreamAmr: readonly string[], trustedForMfa: boolean): string[] {
  return [...new Set(['fed', ...(trustedForMfa ? upstreamAmr.slice(0, 8) : [])])];
}

/**
 * The methods of a session stepped up with a one-time code (`otp`) or a passkey or security key (`hwk`):
 * that method and `mfa` added to how it began, `fed` (an upstream sign-in) and `pwd` kept; an upstream's
 * own methods are not carried over. A password and a passkey: `pwd`, `hwk`, `mfa`.
 */
export function steppedUpAmr(amr: readonly string[], method: 'otp' | 'hwk' = 'otp'): string[] {
  const kept = amr.filter((existing) => existing === 'fed' || existing === 'pwd');
  return [...new Set([...kept, method, 'mfa'])];
}

/** The level a session with these authentication methods is at. */
export function acrLevelOf(amr: readonly string[]): AcrLevel {
  return amr.includes('mfa') ? 'mfa' : 'pwd';
}

/** The configured acr value of a level (`mfa.acrValues`). */
export function acrValue(config: GatehouseConfig, level: AcrLevel): string {
  return config.mfa.acrValues[level];
}

/** The acr value of a session or token with these methods. */
export function acrOf(config: GatehouseConfig, amr: readonly string[]): string {
  return acrValue(config, acrLevelOf(amr));
}

/** discovery's `acr_values_supported`, weakest first. */
export function acrValuesSupported(config: GatehouseConfig): string[] {
  return acrLevels.map((level) => acrValue(config, level));
}

/** True when a session at `have` meets a requirement of `need`. */
export function acrSatisfies(have: AcrLevel, need: AcrLevel | undefined): boolean {
  return need === undefined || acrLevels.indexOf(have) >= acrLevels.indexOf(need);
}

/** The lowest level among the supported values of `values`; undefined when none is supported. */
function lowestLevel(config: GatehouseConfig, values: readonly unknown[]): AcrLevel | undefined {
  return acrLevels.find((level) => values.includes(acrValue(config, level)));
}

/**
 * The level an authorization request asks for (see the header): from `acr_values` and the `acr` members of
 * the claims parameter; the strictest of them. Undefined when the request asks for none.
 */
export function requestedAcrLevel(
  config: GatehouseConfig,
  acrValues: string | undefined,
  claims: ClaimsParameter | undefined,
): AcrLevel | undefined {
  const asked: AcrLevel[] = [];
  if (acrValues !== undefined) {
    const level = lowestLevel(
      config,
      acrValues.split(' ').filter((value) => value !== ''),
    );
    if (level !== undefined) asked.push(level);
  }
  for (const target of ['id_token', 'userinfo'] as const) {
    const acr = claims?.[target]?.acr;
    if (acr === undefined || acr === null) continue;
    const values = acr.values ?? (acr.value === undefined ? undefined : [acr.value]);
    if (values === undefined) continue;
    const level = lowestLevel(config, values);
    if (level !== undefined) asked.push(level);
    else if (acr.essential === true)
      throw new OAuthError(
        'invalid_request',
        `the essential acr of the claims parameter names no supported value (${acrValuesSupported(config).join(' ')})`,
      );
  }
  return asked.reduce<AcrLevel | undefined>(
    (strictest, level) => (acrSatisfies(level, strictest) ? level : strictest),
    undefined,
  );
}

/**
 * The level a sign-in for `client` must reach: `mfa` when the server requires it of everyone
 * (`mfa.requireForAll`) or of one of the account's roles (`mfa.requireForRoles`), when the client requires
 * it (`requireMfa`), or when the request asks for it; else `pwd`.
 */
export function requiredAcrLevel(
  config: GatehouseConfig,
  client: Client,
  request: Pick<AuthorizationRequestRecord, 'requiredAcr'> | undefined,
  roles: readonly string[] | undefined,
): AcrLevel {
  const { mfa } = config;
  if (mfa.requireForAll || client.requireMfa === true || request?.requiredAcr === 'mfa') return 'mfa';
  if (roles?.some((role) => mfa.requireForRoles.includes(role))) return 'mfa';
  return 'pwd';
}

/** True when the session reaches `level`. */
export function sessionMeetsLevel(session: LoginSession, level: AcrLevel): boolean {
  return acrSatisfies(acrLevelOf(session.amr), level);
}
