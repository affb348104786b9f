/**
 * RFC 9470 step-up at the client: a resource server that wants a stronger or more recent authentication
 * answers 401 with `WWW-Authenticate: Bearer error="insufficient_user_authentication"` and `acr_values`
 * and/or `max_age` (§3). `stepUpChallenge` reads them from a response; `stepUpAuthorizationOptions` turns
 * them into the options of a new authorization request (§4: the client sends them as `acr_values` and
 * `max_age`), after which the call is retried with the new token.
 */
import type { AuthorizationRequestOptions } from './authorization-code.ts';

/** What a step-up challenge asks for. */
export interface StepUpChallenge {
  /** Space-separated acr values, as the authorization request's `acr_values`. */
  acrValues?: string;
  /** Seconds: the authentication must be at most this old (`max_age`). */
  maxAge?: number;
}

/** The auth-params of the challenges of a WWW-Authenticate value: quoted strings and tokens, by name. */
function challengeParameters(header: string): Map<string, string>[] {
  const challenges: Map<string, string>[] = [];
  const pattern = /([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?/g;
  let current: Map<string, string> | undefined;
  for (const match of header.matchAll(pattern)) {
    const [, name, raw] = match;
    if (name === undefined) continue;
    if (raw === undefined) {
      current = new Map();
      challenges.push(current);
      continue;
    }
    const value = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    current?.set(name.toLowerCase(), value);
  }
  return challenges;
}

/**
 * The step-up a 401 response asks for (RFC 9470 §3), or undefined when it is not an
 * `insufficient_user_authentication` challenge. Accepts a Response, a Headers object or the header value.
 */
export function stepUpChallenge(
  response: Response | Headers | string | null | undefined,
): StepUpChallenge | undefined {
  const header =
    typeof response === 'string' || response == null
      ? response
      : 'headers' in response
        ? response.headers.get('www-authenticate')
        : response.get('www-authenticate');
  if (header == null) return undefined;
  for (const parameters of challengeParameters(header)) {
    if (parameters.get('error') !== 'insufficient_user_authentication') continue;
    const challenge: StepUpChallenge = {};
    const acrValues = parameters.get('acr_values');
    if (acrValues !== undefined && acrValues !== '') challenge.acrValues = acrValues;
    const maxAge = parameters.get('max_age');
    if (maxAge !== undefined && /^\d{1,9}$/.test(maxAge)) challenge.maxAge = Number(maxAge);
    return challenge;
  }
  return undefined;
}

/**
 * The options of a new authorization request that answers `challenge`, on top of `base` (scope, redirect
 * URI...): `acr_values` in `extra` and `maxAge`.
 */
export function stepUpAuthorizationOptions(
  challenge: StepUpChallenge,
  base: AuthorizationRequestOptions = {},
): AuthorizationRequestOptions {
  const options: AuthorizationRequestOptions = { ...base };
  if (challenge.acrValues !== undefined) options.extra = { ...base.extra, acr_values: challenge.acrValues };
  if (challenge.maxAge !== undefined) options.maxAge = challenge.maxAge;
  return options;
}
