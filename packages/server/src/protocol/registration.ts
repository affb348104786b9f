/**
 * Dynamic client registration (RFC 7591) and its management protocol (RFC 7592), under a registration
 * policy from the configuration (`registration.policy`).
 *
 * A registration's metadata (RFC 7591 §2) is turned into the config file's client shape and checked by the
 * same schema (config/clients.ts), so a registered client obeys every rule a configured one does; the
 * policy and the FAPI 2.0 profile (protocol/profile.ts) then narrow what it may be. Refusals are RFC 7591
 * §3.2.2 `invalid_redirect_uri` and `invalid_client_metadata` with a description naming the metadata.
 * Metadata the server does not use (client_uri, logo_uri, contacts, software_statement, ...) is ignored, as
 * §2 asks. Registered clients are stored with source `registration`, always ask for consent, and get a
 * secret only for `client_secret_basic`/`client_secret_post`; secrets and registration access tokens are
 * 256-bit random values stored only as SHA-256 hashes, the access token replaced on every update (RFC 7592
 * §2.2) by a conditional write, so two updates sent with one token cannot both succeed.
 */
import { constantTimeEqual, jwsAlgorithms } from '@gatehouse/jose-rules';
import { clientSchema, fapi2Algorithms, fapi2AuthMethods, secretAuthMethods } from '../config/clients.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import { clientRecord } from '../config/seed.ts';
import type { ServerContext } from '../context.ts';
import type { Client, ClientAuthMethod } from '../model.ts';
import { OAuthError } from './errors.ts';
import { redirectUriProblem } from './redirect-uri.ts';
import { randomHandle, sha256Base64Url } from './secrets.ts';

type RegistrationConfig = GatehouseConfig['registration'];
type Policy = RegistrationConfig['policy'];

/** The most redirect URIs (and post-logout redirect URIs) one registered client may have. */
const maxRedirectUris = 20;
/** The longest client_name kept. */
const maxClientNameLength = 200;

/** The answer to a registration, read or update (RFC 7591 §3.2.1, RFC 7592 §3). */
export type ClientInformation = Record<string, unknown>;

function metadataError(description: string): OAuthError {
  return new OAuthError('invalid_client_metadata', description);
}

function redirectError(description: string): OAuthError {
  return new OAuthError('invalid_redirect_uri', description);
}

/** An optional metadata member that must be an array of strings. */
function stringList(metadata: Record<string, unknown>, name: string): string[] | undefined {
  const value = metadata[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
    throw metadataError(`${name} must be an array of strings`);
  return [...new Set(value as string[])];
}

/** An optional metadata member that must be a string. */
function text(metadata: Record<string, unknown>, name: string): string | undefined {
  const value = metadata[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw metadataError(`${name} must be a string`);
  return value;
}

/** The body of a registration or update: a JSON object (RFC 7591 §3.1). */
export function parseRegistrationBody(body: unknown): Record<string, unknown> {
  let value: unknown;
  try {
    value = typeof body === 'string' ? JSON.parse(body) : undefined;
  } catch {
    throw metadataError('the body must be a JSON object of client metadata');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw metadataError('the body must be a JSON object of client metadata');
  return value as Record<string, unknown>;
}

/**
 * Why a redirect URI may not be registered under the policy (RFC 8252 §7, §8.3; OpenID Connect Dynamic
 * Client Registration §2 `application_type`): https for web clients; a native client may also use a
 * loopback IP literal over http (any port, §7.3) or a private-use scheme named as a reverse domain (§7.1).
 */
function registeredRedirectProblem(uri: string, native: boolean, policy: Policy): string | undefined {
  const general = redirectUriProblem(uri);
  if (general !== undefined) return general;
  const url = new URL(uri);
  if (url.protocol === 'https:') return undefined;
  if (!native || !policy.nativeRedirectUris)
    return native
      ? 'must use https (the policy allows no native redirect URIs)'
      : 'must use https (a web client; register application_type native for loopback or app schemes)';
  if (url.protocol === 'http:')
    return url.hostname === '127.0.0.1' || url.hostname === '[::1]'
      ? undefined
      : 'may use http only with a loopback IP literal (127.0.0.1 or [::1]; RFC 8252 §8.3)';
  if (!/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(url.protocol))
    return 'must use https, a loopback IP literal or a private-use scheme named as a reverse domain (RFC 8252 §7.1)';
  return undefined;
}

/** What the metadata checks read: the configuration (policy, profile) and the scope catalog. */
export type MetadataRules = Pick<ServerContext, 'config' | 'catalog'>;

/** The scopes the policy allows: its list, or the identity resources' scopes when it names none. */
function allowedScopes(ctx: MetadataRules): string[] {
  return ctx.config.registration.policy.scopes ?? [...ctx.catalog.identityScopes.keys()];
}

/** What one set of metadata makes of a client, before its id and credentials are decided. */
interface CheckedMetadata {
  /** The config-schema input of the client, without clientId and secret. */
  fields: Record<string, unknown>;
  authMethod: ClientAuthMethod;
  applicationType: 'web' | 'native';
}

/** Metadata (RFC 7591 §2) checked against the policy and the FAPI profile, in the config schema's terms. */
function checkMetadata(ctx: MetadataRules, metadata: Record<string, unknown>): CheckedMetadata {
  const { policy } = ctx.config.registration;
  const fapi2 = ctx.config.profile === 'fapi2';

  const applicationType = text(metadata, 'application_type') ?? 'web';
  if (applicationType !== 'web' && applicationType !== 'native')
    throw metadataError('application_type must be web or native');

  const authMethod = text(metadata, 'token_endpoint_auth_method') ?? 'client_secret_basic';
  if (!(policy.tokenEndpointAuthMethods as string[]).includes(authMethod))
    throw metadataError(
      `token_endpoint_auth_method ${authMethod} is not allowed; use one of ${policy.tokenEndpointAuthMethods.join(', ')}`,
    );
  if (fapi2 && !(fapi2AuthMethods as string[]).includes(authMethod))
    throw metadataError('the FAPI 2.0 profile needs token_endpoint_auth_method private_key_jwt');

  const grantTypes = stringList(metadata, 'grant_types') ?? ['authorization_code'];
  if (grantTypes.length === 0) throw metadataError('grant_types must not be empty');
  for (const grant of grantTypes)
    if (!(policy.grantTypes as string[]).includes(grant))
      throw metadataError(`grant type ${grant} is not allowed; use ${policy.grantTypes.join(', ')}`);
  // RFC 7591 §2.1: response_types and grant_types must agree; only the code flow is served.
  const responseTypes =
    stringList(metadata, 'response_types') ?? (grantTypes.includes('authorization_code') ? ['code'] : []);
  for (const type of responseTypes)
    if (type !== 'code') throw metadataError(`response type ${type} is not supported; use code`);
  if (grantTypes.includes('authorization_code') !== responseTypes.includes('code'))
    throw metadataError('grant type authorization_code and response type code go together (RFC 7591 §2.1)');

  const native = applicationType === 'native';
  const redirectUris = stringList(metadata, 'redirect_uris') ?? [];
  const postLogoutRedirectUris = stringList(metadata, 'post_logout_redirect_uris') ?? [];
  if (redirectUris.length > maxRedirectUris || postLogoutRedirectUris.length > maxRedirectUris)
    throw metadataError(`at most ${maxRedirectUris} redirect URIs`);
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0)
    throw redirectError('the authorization_code grant needs at least one redirect URI');
  for (const uri of redirectUris) {
    const problem = registeredRedirectProblem(uri, native, policy);
    if (problem !== undefined) throw redirectError(`redirect URI ${uri} ${problem}`);
  }
  for (const uri of postLogoutRedirectUris) {
    const problem = registeredRedirectProblem(uri, native, policy);
    if (problem !== undefined) throw metadataError(`post_logout_redirect_uri ${uri} ${problem}`);
  }

  const allowed = allowedScopes(ctx);
  const scopeText = text(metadata, 'scope');
  const scopes =
    scopeText === undefined ? allowed : [...new Set(scopeText.split(' ').filter((s) => s !== ''))];
  for (const scope of scopes)
    if (!allowed.includes(scope))
      throw metadataError(
        `scope ${scope} is not allowed; registered clients may ask for ${allowed.join(' ')}`,
      );

  const signingAlg = text(metadata, 'token_endpoint_auth_signing_alg');
  if (signingAlg !== undefined) {
    if (!(jwsAlgorithms as readonly string[]).includes(signingAlg))
      throw metadataError(`token_endpoint_auth_signing_alg ${signingAlg} is not supported`);
    if (fapi2 && !fapi2Algorithms.includes(signingAlg))
      throw metadataError('the FAPI 2.0 profile allows token_endpoint_auth_signing_alg ES256 or PS256 only');
  }
  const name = text(metadata, 'client_name');
  if (name !== undefined && (name.trim() === '' || name.length > maxClientNameLength))
    throw metadataError(`client_name must be 1-${maxClientNameLength} characters`);
  const dpopBound = metadata.dpop_bound_access_tokens;
  if (dpopBound !== undefined && typeof dpopBound !== 'boolean')
    throw metadataError('dpop_bound_access_tokens must be a boolean');

  const jwksUri = text(metadata, 'jwks_uri');
  const fields: Record<string, unknown> = {
    name: name?.trim(),
    tokenEndpointAuthMethod: authMethod,
    grantTypes,
    redirectUris,
    postLogoutRedirectUris,
    scopes,
    requireConsent: true,
    requireDpop: dpopBound === true,
    ...(metadata.jwks === undefined || metadata.jwks === null ? {} : { jwks: metadata.jwks }),
    ...(jwksUri === undefined ? {} : { jwksUri }),
    ...(signingAlg === undefined ? {} : { tokenEndpointAuthSigningAlg: signingAlg }),
    ...(policy.accessTokenTtl === undefined ? {} : { accessTokenTtl: policy.accessTokenTtl }),
    ...(policy.refreshTokenLifetime === undefined || !grantTypes.includes('refresh_token')
      ? {}
      : { refreshTokenLifetime: policy.refreshTokenLifetime }),
  };
  return { fields, authMethod: authMethod as ClientAuthMethod, applicationType };
}

/** The metadata names of the config schema's client fields, for refusals in the registrant's terms. */
const metadataNames: Record<string, string> = {
  name: 'client_name',
  tokenEndpointAuthMethod: 'token_endpoint_auth_method',
  grantTypes: 'grant_types',
  redirectUris: 'redirect_uris',
  postLogoutRedirectUris: 'post_logout_redirect_uris',
  scopes: 'scope',
  jwks: 'jwks',
  jwksUri: 'jwks_uri',
  tokenEndpointAuthSigningAlg: 'token_endpoint_auth_signing_alg',
  secret: 'token_endpoint_auth_method',
};

/** The stored client: the metadata through the config schema's rules, as the config file's clients are. */
function buildClient(
  checked: CheckedMetadata,
  clientId: string,
  secret: string | undefined,
  createdAt: number,
): Client {
  const parsed = clientSchema.safeParse({
    clientId,
    ...checked.fields,
    name: checked.fields.name ?? clientId,
    ...(secret === undefined ? {} : { secret }),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const [field, ...rest] = issue.path.map(String);
    const name = metadataNames[field ?? ''] ?? field ?? 'metadata';
    const where = rest.length === 0 ? name : `${name} (${rest.join('.')})`;
    const message = `${where}: ${issue.message}`;
    throw field === 'redirectUris' ? redirectError(message) : metadataError(message);
  }
  return clientRecord(parsed.data, 'registration', createdAt);
}

/**
 * A client described by a client ID metadata document (protocol/client-metadata-document.ts): the same
 * checks as a registration, the URL as its id, source `metadata-document`. Throws the registration's
 * OAuthErrors.
 */
export function clientOfMetadataDocument(
  rules: MetadataRules,
  clientId: string,
  metadata: Record<string, unknown>,
  now: number,
): Client {
  const checked = checkMetadata(rules, metadata);
  // The schema's client id rule is for ids the server makes; a URL id is checked by the caller.
  const client = buildClient(
    { ...checked, fields: { ...checked.fields, name: checked.fields.name ?? clientId } },
    'metadata-document',
    undefined,
    now,
  );
  return { ...client, clientId, source: 'metadata-document' };
}

/** The client's metadata as registered (RFC 7591 §3.2.1, RFC 7592 §3). */
function clientMetadata(client: Client): ClientInformation {
  const { authentication } = client;
  return {
    client_id: client.clientId,
    client_id_issued_at: client.createdAt,
    client_name: client.name,
    redirect_uris: client.redirectUris,
    ...(client.postLogoutRedirectUris.length > 0
      ? { post_logout_redirect_uris: client.postLogoutRedirectUris }
      : {}),
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    scope: client.scopes.join(' '),
    ...(authentication.jwks === undefined ? {} : { jwks: authentication.jwks }),
    ...(authentication.jwksUri === undefined ? {} : { jwks_uri: authentication.jwksUri }),
    ...(authentication.tokenEndpointAuthSigningAlg === undefined
      ? {}
      : { token_endpoint_auth_signing_alg: authentication.tokenEndpointAuthSigningAlg }),
    ...(client.requireDpop ? { dpop_bound_access_tokens: true } : {}),
  };
}

function registrationClientUri(ctx: ServerContext, clientId: string): string {
  return `${ctx.endpoints.registration}/${encodeURIComponent(clientId)}`;
}

/** A Bearer token from an Authorization header (RFC 6750 §2.1), or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization ?? '');
  return match?.[1];
}

/** RFC 6750 §3.1 `invalid_token`, for a missing or wrong initial or registration access token. */
export function invalidToken(description: string): OAuthError {
  return new OAuthError('invalid_token', description);
}

/** The SHA-256 hashes of the configured initial access tokens, computed once. */
export function initialAccessTokenHashes(config: GatehouseConfig): string[] {
  return config.registration.initialAccessTokens.map(sha256Base64Url);
}

/**
 * RFC 7591 §3: in `initial-access-token` mode the request must carry one of the configured tokens. Every
 * configured hash is compared, in constant time, whichever matches.
 */
export function checkInitialAccessToken(
  config: GatehouseConfig,
  hashes: readonly string[],
  authorization: string | undefined,
): void {
  if (config.registration.mode === 'open') return;
  const token = bearerToken(authorization);
  if (token === undefined) throw invalidToken('registration needs an initial access token');
  const presented = sha256Base64Url(token);
  let matches = false;
  for (const hash of hashes) matches = constantTimeEqual(presented, hash) || matches;
  if (!matches) throw invalidToken('the initial access token is not valid');
}

/** RFC 7591 §3.1-3.2.1: registers a client and answers with its information and credentials. */
export async function registerClient(
  ctx: ServerContext,
  metadata: Record<string, unknown>,
): Promise<ClientInformation> {
  const checked = checkMetadata(ctx, metadata);
  const now = ctx.now();
  const clientId = randomHandle(16);
  const secret = secretAuthMethods.includes(checked.authMethod) ? randomHandle(32) : undefined;
  const client = buildClient(checked, clientId, secret, now);
  const registrationToken = randomHandle(32);
  await ctx.storage.transaction(async (repositories) => {
    await repositories.clients.save(client);
    await repositories.clients.setRegistrationTokenHash(clientId, sha256Base64Url(registrationToken), null);
  });
  ctx.audit('client_registered', {
    client_id: clientId,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
  });
  return {
    ...clientMetadata(client),
    ...(checked.applicationType === 'native' ? { application_type: 'native' } : {}),
    ...(secret === undefined ? {} : { client_secret: secret, client_secret_expires_at: 0 }),
    registration_access_token: registrationToken,
    registration_client_uri: registrationClientUri(ctx, clientId),
  };
}

/**
 * RFC 7592 §2: the registered client a registration access token belongs to. Anything else (no token, a
 * wrong one, an unknown or non-registered client) is the same 401 `invalid_token`, so the answer says
 * nothing about which clients exist.
 */
async function authorizedClient(
  ctx: ServerContext,
  clientId: string,
  authorization: string | undefined,
): Promise<{ client: Client; tokenHash: string }> {
  const token = bearerToken(authorization);
  if (token === undefined) throw invalidToken('a registration access token is required');
  const presented = sha256Base64Url(token);
  const client = await ctx.storage.clients.find(clientId);
  const stored =
    client?.source === 'registration' ? await ctx.storage.clients.registrationTokenHash(clientId) : undefined;
  // Compared even when there is nothing to compare with, so timing does not tell unknown clients apart.
  const matches = constantTimeEqual(presented, stored ?? sha256Base64Url(''));
  if (client === undefined || stored === undefined || !matches)
    throw invalidToken('the registration access token is not valid for this client');
  return { client, tokenHash: stored };
}

/** RFC 7592 §2.1: the registered client's current information (its secret is stored hashed, so not shown). */
export async function readRegistration(
  ctx: ServerContext,
  clientId: string,
  authorization: string | undefined,
): Promise<ClientInformation> {
  const { client } = await authorizedClient(ctx, clientId, authorization);
  return {
    ...clientMetadata(client),
    ...(client.secrets.length > 0 ? { client_secret_expires_at: 0 } : {}),
    registration_client_uri: registrationClientUri(ctx, clientId),
  };
}

/**
 * RFC 7592 §2.2: replaces the client's metadata with the request's (checked as a registration is), keeps
 * its secret while it keeps a secret method (a new one is issued when it moves to one), and replaces the
 * registration access token. `client_id` must be sent and match; a `client_secret`, when sent, must be the
 * current one. The body is read only once the token is accepted.
 */
export async function updateRegistration(
  ctx: ServerContext,
  clientId: string,
  authorization: string | undefined,
  readMetadata: () => Record<string, unknown>,
): Promise<ClientInformation> {
  const { client, tokenHash } = await authorizedClient(ctx, clientId, authorization);
  const metadata = readMetadata();
  if (metadata.client_id !== clientId)
    throw new OAuthError(
      'invalid_request',
      'client_id must be sent and be the id of the client being updated',
    );
  const sentSecret = metadata.client_secret;
  if (sentSecret !== undefined) {
    const sentHash = typeof sentSecret === 'string' ? sha256Base64Url(sentSecret) : '';
    if (!client.secrets.some((secret) => constantTimeEqual(sentHash, secret.hash)))
      throw new OAuthError('invalid_request', "client_secret is not the client's current secret");
  }
  const checked = checkMetadata(ctx, metadata);
  const keepsSecret = secretAuthMethods.includes(checked.authMethod) && client.secrets.length > 0;
  const newSecret =
    secretAuthMethods.includes(checked.authMethod) && !keepsSecret ? randomHandle(32) : undefined;
  // A kept secret passes the schema's "needs a secret" rule with a placeholder; its stored hashes stay.
  const placeholder = keepsSecret ? randomHandle(32) : newSecret;
  const built = buildClient(checked, clientId, placeholder, client.createdAt);
  const updated: Client = keepsSecret ? { ...built, secrets: client.secrets } : built;
  const registrationToken = randomHandle(32);
  await ctx.storage.transaction(async (repositories) => {
    await repositories.clients.save(updated);
    const rotated = await repositories.clients.setRegistrationTokenHash(
      clientId,
      sha256Base64Url(registrationToken),
      tokenHash,
    );
    // Another update with the same token came first: this one is rolled back.
    if (!rotated) throw invalidToken('the registration access token is not valid for this client');
  });
  ctx.audit('client_registration_updated', { client_id: clientId });
  return {
    ...clientMetadata(updated),
    ...(checked.applicationType === 'native' ? { application_type: 'native' } : {}),
    ...(newSecret === undefined ? {} : { client_secret: newSecret }),
    ...(updated.secrets.length > 0 ? { client_secret_expires_at: 0 } : {}),
    registration_access_token: registrationToken,
    registration_client_uri: registrationClientUri(ctx, clientId),
  };
}

/**
 * RFC 7592 §2.3: deletes the client as `gatehouse client remove` does: its grants are revoked (and with
 * them every token issued from them) and its consents removed, so it cannot get or use tokens any more.
 */
export async function deleteRegistration(
  ctx: ServerContext,
  clientId: string,
  authorization: string | undefined,
): Promise<void> {
  await authorizedClient(ctx, clientId, authorization);
  const now = ctx.now();
  await ctx.storage.transaction(async (repositories) => {
    await repositories.clients.remove(clientId);
    await repositories.grants.revokeAllForClient(clientId, now);
    await repositories.consents.removeForClient(clientId);
  });
  ctx.audit('client_registration_deleted', { client_id: clientId });
}
