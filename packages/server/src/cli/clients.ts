/**
 * `gatehouse client add|list|remove|disable|enable|rotate-secret`: clients registered in the database rather than the
 * config file. The server generates every secret (256 random bits, RFC 6749 §10.10), prints it once and
 * stores only its hash, so nothing can reveal it later; key and certificate clients (RFC 7523, RFC 8705)
 * get none. Input is checked by the config schema's client rules; clients of the file are left to the file.
 */
import { readFileSync } from 'node:fs';
import { catalogEntries } from '../admin/api-catalog.ts';
import {
  type ClientChecks,
  certificateProblems,
  configClientRefusal,
  declaredInConfig,
  maxSecretOverlap,
  prepareNewClient,
  removeClient,
  rotateSecret as rotateClientSecret,
  setClientDisabled,
  storeNewClient,
} from '../admin/clients.ts';
import { fapi2AuthMethods, grantTypes, tokenExchangeGrantType } from '../config/clients.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import { clientOrigins } from '../http/cors.ts';
import { type Client, clientAuthMethods } from '../model.ts';
import { redirectUriProblem } from '../protocol/redirect-uri.ts';
import {
  adminOperation,
  type CommandGroup,
  formatTime,
  loadConfig,
  optionsOf,
  parseCommand,
  parseDuration,
  print,
  printList,
  type RefusalWording,
  refusal,
  repeatableOptions,
  runSubcommand,
  secretNotice,
  systemNow,
  UsageError,
  withStorage,
} from './support.ts';

const clientUsage = `Usage: gatehouse client <add|list|remove|disable|enable|rotate-secret> [options] [--config FILE]

  add --id ID --name NAME [options]       register a client; a confidential client's secret is printed once
      --public                            public client (no secret; token endpoint auth method none)
      --auth-method METHOD                client_secret_basic (default), client_secret_post, private_key_jwt,
                                          tls_client_auth or self_signed_tls_client_auth
      --jwks-uri URL | --jwks-file FILE   private_key_jwt, self_signed_tls_client_auth: the client's public
                                          keys (https jwks_uri, or a JWK Set file stored inline)
      --signing-alg ALG                   private_key_jwt: the one algorithm its assertions may use
      --tls-subject-dn DN                 tls_client_auth: exactly one of these identifies its certificate
      --tls-san-dns NAME | --tls-san-uri URI | --tls-san-ip IP | --tls-san-email ADDRESS
      --certificate-bound                 bind access tokens to the client certificate (RFC 8705 §3)
      --grant TYPE                        repeatable: authorization_code, refresh_token, client_credentials,
                                          urn:ietf:params:oauth:grant-type:device_code,
                                          urn:openid:params:grant-type:ciba
      --redirect-uri URI                  repeatable; required with authorization_code
      --post-logout-redirect-uri URI      repeatable
      --scope SCOPE                       repeatable (or space separated); identity or API scopes (the config's
                                          or added with gatehouse scope add)
      --no-consent                        do not ask users to consent (first-party clients)
      --require-dpop                      every token request must carry a DPoP proof (RFC 9449)
      --require-par                       authorization requests must be pushed to /par (RFC 9126)
      --backchannel-delivery-mode MODE    the CIBA grant: poll or ping (CIBA Core §4)
      --backchannel-notification-endpoint URL
                                          ping mode: where the server pings the client (https)
      --require-mfa                       every sign-in for this client needs a second factor
      --upstream ID                       repeatable: a configured upstream provider (config upstreams[].id)
                                          the sign-in page offers, in the order given
      --cors-origin ORIGIN                repeatable: a browser origin (scheme://host[:port]) allowed to call
                                          /token, /userinfo, /revoke, /par, discovery and /jwks (CORS); a
                                          public client has the origins of its https and http://localhost
                                          redirect URIs as well
      --refresh-absolute DURATION         refresh tokens end this long after the authorization, however
                                          used (1h to 365d; default tokens.refreshTokenTtl)
      --refresh-idle DURATION             a refresh token unused this long expires (5m to 365d; default
                                          tokens.refreshTokenIdleTtl, else no idle limit)
      --json                              print the result as JSON
  list [--json]                           clients in the database (secrets are never shown)
  remove ID [--json]                      remove a client added with the CLI and revoke its grants
  disable ID [--revoke-grants] [--json]   suspend a stored client on every node: it cannot authenticate or
                                          start sign-ins and its access tokens are refused; its refresh
                                          tokens work again once enabled, unless --revoke-grants
  enable ID [--json]                      let a disabled client work again
  rotate-secret ID [--overlap DURATION] [--json]
                                          give a CLI client a new secret, printed once; the previous one
                                          keeps working for the overlap (default 0: it stops at once; at
                                          most 30d); an older one still overlapping is dropped

Client ids are 1-100 characters of A-Z a-z 0-9 . _ ~ -. Durations are 30m, 24h, 7d (s, m, h, d; a bare
number is seconds). Clients declared in the config file are managed in the file and cannot be removed,
disabled or rotated here.
`;

const clientIdPattern = /^[A-Za-z0-9._~-]{1,100}$/;
const scopeTokenPattern = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function clientType(client: Pick<Client, 'tokenEndpointAuthMethod'>): 'public' | 'confidential' {
  return client.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential';
}

/** Refusals of the shared operations (admin/clients.ts), each problem named by its option. */
const clientRefusals: RefusalWording = { heading: 'cannot add the client:', optionOf };

function cliOperation<T>(operation: () => T): T {
  return adminOperation(clientRefusals, operation);
}

interface AddInput {
  id: string | undefined;
  name: string | undefined;
  isPublic: boolean;
  authMethod: string | undefined;
  grants: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
}

/** The token endpoint auth method the options ask for (`none` for --public; checked by clientProblems). */
function authMethodOf(input: AddInput): string {
  return input.isPublic ? 'none' : (input.authMethod ?? 'client_secret_basic');
}

/**
 * The API scopes operators added (gatehouse scope add, the admin API), which a client may hold as it holds
 * the file's; the database is read only when a requested scope is not the file's.
 */
async function storedScopes(config: GatehouseConfig, scopes: readonly string[]): Promise<ClientChecks> {
  const fileScopes = new Set([...config.identityResources, ...config.apiScopes].map((scope) => scope.name));
  if (scopes.every((scope) => fileScopes.has(scope))) return {};
  const catalog = await withStorage(config, (storage) => catalogEntries(config, storage));
  return { apiScopes: catalog.scopes.map((scope) => scope.name) };
}

/** Every problem with a new client, in the words of the options; empty when it can be registered. */
function clientProblems(input: AddInput, config: GatehouseConfig, catalog: ClientChecks): string[] {
  const problems: string[] = [];
  if (input.id === undefined) problems.push('--id is required');
  else if (!clientIdPattern.test(input.id))
    problems.push('--id must be 1-100 characters of A-Z a-z 0-9 . _ ~ -');
  if (input.name === undefined || input.name.trim() === '') problems.push('--name is required');
  if (input.isPublic && input.authMethod !== undefined)
    problems.push('--auth-method cannot be combined with --public (a public client has no secret)');
  const methods = clientAuthMethods.filter((method) => method !== 'none');
  if (input.authMethod !== undefined && !(methods as string[]).includes(input.authMethod)) {
    problems.push(`--auth-method must be one of ${methods.join(', ')}, not "${input.authMethod}"`);
  }
  // FAPI 2.0 (protocol/profile.ts): only private_key_jwt and mutual TLS authenticate clients.
  if (config.profile === 'fapi2' && !(fapi2AuthMethods as string[]).includes(authMethodOf(input)))
    problems.push(
      'the server runs the FAPI 2.0 profile: use --auth-method private_key_jwt, tls_client_auth or self_signed_tls_client_auth',
    );
  if (input.grants.length === 0) problems.push('at least one --grant is required');
  for (const grant of input.grants) {
    if (!(grantTypes as readonly string[]).includes(grant))
      problems.push(`--grant "${grant}" is not one of ${grantTypes.join(', ')}`);
  }
  if (input.grants.includes(tokenExchangeGrantType))
    problems.push(
      '--grant token-exchange needs a tokenExchange policy: declare such clients in the config file',
    );
  if (input.isPublic && input.grants.includes('client_credentials'))
    problems.push('--grant client_credentials needs a confidential client (drop --public)');
  if (input.grants.includes('authorization_code') && input.redirectUris.length === 0)
    problems.push('--grant authorization_code needs at least one --redirect-uri');
  for (const [option, uris] of [
    ['--redirect-uri', input.redirectUris],
    ['--post-logout-redirect-uri', input.postLogoutRedirectUris],
  ] as const) {
    for (const uri of uris) {
      const problem = redirectUriProblem(uri);
      if (problem !== undefined) problems.push(`${option} ${uri} ${problem}`);
    }
  }
  const known = new Set([
    ...config.identityResources.map((resource) => resource.name),
    ...config.apiScopes.map((scope) => scope.name),
    ...(catalog.apiScopes ?? []),
  ]);
  for (const scope of input.scopes) {
    if (!scopeTokenPattern.test(scope)) problems.push(`--scope "${scope}" is not a valid scope token`);
    else if (!known.has(scope))
      problems.push(
        `--scope "${scope}" is unknown (not an identity resource or API scope of the config, nor one added with gatehouse scope add)`,
      );
  }
  return problems;
}

/** The options of `add` whose value is one client field as written (the config schema checks it), by field. */
const fieldOptions = {
  jwksUri: 'jwks-uri',
  tokenEndpointAuthSigningAlg: 'signing-alg',
  tlsClientAuthSubjectDn: 'tls-subject-dn',
  tlsClientAuthSanDns: 'tls-san-dns',
  tlsClientAuthSanUri: 'tls-san-uri',
  tlsClientAuthSanIp: 'tls-san-ip',
  tlsClientAuthSanEmail: 'tls-san-email',
  backchannelTokenDeliveryMode: 'backchannel-delivery-mode',
  backchannelClientNotificationEndpoint: 'backchannel-notification-endpoint',
} as const;

/** The option a config-schema field of a client comes from, for error messages. */
const optionsOfFields: Record<string, string> = {
  ...Object.fromEntries(Object.entries(fieldOptions).map(([field, option]) => [field, `--${option}`])),
  jwks: '--jwks-file / --jwks-uri',
  tlsClientAuthSubjectDn: '--tls-subject-dn / --tls-san-*',
  tlsClientCertificateBoundAccessTokens: '--certificate-bound',
  tokenEndpointAuthMethod: '--auth-method',
  corsOrigins: '--cors-origin',
  refreshTokenLifetime: '--refresh-absolute / --refresh-idle',
  grantTypes: '--grant',
  scopes: '--scope',
};

function optionOf(path: readonly PropertyKey[]): string {
  const [field, ...rest] = path.map(String);
  const option = optionsOfFields[field ?? ''] ?? field ?? 'client';
  return rest.length === 0 ? option : `${option} (${rest.join('.')})`;
}

/** A JWK Set file for --jwks-file; a problem is recorded (and undefined returned) when it is not JSON. */
function readJwksFile(file: string, problems: string[]): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    problems.push(`--jwks-file ${file} cannot be read as JSON (${(error as Error).message})`);
    return undefined;
  }
}

function optionalDuration(value: string | undefined, option: string): number | undefined {
  return value === undefined ? undefined : parseDuration(value, option);
}

/** Repeatable values, with space-separated lists split and duplicates dropped (order kept). */
function list(values: string[] | undefined, split = false): string[] {
  const items = (values ?? []).flatMap((value) => (split ? value.split(/\s+/) : [value]));
  return [...new Set(items.filter((item) => item !== ''))];
}

/** The options of `add` (described in `clientUsage`). */
const addOptions = {
  ...optionsOf('string', ['id', 'name', 'auth-method', 'jwks-file', 'refresh-absolute', 'refresh-idle']),
  ...optionsOf('string', Object.values(fieldOptions)),
  ...optionsOf('boolean', [
    'public',
    'no-consent',
    'require-dpop',
    'require-par',
    'require-mfa',
    'certificate-bound',
  ]),
  ...repeatableOptions([
    'grant',
    'redirect-uri',
    'post-logout-redirect-uri',
    'scope',
    'upstream',
    'cors-origin',
  ]),
};

async function add(args: string[]): Promise<number> {
  const { values } = parseCommand(args, addOptions, false);
  const config = loadConfig(values.config);
  const refreshAbsolute = optionalDuration(values['refresh-absolute'], '--refresh-absolute');
  const refreshIdle = optionalDuration(values['refresh-idle'], '--refresh-idle');
  const input: AddInput = {
    id: values.id,
    name: values.name,
    isPublic: values.public === true,
    authMethod: values['auth-method'],
    grants: list(values.grant),
    redirectUris: list(values['redirect-uri']),
    postLogoutRedirectUris: list(values['post-logout-redirect-uri']),
    scopes: list(values.scope, true),
  };
  const catalog = await storedScopes(config, input.scopes);
  const problems = clientProblems(input, config, catalog);
  const jwks = values['jwks-file'] === undefined ? undefined : readJwksFile(values['jwks-file'], problems);
  if (problems.length > 0) throw new UsageError('cannot add the client:', problems);
  // The config schema's client rules (keys for private_key_jwt, one certificate identity for
  // tls_client_auth, ...) and the file's rules about one client, shared with the admin API.
  const { client, secret } = cliOperation(() =>
    prepareNewClient(
      config,
      {
        clientId: input.id!,
        name: input.name!.trim(),
        tokenEndpointAuthMethod: authMethodOf(input),
        jwks,
        ...Object.fromEntries(Object.entries(fieldOptions).map(([field, option]) => [field, values[option]])),
        tlsClientCertificateBoundAccessTokens: values['certificate-bound'] === true,
        grantTypes: input.grants,
        redirectUris: input.redirectUris,
        postLogoutRedirectUris: input.postLogoutRedirectUris,
        scopes: input.scopes,
        requireConsent: values['no-consent'] !== true,
        requireDpop: values['require-dpop'] === true,
        requirePushedAuthorizationRequests: values['require-par'] === true,
        ...(values['require-mfa'] === true ? { requireMfa: true } : {}),
        upstreams: list(values.upstream),
        corsOrigins: list(values['cors-origin']),
        refreshTokenLifetime:
          refreshAbsolute === undefined && refreshIdle === undefined
            ? undefined
            : { absolute: refreshAbsolute, idle: refreshIdle },
      },
      systemNow(),
      catalog,
    ),
  );
  const { clientId } = client;
  const method = client.tokenEndpointAuthMethod;
  await cliOperation(() => withStorage(config, (storage) => storeNewClient(storage, client)));
  // Accepted (the server's TLS may be set up later), but said: the admin API refuses such a client.
  for (const message of certificateProblems(config, client))
    process.stderr.write(`gatehouse client add: warning: ${message}\n`);

  if (values.json === true) {
    print(JSON.stringify({ clientId, type: clientType(client), clientSecret: secret ?? null }));
    return 0;
  }
  print(
    `Added ${clientType(client)} client "${clientId}" (${method === 'none' ? 'no secret' : method}; grants: ${client.grantTypes.join(', ')}; ` +
      `scopes: ${client.scopes.join(' ') || '(none)'}).`,
  );
  if (secret !== undefined) print(`Client secret:\n${secret}\n${secretNotice}`);
  return 0;
}

async function listClients(args: string[]): Promise<number> {
  const { values } = parseCommand(args, {}, false);
  const config = loadConfig(values.config);
  const stored = await withStorage(config, (storage) => storage.clients.list());
  // Only descriptive fields, picked one by one: no secret or hash can reach the output.
  const clients = stored.map((client) => ({
    clientId: client.clientId,
    name: client.name,
    type: clientType(client),
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    grantTypes: client.grantTypes,
    redirectUris: client.redirectUris,
    scopes: client.scopes,
    requireConsent: client.requireConsent,
    requireDpop: client.requireDpop,
    requirePushedAuthorizationRequests: client.requirePushedAuthorizationRequests,
    requireMfa: client.requireMfa === true,
    upstreams: client.upstreams ?? [],
    corsOrigins: clientOrigins(client),
    refreshTokenLifetime: client.refreshTokenLifetime,
    // When each secret stops working (null: never), newest first; never the secrets or their hashes.
    secretExpiries: client.secrets.map((secret) =>
      secret.expiresAt === null ? null : formatTime(secret.expiresAt),
    ),
    source: client.source,
    disabledAt: client.disabledAt === undefined ? null : formatTime(client.disabledAt),
  }));
  return printList(
    clients,
    values.json === true,
    'No clients in the database (clients in the config file are stored when the server starts).',
    ['CLIENT ID', 'NAME', 'TYPE', 'GRANTS', 'SOURCE'],
    (client) => [client.clientId, client.name, client.type, client.grantTypes.join(','), client.source],
  );
}

/** Parses `<command> ID [--json]`. */
function oneClientId(args: string[], command: string) {
  const { values, positionals } = parseCommand(args, {}, true);
  if (positionals.length !== 1)
    throw new UsageError(`usage: gatehouse client ${command} ID [--json] [--config FILE]`);
  return { clientId: positionals[0]!, configFile: values.config, json: values.json === true };
}

async function remove(args: string[]): Promise<number> {
  const { clientId, configFile, json } = oneClientId(args, 'remove');
  const config = loadConfig(configFile);
  if (declaredInConfig(config, clientId))
    throw refusal(configClientRefusal(clientId, 'remove it from the file'), clientRefusals);
  await cliOperation(() =>
    withStorage(config, (storage) => removeClient(storage, config, clientId, systemNow())),
  );
  if (json) print(JSON.stringify({ clientId, removed: true }));
  else print(`Removed client "${clientId}"; its grants and refresh tokens are revoked.`);
  return 0;
}

/** `disable ID [--revoke-grants]` and `enable ID`: the admin API's operation (admin/clients.ts). */
async function setDisabled(args: string[], disabled: boolean): Promise<number> {
  const command = disabled ? 'disable' : 'enable';
  const options: Record<string, { type: 'boolean' }> = disabled
    ? { 'revoke-grants': { type: 'boolean' } }
    : {};
  const { values, positionals } = parseCommand(args, options, true);
  if (positionals.length !== 1)
    throw new UsageError(
      `usage: gatehouse client ${command} ID${disabled ? ' [--revoke-grants]' : ''} [--json] [--config FILE]`,
    );
  const clientId = positionals[0]!;
  const revokeGrants = (values as { 'revoke-grants'?: boolean })['revoke-grants'] === true;
  const config = loadConfig(values.config);
  const client = await cliOperation(() =>
    withStorage(config, (storage) =>
      setClientDisabled(storage, config, clientId, { disabled, revokeGrants }, systemNow()),
    ),
  );
  const disabledAt = client.disabledAt === undefined ? null : formatTime(client.disabledAt);
  if (values.json === true) print(JSON.stringify({ clientId, disabledAt, grantsRevoked: revokeGrants }));
  else if (!disabled) print(`Enabled client "${clientId}".`);
  else
    print(
      `Disabled client "${clientId}" (since ${disabledAt}): it cannot get or use tokens on any node` +
        (revokeGrants ? '; its grants and refresh tokens are revoked.' : '.'),
    );
  return 0;
}

async function rotateSecret(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { overlap: { type: 'string' } }, true);
  if (positionals.length !== 1)
    throw new UsageError(
      'usage: gatehouse client rotate-secret ID [--overlap DURATION] [--json] [--config FILE]',
    );
  const clientId = positionals[0]!;
  const overlap = values.overlap === undefined ? 0 : parseDuration(values.overlap, '--overlap');
  if (overlap > maxSecretOverlap)
    throw new UsageError(
      `--overlap must be at most 30d (${maxSecretOverlap} seconds), not ${values.overlap}`,
    );
  const config = loadConfig(values.config);
  const { secret, previousSecretExpiresAt: previousUntil } = await cliOperation(() =>
    withStorage(config, (storage) => rotateClientSecret(storage, config, clientId, overlap, systemNow())),
  );
  if (values.json === true) {
    print(JSON.stringify({ clientId, clientSecret: secret, previousSecretExpiresAt: previousUntil }));
    return 0;
  }
  print(
    `New secret for client "${clientId}":\n${secret}\n${secretNotice}\n` +
      (previousUntil === null
        ? 'The previous secret stopped working immediately: update the client now.'
        : `The previous secret keeps working until ${formatTime(previousUntil)}; update the client before then.`),
  );
  return 0;
}

function clientCommand(subcommand: string | undefined, args: string[]): Promise<number> {
  return runSubcommand(subcommand, args, {
    add,
    list: listClients,
    remove,
    disable: (args: string[]) => setDisabled(args, true),
    enable: (args: string[]) => setDisabled(args, false),
    'rotate-secret': rotateSecret,
  });
}

export const clientGroup: CommandGroup = { usage: clientUsage, run: clientCommand };
