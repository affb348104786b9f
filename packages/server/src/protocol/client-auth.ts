/**
 * Client authentication (RFC 6749 §2.3, §5.2; OAuth 2.1 §2.4) for every endpoint that authenticates
 * clients: client_secret_basic/post, private_key_jwt (RFC 7523 §2.2, §3), tls_client_auth and
 * self_signed_tls_client_auth (RFC 8705 §2), and `none`. A client must use its registered method, and a
 * request presenting two is refused, since which one counts is an ambiguity an attacker can use. Secrets
 * are compared as SHA-256 hashes in constant time with each of the client's (up to two, client-secrets.ts),
 * an unknown client costing the same work; an expired secret is refused like a wrong one. Assertions
 * (RFC 7523 §3) need `iss` = `sub` = client_id, a single `aud`, a bounded `exp`, a one-time `jti` and an
 * allowed asymmetric algorithm, so `none` and HMAC never verify. Every failure is `invalid_client`.
 */
import { constantTimeEqual, decodeJsonObject, splitCompactJws } from '@gatehouse/jose-rules';
import type * as Jose from 'jose';
import { fapi2Algorithms, tlsAuthMethods } from '../config/clients.ts';
import type { ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import type { JsonWebKeySet } from './client-jwks.ts';
import { withRegisteredKeys } from './client-keys.ts';
import { checkClientSecret } from './client-secrets.ts';
import { invalidClient, OAuthError } from './errors.ts';
import { type PresentedCertificate, verifyClientCertificate } from './mtls.ts';
import type { Params } from './params.ts';
import { fapi2AssertionMaxLifetime, isFapi2 } from './profile.ts';
import { sha256Base64Url } from './secrets.ts';

/** jose verifies client assertions; it is loaded at the first one (most deployments never see one). */
let jose: Promise<typeof Jose> | undefined;
const loadJose = () => (jose ??= import('jose'));

export const jwtBearerAssertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const unknownClientHash = sha256Base64Url('unknown-client-placeholder');
const maxAssertionLength = 8192;
/** Seconds of clock difference tolerated on `exp`, `nbf` and `iat`. */
const clockTolerance = 30;

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before being put in the Basic header. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw invalidClient('malformed Basic credentials');
  }
}

function parseBasic(header: string): { clientId: string; secret: string } {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  if (!match) throw invalidClient('malformed Basic credentials');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw invalidClient('malformed Basic credentials');
  return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

/** What the HTTP layer saw of a request besides its parameters. */
export interface ClientAuthRequest {
  authorization: string | undefined;
  /** The client certificate of a mutual-TLS connection (or forwarded by a trusted proxy). */
  certificate: PresentedCertificate | undefined;
}

export interface PresentedCredentials {
  clientId: string;
  /** `none` covers public clients and mutual TLS (a client_id and a certificate). */
  method: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  secret: string | undefined;
  assertion: string | undefined;
}

/** Reads the credentials a request presents, refusing requests that use two methods at once. */
export function presentedCredentials(
  authorization: string | undefined,
  params: Params,
): PresentedCredentials {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  const assertion = params.get('client_assertion');
  const assertionType = params.get('client_assertion_type');
  const usesAssertion = assertion !== undefined || assertionType !== undefined;
  const methods = [authorization !== undefined, bodySecret !== undefined, usesAssertion].filter(Boolean);
  if (methods.length > 1) throw invalidClient('more than one client authentication method used');
  if (authorization !== undefined) {
    const { clientId, secret } = parseBasic(authorization);
    if (bodyId !== undefined && bodyId !== clientId)
      throw invalidClient('client_id does not match the Authorization header');
    return { clientId, secret, assertion: undefined, method: 'client_secret_basic' };
  }
  if (bodySecret !== undefined) {
    if (bodyId === undefined) throw invalidClient('client_id is required with client_secret');
    return { clientId: bodyId, secret: bodySecret, assertion: undefined, method: 'client_secret_post' };
  }
  if (usesAssertion) {
    if (assertionType !== jwtBearerAssertionType)
      throw invalidClient(`client_assertion_type must be ${jwtBearerAssertionType}`);
    if (assertion === undefined) throw invalidClient('client_assertion is required');
    if (assertion.length > maxAssertionLength) throw invalidClient('client_assertion is too long');
    const segments = splitCompactJws(assertion);
    const payload = segments === undefined ? undefined : decodeJsonObject(segments.payload);
    if (payload === undefined) throw invalidClient('client_assertion is not a JWT');
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject === '') throw invalidClient('client_assertion has no sub');
    if (bodyId !== undefined && bodyId !== subject)
      throw invalidClient('client_id does not match the client assertion');
    return { clientId: subject, secret: undefined, assertion, method: 'private_key_jwt' };
  }
  if (bodyId !== undefined)
    return { clientId: bodyId, secret: undefined, assertion: undefined, method: 'none' };
  throw invalidClient('client authentication is required');
}

/** Compares a presented secret with a stored SHA-256 hash in constant time (a missing hash still costs a hash). */
export function secretMatches(secret: string, storedHash: string | null | undefined): boolean {
  const matches = constantTimeEqual(sha256Base64Url(secret), storedHash ?? unknownClientHash);
  return matches && storedHash !== null && storedHash !== undefined;
}

/** Why an `invalid_client` failed, for the audit event only (never for the answer). */
const auditReasons = new WeakMap<OAuthError, string>();

/** Authenticates the client of a request to `endpoint` (see `authenticateWith`). */
export function authenticateClient(
  ctx: ServerContext,
  request: ClientAuthRequest,
  params: Params,
  endpoint: string,
): Promise<Client> {
  return authenticateWith(ctx, endpoint, request, params, (credentials) =>
    verifyClientCredentials(ctx, credentials, request),
  );
}

/**
 * Reads the presented credentials and runs `verify` on them; every `invalid_client` on the way is recorded
 * as the audit event `client_authentication_failed` with the endpoint and the client id presented (from
 * the Basic header or the body), so a guessing attack shows in the audit trail whichever endpoint it uses.
 */
export async function authenticateWith<T>(
  ctx: ServerContext,
  endpoint: string,
  request: ClientAuthRequest,
  params: Params,
  verify: (credentials: PresentedCredentials) => Promise<T>,
): Promise<T> {
  let clientId = params.get('client_id');
  try {
    const credentials = presentedCredentials(request.authorization, params);
    clientId = credentials.clientId;
    return await verify(credentials);
  } catch (error) {
    if (error instanceof OAuthError && error.error === 'invalid_client')
      ctx.audit('client_authentication_failed', {
        endpoint,
        client_id: clientId,
        reason: auditReasons.get(error),
      });
    throw error;
  }
}

export async function verifyClientCredentials(
  ctx: ServerContext,
  credentials: PresentedCredentials,
  request: ClientAuthRequest,
): Promise<Client> {
  const client = await ctx.findClient(credentials.clientId);
  if (credentials.secret !== undefined) {
    const outcome = checkClientSecret(credentials.secret, client?.secrets, ctx.now());
    if (outcome !== 'valid') {
      const failure = invalidClient('client authentication failed');
      // The same answer as a wrong secret; only the audit trail says the secret was right but expired.
      if (outcome === 'expired') auditReasons.set(failure, 'secret_expired');
      throw failure;
    }
  }
  if (client === undefined) throw invalidClient('client authentication failed');
  const registered = client.tokenEndpointAuthMethod;
  if (credentials.method === 'none' && tlsAuthMethods.includes(registered)) {
    await verifyClientCertificate(ctx, client, request.certificate);
    return enabledClient(client);
  }
  if (registered !== credentials.method) throw invalidClient(`client must authenticate with ${registered}`);
  if (credentials.method === 'private_key_jwt') await verifyAssertion(ctx, client, credentials.assertion!);
  return enabledClient(client);
}

/** A client an operator disabled (admin/clients.ts) is refused once it has proven who it is (RFC 6749 §5.2). */
function enabledClient(client: Client): Client {
  if (client.disabledAt !== undefined) throw invalidClient('the client is disabled');
  return client;
}

const keySets = new WeakMap<JsonWebKeySet, Jose.JWTVerifyGetKey>();

function keySetOf({ createLocalJWKSet }: typeof Jose, jwks: JsonWebKeySet): Jose.JWTVerifyGetKey {
  let keySet = keySets.get(jwks);
  if (keySet === undefined) {
    keySet = createLocalJWKSet(jwks as never);
    keySets.set(jwks, keySet);
  }
  return keySet;
}

function assertionFailure({ errors }: typeof Jose, error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error instanceof errors.JWTExpired) return invalidClient('client assertion has expired');
  if (error instanceof errors.JWTClaimValidationFailed)
    return invalidClient(`client assertion claim ${error.claim} is invalid`);
  if (error instanceof errors.JWKSNoMatchingKey)
    return invalidClient('no registered key of the client matches the client assertion');
  if (error instanceof errors.JOSEAlgNotAllowed)
    return invalidClient('client assertion algorithm is not allowed');
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return invalidClient('client assertion signature is invalid');
  return invalidClient('client assertion is invalid');
}

async function verifyAssertion(ctx: ServerContext, client: Client, assertion: string): Promise<void> {
  const { clientAuth } = ctx.config;
  const registeredAlg = client.authentication.tokenEndpointAuthSigningAlg;
  const fapi2 = isFapi2(ctx.config, client);
  const algorithms: string[] = clientAuth.signingAlgorithms.filter(
    (alg) =>
      (registeredAlg === undefined || alg === registeredAlg) && (!fapi2 || fapi2Algorithms.includes(alg)),
  );
  const jose = await loadJose();
  let alg: unknown;
  try {
    alg = jose.decodeProtectedHeader(assertion).alg;
  } catch {
    throw invalidClient('client assertion is invalid');
  }
  if (typeof alg !== 'string' || !algorithms.includes(alg))
    throw invalidClient('client assertion algorithm is not allowed');
  const now = ctx.now();
  const options = {
    algorithms,
    issuer: client.clientId,
    subject: client.clientId,
    requiredClaims: ['exp', 'jti', 'aud'],
    currentDate: new Date(now * 1000),
    clockTolerance,
  };
  let payload: Record<string, unknown> | undefined;
  try {
    payload = await withRegisteredKeys(ctx, client, async (jwks) => {
      try {
        return (await jose.jwtVerify(assertion, keySetOf(jose, jwks), options)).payload;
      } catch (error) {
        if (error instanceof jose.errors.JWKSNoMatchingKey) return undefined;
        throw error;
      }
    });
  } catch (error) {
    throw assertionFailure(jose, error);
  }
  if (payload === undefined)
    throw invalidClient('no registered key of the client matches the client assertion');
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const accepted = [ctx.issuer, ...(clientAuth.acceptTokenEndpointAudience ? [ctx.endpoints.token] : [])];
  if (audiences.length !== 1 || !accepted.includes(audiences[0] as string))
    throw invalidClient('client assertion aud must be the issuer');
  const exp = payload.exp as number;
  const maxLifetime = fapi2
    ? Math.min(clientAuth.assertionMaxLifetime, fapi2AssertionMaxLifetime)
    : clientAuth.assertionMaxLifetime;
  if (exp - now > maxLifetime) {
    const setting = fapi2
      ? `the FAPI 2.0 limit, or clientAuth.assertionMaxLifetime when lower`
      : 'clientAuth.assertionMaxLifetime';
    throw invalidClient(`client assertion exp must be within ${maxLifetime} seconds (${setting})`);
  }
  if (typeof payload.iat === 'number' && payload.iat > now + clockTolerance)
    throw invalidClient('client assertion iat is in the future');
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '' || jti.length > 256)
    throw invalidClient('client assertion jti is invalid');
  if (!(await ctx.replay.firstUse(`client-assertion:${client.clientId}:${jti}`, exp + clockTolerance, now)))
    throw invalidClient('client assertion was already used');
}

/**
 * The key a client's request budget is counted under (`tokenPerClient`, `deviceAuthorizationPerClient`).
 * A confidential client has one budget. A public client authenticates by its client_id alone, which anyone
 * can send, so it has one per address: one address spending it cannot deny the app to everyone else.
 */
export function clientBudgetKey(client: Client, address: string): string {
  return client.tokenEndpointAuthMethod === 'none' ? `${client.clientId}\u0000${address}` : client.clientId;
}
