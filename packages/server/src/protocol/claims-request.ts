/**
 * The OpenID Connect `claims` request parameter (OpenID Connect Core §5.5): a JSON object whose `userinfo`
 * and `id_token` members each name claims, with `null` or an object of `essential`, `value` or `values`
 * (§5.5.1). Parsed at /authorize and /par (a malformed one is `invalid_request`); its length is bounded
 * like every parameter (`requestParameters`).
 *
 * What is released: a claim named here is released when it is a claim of an identity scope (the
 * `claims_supported` of discovery) that the client may be given: with consent, a scope of the request
 * (what the user was asked about); without, a scope the client is registered for. `essential` claims are
 * released when the account has them; Gatehouse cannot ask the user for a missing one, so an essential
 * claim the account lacks is left out, as §5.5.1 allows. `value`/`values` are kept but not enforced
 * (the `acr` request is issue 17's).
 */
import type { ClaimRequestDetails, ClaimsParameter, Client } from '../model.ts';
import { OAuthError } from './errors.ts';
import type { ScopeCatalog } from './scopes.ts';

/** The members of the parameter that name claims (§5.5); members not understood are ignored (§5.5). */
const targets = ['userinfo', 'id_token'] as const;

/** Claim names: printable ASCII without spaces (names and collision-resistant URIs, RFC 7519 §4.2, §4.3). */
const claimNamePattern = /^[\x21-\x7E]{1,256}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(detail: string): OAuthError {
  return new OAuthError('invalid_request', `claims parameter ${detail} (OpenID Connect Core §5.5)`);
}

/** One claim's request (§5.5.1): null, or an object whose known members have the right types. */
function claimDetails(name: string, value: unknown): ClaimRequestDetails | null {
  if (value === null) return null;
  if (!isObject(value)) throw invalid(`member ${name} must be null or an object`);
  const details: ClaimRequestDetails = {};
  if (value.essential !== undefined) {
    if (typeof value.essential !== 'boolean') throw invalid(`member ${name}.essential must be a boolean`);
    details.essential = value.essential;
  }
  if (value.value !== undefined) details.value = value.value;
  if (value.values !== undefined) {
    if (!Array.isArray(value.values)) throw invalid(`member ${name}.values must be an array`);
    details.values = value.values;
  }
  return details;
}

/** Parses and checks the `claims` parameter; undefined when it is absent. */
export function parseClaimsRequest(text: string | undefined): ClaimsParameter | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('is not valid JSON');
  }
  if (!isObject(parsed)) throw invalid('must be a JSON object');
  const request: ClaimsParameter = {};
  for (const target of targets) {
    const members = parsed[target];
    if (members === undefined) continue;
    if (!isObject(members)) throw invalid(`member ${target} must be an object`);
    const claims: Record<string, ClaimRequestDetails | null> = {};
    for (const [name, value] of Object.entries(members)) {
      if (!claimNamePattern.test(name)) throw invalid(`names a claim with an invalid name in ${target}`);
      claims[name] = claimDetails(`${target}.${name}`, value);
    }
    request[target] = claims;
  }
  return request;
}

/**
 * The claim names of one target of a claims request that may be released to the client (see the header):
 * claims of identity scopes in `scopes`, in the order requested.
 */
export function releasableClaims(
  catalog: ScopeCatalog,
  request: ClaimsParameter | null | undefined,
  target: 'userinfo' | 'id_token',
  scopes: readonly string[],
): string[] {
  const requested = request?.[target];
  if (requested === undefined) return [];
  const allowed = new Set<string>();
  for (const scope of scopes) {
    for (const claim of catalog.identityScopes.get(scope)?.claims ?? []) allowed.add(claim);
  }
  return Object.keys(requested).filter((name) => allowed.has(name));
}

/** The scopes whose claims a claims request may reach for this client (see the header). */
export function claimsRequestScopes(client: Client, grantedScopes: readonly string[]): readonly string[] {
  return client.requireConsent ? grantedScopes : client.scopes;
}
