/**
 * The operations on stored clients that the CLI (`gatehouse client ...`) and the admin API
 * (`/admin/v1/clients`) both run, so both accept and refuse the same things: a client is checked by the
 * config file's client schema (config/clients.ts) and by the file's cross-field rules that concern one
 * client (known scopes, the FAPI 2.0 profile, token-exchange audiences, configured upstream providers), with redirect URIs checked as
 * /authorize will (RFC 6749 §3.1.2). Whether the server can see client certificates (server.tls,
 * mtls.trustedProxyHeader, mtls.ca) is the server's settings: the admin API refuses a certificate client
 * the running server cannot serve, as the file does (`serverSettings`); the CLI only warns, since it may
 * register one before the server's TLS is set up. The server generates every secret (256 random bits, RFC
 * 6749 §10.10) and stores only its hash. Clients declared in the config file are the file's: they can be
 * read here but not changed (nor disabled: the file is the place to take one out). Every change goes
 * through the store, whose change counter makes every node drop its cached copy at its next request
 * (storage/caches.ts).
 *
 * Disabling suspends a stored client: it cannot authenticate (`invalid_client`, so its refresh tokens are
 * refused), start an authorization, or finish a pending sign-in, and its access tokens are inactive at
 * introspection and refused at userinfo, on every node from its next request. Enabling it again brings
 * its grants back unless the operator revoked them (`revokeGrants`, a compromised client).
 */
import { clientSchema, fapi2Algorithms, fapi2AuthMethods, secretAuthMethods } from '../config/clients.ts';
import { type ClientConfig, certificateSettingsProblems, type GatehouseConfig } from '../config/schema.ts';
import { clientRecord } from '../config/seed.ts';
import type { Client } from '../model.ts';
import { rotateClientSecrets } from '../protocol/client-secrets.ts';
import { type InputProblem, OAuthError } from '../protocol/errors.ts';
import { redirectUriProblem } from '../protocol/redirect-uri.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import type { Repositories, Storage } from '../storage/ports.ts';

/** The longest overlap a rotation gives an old secret: rotation is for ending a secret, not keeping it. */
export const maxSecretOverlap = 30 * 86400;

/** What an operator may write about a client: the config file's client fields, without its secrets. */
export type ClientInput = Record<string, unknown>;

/**
 * `serverSettings`: also refuse what this server's settings cannot serve (the admin API; the CLI warns).
 * `apiScopes`, `apiResources`: the names and ids known beyond the file's (added over the admin API,
 * admin/api-catalog.ts).
 */
export interface ClientChecks {
  serverSettings?: boolean;
  apiScopes?: Iterable<string>;
  apiResources?: Iterable<string>;
}

/** What the server's settings lack for `client`'s certificates (config/checks.ts), as messages. */
export function certificateProblems(config: GatehouseConfig, client: Client): string[] {
  return certificateSettingsProblems(config, {
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    tlsClientCertificateBoundAccessTokens: client.authentication.tlsClientCertificateBoundAccessTokens,
  });
}

/** Called with the stored client inside the change's transaction (the admin API's If-Match check). */
export type Precondition = (current: Client) => void | Promise<void>;

const placeholderSecret = 'x'.repeat(43);

export function declaredInConfig(config: GatehouseConfig, clientId: string): boolean {
  return config.clients.some((client) => client.clientId === clientId);
}

/** The refusal for a client of the config file: `action` says what to do instead. */
export function configClientRefusal(clientId: string, action: string): OAuthError {
  return new OAuthError(
    'conflict',
    `client "${clientId}" is declared in the config file; ${action} instead ` +
      '(the server applies the file on every start)',
  );
}

function invalidClient(details: InputProblem[]): OAuthError {
  return new OAuthError('invalid_request', 'the client is not valid', { details });
}

/** The config file's cross-field rules about one client (config/checks.ts), with redirect URI syntax. */
function configProblems(config: GatehouseConfig, client: ClientConfig, checks: ClientChecks): InputProblem[] {
  const problems: InputProblem[] = [];
  const known = new Set([
    ...config.identityResources.map((resource) => resource.name),
    ...config.apiScopes.map((scope) => scope.name),
    ...(checks.apiScopes ?? []),
  ]);
  client.scopes.forEach((scope, index) => {
    if (!known.has(scope))
      problems.push({
        field: `scopes.${index}`,
        message: `unknown scope "${scope}" (not an identity resource or API scope)`,
      });
  });
  for (const field of ['redirectUris', 'postLogoutRedirectUris'] as const) {
    client[field].forEach((uri, index) => {
      const problem = redirectUriProblem(uri);
      if (problem !== undefined) problems.push({ field: `${field}.${index}`, message: `${uri} ${problem}` });
    });
  }
  if (config.profile === 'fapi2' || client.profile === 'fapi2') {
    if (!fapi2AuthMethods.includes(client.tokenEndpointAuthMethod))
      problems.push({
        field: 'tokenEndpointAuthMethod',
        message: 'the FAPI 2.0 profile needs private_key_jwt, tls_client_auth or self_signed_tls_client_auth',
      });
    const alg = client.tokenEndpointAuthSigningAlg;
    if (alg !== undefined && !fapi2Algorithms.includes(alg))
      problems.push({
        field: 'tokenEndpointAuthSigningAlg',
        message: 'the FAPI 2.0 profile allows ES256 or PS256 only',
      });
  }
  const upstreamIds = new Set(config.upstreams.map((upstream) => upstream.id));
  client.upstreams.forEach((id, index) => {
    if (!upstreamIds.has(id))
      problems.push({
        field: `upstreams.${index}`,
        message: `unknown upstream "${id}" (not in the config's upstreams)`,
      });
    else if (client.upstreams.indexOf(id) !== index)
      problems.push({ field: `upstreams.${index}`, message: `upstream "${id}" is listed twice` });
  });
  const resourceIds = new Set([
    ...config.apiResources.map((resource) => resource.id),
    ...(checks.apiResources ?? []),
  ]);
  client.tokenExchange?.audiences.forEach((audience, index) => {
    if (!resourceIds.has(audience))
      problems.push({
        field: `tokenExchange.audiences.${index}`,
        message: `unknown API resource "${audience}"`,
      });
  });
  return problems;
}

/**
 * The client `input` describes, checked by the config file's rules, with `secret` (or none) in place of
 * the secrets an operator may not send; throws `invalid_request` listing every problem by field.
 */
function checkedClient(
  config: GatehouseConfig,
  input: ClientInput,
  secret: string | undefined,
  checks: ClientChecks,
): ClientConfig {
  const problems: InputProblem[] = [];
  for (const field of ['secret', 'secrets'] as const) {
    if (field in input)
      problems.push({ field, message: 'secrets are generated by the server (rotate them instead)' });
  }
  const method = input.tokenEndpointAuthMethod ?? 'client_secret_basic';
  const needsSecret = secretAuthMethods.includes(method as Client['tokenEndpointAuthMethod']);
  const { secret: _secret, secrets: _secrets, ...fields } = input;
  const parsed = clientSchema.safeParse({ ...fields, ...(needsSecret ? { secret } : {}) });
  if (!parsed.success) {
    problems.push(
      ...parsed.error.issues.map((issue) => ({
        field: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    );
    throw invalidClient(problems);
  }
  problems.push(...configProblems(config, parsed.data as ClientConfig, checks));
  if (checks.serverSettings === true)
    for (const message of certificateSettingsProblems(config, parsed.data))
      problems.push({ field: 'tokenEndpointAuthMethod', message });
  if (problems.length > 0) throw invalidClient(problems);
  return parsed.data as ClientConfig;
}

/** A new client, checked, with its secret (printed or answered once) when its method uses one. */
export function prepareNewClient(
  config: GatehouseConfig,
  input: ClientInput,
  now: number,
  checks: ClientChecks = {},
): { client: Client; secret: string | undefined } {
  const secret = randomHandle(32);
  const checked = checkedClient(config, input, secret, checks);
  const usesSecret = secretAuthMethods.includes(checked.tokenEndpointAuthMethod);
  if (declaredInConfig(config, checked.clientId))
    throw new OAuthError(
      'conflict',
      `client "${checked.clientId}" already exists (declared in the config file)`,
    );
  return { client: clientRecord(checked, 'cli', now), secret: usesSecret ? secret : undefined };
}

/** Stores a new client; check and insert are one transaction, so two adds of one id cannot both succeed. */
export async function storeNewClient(storage: Storage, client: Client): Promise<void> {
  const added = await storage.transaction(async (repositories) => {
    if (await repositories.clients.find(client.clientId)) return false;
    await repositories.clients.save(client);
    return true;
  });
  if (!added) throw new OAuthError('conflict', `client "${client.clientId}" already exists`);
}

/** The stored client `clientId` that the CLI and the API may change: not one of the file's. */
async function changeableClient(
  repositories: Repositories,
  config: GatehouseConfig,
  clientId: string,
  action: string,
): Promise<Client> {
  if (declaredInConfig(config, clientId)) throw configClientRefusal(clientId, action);
  const client = await repositories.clients.find(clientId);
  if (client === undefined) throw new OAuthError('not_found', `no client "${clientId}"`);
  if (client.source === 'config')
    throw new OAuthError(
      'conflict',
      `client "${clientId}" came from the config file; it is dropped when the server next starts without it`,
    );
  return client;
}

/**
 * Replaces a stored client's settings with `input` (its id cannot change). Secrets are kept while its
 * method uses them; a client that moves to a secret method gets a new one, returned once.
 */
export async function replaceClient(
  storage: Storage,
  config: GatehouseConfig,
  clientId: string,
  input: ClientInput,
  precondition?: Precondition,
  checks: ClientChecks = {},
): Promise<{ client: Client; secret: string | undefined }> {
  if ('clientId' in input && input.clientId !== clientId)
    throw invalidClient([{ field: 'clientId', message: 'the client id cannot be changed' }]);
  const newSecret = randomHandle(32);
  const checked = checkedClient(config, { ...input, clientId }, placeholderSecret, checks);
  return storage.exclusive(`admin-client-${clientId}`, async (repositories) => {
    const current = await changeableClient(repositories, config, clientId, 'change it in the file');
    await precondition?.(current);
    const usesSecret = secretAuthMethods.includes(checked.tokenEndpointAuthMethod);
    const keepSecrets = usesSecret && current.secrets.length > 0;
    const client: Client = {
      ...clientRecord(checked, current.source, current.createdAt),
      // A save keeps the stored disabled state (ClientRepository.setDisabled); the answer shows it.
      ...(current.disabledAt === undefined ? {} : { disabledAt: current.disabledAt }),
      secrets: keepSecrets
        ? current.secrets
        : usesSecret
          ? [{ hash: sha256Base64Url(newSecret), expiresAt: null }]
          : [],
    };
    await repositories.clients.save(client);
    return { client, secret: usesSecret && !keepSecrets ? newSecret : undefined };
  });
}

/** Removes a stored client and revokes its grants (with their refresh tokens) and consents. */
export async function removeClient(
  storage: Storage,
  config: GatehouseConfig,
  clientId: string,
  now: number,
  precondition?: Precondition,
): Promise<void> {
  await storage.exclusive(`admin-client-${clientId}`, async (repositories) => {
    const current = await changeableClient(repositories, config, clientId, 'remove it from the file');
    await precondition?.(current);
    await repositories.clients.remove(clientId);
    await repositories.grants.revokeAllForClient(clientId, now);
    await repositories.consents.removeForClient(clientId);
  });
}

/**
 * Gives a stored client a new secret (returned once); the previous one keeps working for `overlap`
 * seconds (protocol/client-secrets.ts). Read and replace are one transaction: two rotations at once
 * cannot both keep the same previous secret.
 */
export async function rotateSecret(
  storage: Storage,
  config: GatehouseConfig,
  clientId: string,
  overlap: number,
  now: number,
  precondition?: Precondition,
): Promise<{ client: Client; secret: string; previousSecretExpiresAt: number | null }> {
  if (!Number.isInteger(overlap) || overlap < 0 || overlap > maxSecretOverlap)
    throw new OAuthError('invalid_request', `the overlap must be at most 30d (${maxSecretOverlap} seconds)`, {
      details: [
        { field: 'overlap', message: `must be a whole number of seconds from 0 to ${maxSecretOverlap}` },
      ],
    });
  const action = 'change its secrets in the file or their environment variables';
  const secret = randomHandle(32);
  return storage.exclusive(`admin-client-${clientId}`, async (repositories) => {
    const current = await changeableClient(repositories, config, clientId, action);
    await precondition?.(current);
    if (!secretAuthMethods.includes(current.tokenEndpointAuthMethod))
      throw new OAuthError(
        'conflict',
        current.tokenEndpointAuthMethod === 'none'
          ? `client "${clientId}" is a public client and has no secret`
          : `client "${clientId}" authenticates with ${current.tokenEndpointAuthMethod} and has no secret`,
      );
    const secrets = rotateClientSecrets(current.secrets, sha256Base64Url(secret), now, overlap);
    if (!(await repositories.clients.updateSecrets(clientId, secrets)))
      throw new OAuthError('not_found', `no client "${clientId}"`);
    return {
      client: { ...current, secrets },
      secret,
      previousSecretExpiresAt: secrets[1]?.expiresAt ?? null,
    };
  });
}

/**
 * Disables (`disabled`) or enables a stored client (see the module comment); a client already disabled
 * keeps its original time. `revokeGrants` (disabling only) revokes its grants with their refresh tokens.
 */
export async function setClientDisabled(
  storage: Storage,
  config: GatehouseConfig,
  clientId: string,
  change: { disabled: boolean; revokeGrants?: boolean },
  now: number,
  precondition?: Precondition,
): Promise<Client> {
  const action = change.disabled ? 'remove it from the file' : 'change it in the file';
  return storage.exclusive(`admin-client-${clientId}`, async (repositories) => {
    const current = await changeableClient(repositories, config, clientId, action);
    await precondition?.(current);
    const { disabledAt: _disabledAt, ...enabled } = current;
    const client: Client = change.disabled ? { ...current, disabledAt: current.disabledAt ?? now } : enabled;
    await repositories.clients.setDisabled(clientId, client.disabledAt ?? null);
    if (change.disabled && change.revokeGrants === true)
      await repositories.grants.revokeAllForClient(clientId, now);
    return client;
  });
}
