/**
 * `gatehouse scope add|list|remove` and `gatehouse api add|list|remove`: the API catalogue's stored part,
 * through the admin API's operations (admin/api-catalog.ts), so both accept and refuse the same things:
 * the config file's entries stay the file's, a scope still used by an API resource or a client stays.
 * A new API resource's introspection secret (RFC 7662 §2.1) is generated there and printed here once.
 * Running servers see each change at their next request (the catalogue's change counter).
 */
import {
  type CatalogInput,
  type CatalogResource,
  catalogEntries,
  removeResource,
  removeScope,
  saveResource,
  saveScope,
} from '../admin/api-catalog.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import type { Storage } from '../storage/ports.ts';
import * as cli from './support.ts';

const scopeUsage = `Usage: gatehouse scope <add|list|remove> [options] [--config FILE]

  add NAME --description TEXT [--json]    add an API scope that clients and API resources may name
  list [--json]                           every scope: the config file's identity and API scopes, and
                                          those added here or over the admin API
  remove NAME [--json]                    remove an added scope that no API resource or client uses

Scopes declared in the config file are managed in the file and cannot be changed or removed here.
`;

const apiUsage = `Usage: gatehouse api <add|list|remove> [options] [--config FILE]

  add ID --scope SCOPE [options]          add an API resource (the audience of its access tokens); its
                                          introspection secret is printed once
      --scope SCOPE                       repeatable (or space separated): the scopes this API owns
      --uri URI                           repeatable: an RFC 8707 resource indicator that selects this API
      --access-token-ttl DURATION         access token lifetime (default tokens.accessTokenTtl)
      --access-token-format FORMAT        jwt (default, RFC 9068) or opaque (the API introspects)
      --claims-user CLAIM                 repeatable: an account claim the access tokens carry
      --claims-roles true|false           roles always (true) or never (false); default: with the roles scope
      --scope-claim CLAIM                 scope (default), scp or both
      --json                              print the result as JSON
  list [--json]                           every API resource, the config file's and the added ones
                                          (never a secret)
  remove ID [--json]                      remove an added API resource (its scopes stay)

The options are the fields of apiResources in the config file. Durations are 30m, 24h, 7d (s, m, h, d; a
bare number is seconds). API resources declared in the config file are managed in the file.
`;

/** The option each field of an API resource or scope comes from, for error messages. */
const optionsOfFields: Readonly<Record<string, string>> = {
  id: 'ID',
  name: 'NAME',
  description: '--description',
  uris: '--uri',
  scopes: '--scope',
  accessTokenTtl: '--access-token-ttl',
  accessTokenFormat: '--access-token-format',
  claims: '--claims-user / --claims-roles',
  scopeClaim: '--scope-claim',
};

function optionOf(path: readonly string[]): string {
  const [field, ...rest] = path;
  const option = optionsOfFields[field ?? ''] ?? field ?? 'input';
  return rest.length === 0 ? option : `${option} (${rest.join('.')})`;
}

/** One kind of catalogue entry: its command, what messages call it, and its key's field. */
interface CatalogKind {
  command: 'scope' | 'api';
  what: string;
  keyField: 'name' | 'id';
}

const scopeKind: CatalogKind = { command: 'scope', what: 'scope', keyField: 'name' };
const apiKind: CatalogKind = { command: 'api', what: 'API resource', keyField: 'id' };

/** The one positional argument of `<command> KEY ...` (the scope's name, the API resource's id). */
function onlyKey(positionals: readonly string[], usage: string): string {
  if (positionals.length !== 1) throw new cli.UsageError(`usage: ${usage}`);
  return positionals[0]!;
}

/** Runs a catalogue operation on the configured store, its refusals naming the options of `kind`. */
function catalogOperation<T>(
  config: GatehouseConfig,
  kind: CatalogKind,
  operation: (storage: Storage) => Promise<T>,
): Promise<T> {
  const wording = { heading: `cannot add the ${kind.what}:`, optionOf };
  return cli.adminOperation(wording, () => cli.withStorage(config, operation));
}

async function addScope(args: string[]): Promise<number> {
  const { values, positionals } = cli.parseCommand(args, cli.optionsOf('string', ['description']), true);
  const key = onlyKey(positionals, 'gatehouse scope add NAME --description TEXT [--json] [--config FILE]');
  const config = cli.loadConfig(values.config);
  const json = values.json === true;
  const scope = await catalogOperation(config, scopeKind, (storage) =>
    saveScope(storage, config, { name: key, description: values.description }, cli.systemNow()),
  );
  if (json) cli.print(JSON.stringify({ name: scope.name, description: scope.description }));
  else cli.print(`Added scope "${scope.name}" (${scope.description}).`);
  return 0;
}

async function listScopes(args: string[]): Promise<number> {
  const { values } = cli.parseCommand(args, {}, false);
  const config = cli.loadConfig(values.config);
  const { scopes } = await cli.withStorage(config, (storage) => catalogEntries(config, storage));
  const rows = [
    ...config.identityResources.map(({ name, description }) => ({
      name,
      description,
      kind: 'identity',
      source: 'config',
    })),
    ...scopes.map(({ name, description, source }) => ({ name, description, kind: 'api', source })),
  ];
  return cli.printList(
    rows,
    values.json === true,
    'No scopes.',
    ['NAME', 'KIND', 'SOURCE', 'DESCRIPTION'],
    (row) => [row.name, row.kind, row.source, row.description],
  );
}

/** `remove KEY [--json]`: the admin API's removal of the entry of `kind` named KEY. */
async function removeEntry(
  args: string[],
  kind: CatalogKind,
  remove: (storage: Storage, config: GatehouseConfig, key: string) => Promise<void>,
): Promise<number> {
  const { values, positionals } = cli.parseCommand(args, {}, true);
  const key = onlyKey(
    positionals,
    `gatehouse ${kind.command} remove ${kind.keyField.toUpperCase()} [--json] [--config FILE]`,
  );
  const config = cli.loadConfig(values.config);
  await catalogOperation(config, kind, (storage) => remove(storage, config, key));
  if (values.json === true) cli.print(JSON.stringify({ [kind.keyField]: key, removed: true }));
  else cli.print(`Removed ${kind.what} "${key}".`);
  return 0;
}

/** Repeatable values, with space-separated lists split and duplicates dropped (order kept). */
function words(values: string[] | undefined): string[] {
  return [...new Set((values ?? []).flatMap((value) => value.split(/\s+/)).filter((item) => item !== ''))];
}

/** `true`/`false` as booleans; anything else as written, for the schema to refuse naming the field. */
function booleanOption(value: string | undefined): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

const addApiOptions = {
  ...cli.optionsOf('string', ['access-token-ttl', 'access-token-format', 'claims-roles', 'scope-claim']),
  ...cli.repeatableOptions(['scope', 'uri', 'claims-user']),
};

/** An API resource's fields as the config file has them, from the options of `api add` (unset ones take the file's defaults). */
function resourceInput(
  id: string,
  values: ReturnType<typeof cli.parseCommand<typeof addApiOptions, true>>['values'],
): CatalogInput {
  const ttl = values['access-token-ttl'];
  return {
    id,
    uris: values.uri ?? [],
    scopes: words(values.scope),
    accessTokenTtl: ttl === undefined ? undefined : cli.parseDuration(ttl, '--access-token-ttl'),
    accessTokenFormat: values['access-token-format'],
    claims: { user: values['claims-user'] ?? [], roles: booleanOption(values['claims-roles']) },
    scopeClaim: values['scope-claim'],
  };
}

/** What describes an API resource, never its introspection secret (or its hash). */
function resourceView({ resource, source, secretHash, createdAt }: CatalogResource) {
  return {
    ...resource,
    source,
    hasSecret: secretHash !== undefined,
    createdAt: createdAt === undefined ? null : cli.formatTime(createdAt),
  };
}

async function addApi(args: string[]): Promise<number> {
  const { values, positionals } = cli.parseCommand(args, addApiOptions, true);
  const key = onlyKey(positionals, 'gatehouse api add ID --scope SCOPE [options] [--json] [--config FILE]');
  const config = cli.loadConfig(values.config);
  const json = values.json === true;
  const input = resourceInput(key, values);
  const { entry, secret } = await catalogOperation(config, apiKind, (storage) =>
    saveResource(storage, config, input, cli.systemNow()),
  );
  const { id, scopes, accessTokenFormat } = entry.resource;
  if (json) {
    cli.print(JSON.stringify({ apiResource: resourceView(entry), secret: secret ?? null }));
    return 0;
  }
  cli.print(`Added API resource "${id}" (scopes: ${scopes.join(' ')}; ${accessTokenFormat} access tokens).`);
  if (secret !== undefined) cli.print(`Introspection secret:\n${secret}\n${cli.secretNotice}`);
  return 0;
}

async function listApis(args: string[]): Promise<number> {
  const { values } = cli.parseCommand(args, {}, false);
  const config = cli.loadConfig(values.config);
  const { resources } = await cli.withStorage(config, (storage) => catalogEntries(config, storage));
  return cli.printList(
    resources.map(resourceView),
    values.json === true,
    'No API resources.',
    ['ID', 'SCOPES', 'FORMAT', 'SOURCE'],
    (row) => [row.id, row.scopes.join(' '), row.accessTokenFormat, row.source],
  );
}

function scopeCommand(subcommand: string | undefined, args: string[]): Promise<number> {
  const remove = (args: string[]) => removeEntry(args, scopeKind, removeScope);
  return cli.runSubcommand(subcommand, args, { add: addScope, list: listScopes, remove });
}

function apiCommand(subcommand: string | undefined, args: string[]): Promise<number> {
  const remove = (args: string[]) => removeEntry(args, apiKind, removeResource);
  return cli.runSubcommand(subcommand, args, { add: addApi, list: listApis, remove });
}

export const scopeGroup: cli.CommandGroup = { usage: scopeUsage, run: scopeCommand };

export const apiGroup: cli.CommandGroup = { usage: apiUsage, run: apiCommand };
