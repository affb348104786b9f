/**
 * Error responses: `WWW-Authenticate` challenges per RFC 6750 §3 (Bearer: realm, error,
 * error_description, scope), RFC 9470 §3 (`acr_values`, `max_age`) and RFC 9449 §7.1 (DPoP: algs, error,
 * error_description), the `DPoP-Nonce` header of §8.1, and a small JSON body with the same error and
 * description; with RFC 9728 metadata configured, every challenge names it in `resource_metadata` (§5.1).
 */
import type { AuthError } from './errors.ts';

export interface ChallengeSettings {
  realm: string;
  /** Whether the resource accepts Bearer tokens (false when DPoP is required). */
  bearer: boolean;
  /** The DPoP algorithms accepted, or undefined when DPoP is off. */
  dpopAlgorithms: readonly string[] | undefined;
  /** RFC 9728 §5.1: the URL of the protected resource metadata, named in every challenge. */
  resourceMetadataUrl?: string | undefined;
}

/** RFC 6750 §3: values are quoted-strings limited to printable ASCII without `"` and `\`. */
function quote(value: string): string {
  return `"${value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '')}"`;
}

/**
 * The challenges for a refusal (or for a request without credentials when `error` is undefined). The error
 * goes on the scheme the request used (`scheme`), or on DPoP for proof errors.
 */
export function challengeHeader(
  settings: ChallengeSettings,
  error: AuthError | undefined,
  scheme: 'bearer' | 'dpop' | undefined,
): string {
  const errorOnDpop =
    settings.dpopAlgorithms !== undefined &&
    error !== undefined &&
    (scheme === 'dpop' ||
      !settings.bearer ||
      error.error === 'invalid_dpop_proof' ||
      error.error === 'use_dpop_nonce');
  const errorParams = (): string[] => {
    if (error === undefined || error.error === 'temporarily_unavailable') return [];
    const params = [`error=${quote(error.error)}`, `error_description=${quote(error.description)}`];
    if (error.scope !== undefined) params.push(`scope=${quote(error.scope)}`);
    if (error.stepUp?.acrValues !== undefined) params.push(`acr_values=${quote(error.stepUp.acrValues)}`);
    if (error.stepUp?.maxAge !== undefined)
      params.push(`max_age=${Math.max(0, Math.floor(error.stepUp.maxAge))}`);
    return params;
  };
  const metadata =
    settings.resourceMetadataUrl === undefined
      ? []
      : [`resource_metadata=${quote(settings.resourceMetadataUrl)}`];
  const challenges: string[] = [];
  if (settings.bearer) {
    const params = [`realm=${quote(settings.realm)}`, ...metadata];
    if (!errorOnDpop) params.push(...errorParams());
    challenges.push(`Bearer ${params.join(', ')}`);
  }
  if (settings.dpopAlgorithms !== undefined) {
    const params = [`algs=${quote(settings.dpopAlgorithms.join(' '))}`, ...metadata];
    if (errorOnDpop) params.push(...errorParams());
    challenges.push(`DPoP ${params.join(', ')}`);
  }
  return challenges.join(', ');
}
