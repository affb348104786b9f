/**
 * The writable part of the API catalogue (`/admin/v1/api-resources`, `/admin/v1/scopes`): API scopes and
 * API resources an operator adds are stored (storage ApiCatalogRepository) next to the config file's,
 * which stay the file's (409 here). A stored entry is checked by the file's schema (config/resources.ts)
 * and its catalogue rules (config/checks.ts apiResourceProblems) against the whole catalogue, under one
 * lock so two nodes cannot both give a scope to different resources. A stored resource's introspection
 * secret (RFC 7662 §2.1) is generated here, answered once and kept as its SHA-256. Every write moves the
 * catalog change counter, and every node rebuilds its ScopeCatalog (protocol/scopes.ts) before its next
 * request.
 */
import type * as z from 'zod';
import { apiResourceProblems } from '../config/checks.ts';
import { apiResourceSchema, apiScopeSchema } from '../config/resources.ts';
import type { ApiResourceConfig, GatehouseConfig } from '../config/schema.ts';
import { type InputProblem, OAuthError } from '../protocol/errors.ts';
import type { CatalogSource } from '../protocol/scopes.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import type { Repositories, Storage, StoredApiResource, StoredApiScope } from '../storage/ports.ts';

/** What an operator writes: an API scope's or API resource's fields as in the config file. */
export type CatalogInput = Record<string, unknown>;

export type CatalogSourceName = 'config' | 'admin';

export interface CatalogScope {
  name: string;
  description: string;
  source: CatalogSourceName;
}

export interface CatalogResource {
  /** The file's fields, without a secret. */
  resource: Omit<ApiResourceConfig, 'secret'>;
  source: CatalogSourceName;
  secretHash: string | undefined;
  /** When an operator added it (epoch seconds); undefined for the file's. */
  createdAt: number | undefined;
}

/** Where the catalogue reports what it skips (the server's logger). */
export interface CatalogLog {
  warn(fields: object, message: string): void;
}

/** The lock every catalogue change holds: its checks read the whole catalogue. */
const lockName = 'admin-api-catalog';

function fileResource({ secret, ...resource }: ApiResourceConfig): CatalogResource {
  return {
    resource,
    source: 'config',
    secretHash: secret === undefined ? undefined : sha256Base64Url(secret),
    createdAt: undefined,
  };
}

/**
 * A stored resource read by the file's schema (it was checked when written); undefined if it no longer is,
 * told to `log` with the paths of the schema's problems (never the values, which may hold a secret).
 */
function storedResource(stored: StoredApiResource, log: CatalogLog | undefined): CatalogResource | undefined {
  const parsed = apiResourceSchema.safeParse(stored.definition);
  if (!parsed.success) {
    log?.warn(
      { resource: stored.id, problems: parsed.error.issues.map((issue) => issue.path.join('.')) },
      'a stored API resource no longer matches the config schema and is left out of the catalogue',
    );
    return undefined;
  }
  const { secret: _secret, ...resource } = parsed.data;
  const secretHash = stored.secretHash ?? undefined;
  return { resource, source: 'admin', secretHash, createdAt: stored.createdAt };
}

/** The whole catalogue of API scopes and resources: the file's first, then the stored ones. */
export async function catalogEntries(
  config: GatehouseConfig,
  repositories: Pick<Repositories, 'apiCatalog'>,
  log?: CatalogLog,
): Promise<{ scopes: CatalogScope[]; resources: CatalogResource[] }> {
  const [storedScopes, storedResources] = await Promise.all([
    repositories.apiCatalog.scopes(),
    repositories.apiCatalog.resources(),
  ]);
  // A name the file declared after an operator stored it is the file's: the stored entry is not used.
  const fileNames = new Set([...config.apiScopes, ...config.identityResources].map((scope) => scope.name));
  const fileIds = new Set(config.apiResources.map((resource) => resource.id));
  return {
    scopes: [
      ...config.apiScopes.map((scope) => ({ ...scope, source: 'config' as const })),
      ...storedScopes
        .filter((stored) => !fileNames.has(stored.name))
        .map(({ name, description }) => ({ name, description, source: 'admin' as const })),
    ],
    resources: [
      ...config.apiResources.map(fileResource),
      ...storedResources.flatMap((stored) =>
        fileIds.has(stored.id) ? [] : (storedResource(stored, log) ?? []),
      ),
    ],
  };
}

/**
 * What the server's ScopeCatalog is built from (server.ts has it follow the stored entries); each load
 * warns once of every stored resource it leaves out.
 */
export async function catalogSource(
  config: GatehouseConfig,
  storage: Storage,
  log: CatalogLog,
): Promise<CatalogSource> {
  const { scopes, resources } = await catalogEntries(config, storage, log);
  return {
    identityResources: config.identityResources,
    apiScopes: scopes,
    apiResources: resources.map((entry) => ({ ...entry.resource, secretHash: entry.secretHash })),
  };
}

function invalid(what: string, details: InputProblem[]): OAuthError {
  return new OAuthError('invalid_request', `the ${what} is not valid`, { details });
}

function schemaProblems(error: z.ZodError): InputProblem[] {
  return error.issues.map((issue) => ({ field: issue.path.map(String).join('.'), message: issue.message }));
}

function fileRefusal(what: string, action: string): OAuthError {
  return new OAuthError(
    'conflict',
    `${what} is declared in the config file; ${action} there (the server reads the file on every start)`,
  );
}

/** An existing entry's key when replacing, with the check of the tag the operator read. */
export interface Replacing<Current> {
  key: string;
  precondition?: (current: Current) => void | Promise<void>;
}

/** The key of the entry: the path's when replacing (the body may repeat it, not change it). */
function keyOf(input: CatalogInput, field: 'name' | 'id', replacing: { key: string } | undefined) {
  if (replacing === undefined) return input;
  if (field in input && input[field] !== replacing.key)
    throw invalid(field === 'id' ? 'API resource' : 'scope', [
      { field, message: `the ${field} cannot be changed` },
    ]);
  return { ...input, [field]: replacing.key };
}

/** Creates an API scope (`replacing` undefined) or replaces a stored one's description. */
export async function saveScope(
  storage: Storage,
  config: GatehouseConfig,
  input: CatalogInput,
  now: number,
  replacing?: Replacing<CatalogScope>,
): Promise<CatalogScope> {
  const parsed = apiScopeSchema.safeParse(keyOf(input, 'name', replacing));
  if (!parsed.success) throw invalid('scope', schemaProblems(parsed.error));
  const { name, description } = parsed.data;
  if (config.identityResources.some((resource) => resource.name === name))
    throw fileRefusal(`scope "${name}"`, 'change it');
  if (config.apiScopes.some((scope) => scope.name === name))
    throw fileRefusal(`scope "${name}"`, 'change it');
  return storage.exclusive(lockName, async (repositories) => {
    const existing = (await repositories.apiCatalog.scopes()).find((scope) => scope.name === name);
    if (replacing === undefined && existing !== undefined)
      throw new OAuthError('conflict', `scope "${name}" already exists`);
    if (replacing !== undefined && existing === undefined)
      throw new OAuthError('not_found', `no scope "${name}"`);
    if (existing !== undefined) await replacing?.precondition?.(scopeOf(existing));
    const scope: StoredApiScope = { name, description, createdAt: existing?.createdAt ?? now };
    await repositories.apiCatalog.saveScope(scope);
    return scopeOf(scope);
  });
}

const scopeOf = ({ name, description }: StoredApiScope): CatalogScope => ({
  name,
  description,
  source: 'admin',
});

/** The refusal to remove what clients still name (the first five of them). */
function inUse(what: string, how: string, clients: readonly { clientId: string }[]): OAuthError {
  const named = clients.slice(0, 5).map((client) => `"${client.clientId}"`);
  const more = clients.length > 5 ? ` and ${clients.length - 5} more` : '';
  return new OAuthError('conflict', `${what} is ${how} ${named.join(', ')}${more}`);
}

/** Removes a stored API scope that no API resource and no client uses (409 naming them otherwise). */
export async function removeScope(
  storage: Storage,
  config: GatehouseConfig,
  name: string,
  precondition?: (current: CatalogScope) => void | Promise<void>,
): Promise<void> {
  if (
    config.apiScopes.some((scope) => scope.name === name) ||
    config.identityResources.some((r) => r.name === name)
  )
    throw fileRefusal(`scope "${name}"`, 'remove it');
  await storage.exclusive(lockName, async (repositories) => {
    const { scopes, resources } = await catalogEntries(config, repositories);
    const existing = scopes.find((scope) => scope.name === name && scope.source === 'admin');
    if (existing === undefined) throw new OAuthError('not_found', `no scope "${name}"`);
    await precondition?.(existing);
    const owners = resources.filter((entry) => entry.resource.scopes.includes(name));
    if (owners.length > 0)
      throw new OAuthError(
        'conflict',
        `scope "${name}" is used by API resource ${owners.map((entry) => `"${entry.resource.id}"`).join(', ')}`,
      );
    const clients = (await repositories.clients.list()).filter((client) => client.scopes.includes(name));
    if (clients.length > 0) throw inUse(`scope "${name}"`, 'allowed to client', clients);
    await repositories.apiCatalog.removeScope(name);
  });
}

/**
 * Creates an API resource (`replacing` undefined; its secret is generated and returned once) or replaces a
 * stored one's settings (its secret kept). Checked against the catalogue as the file's resources are.
 */
export async function saveResource(
  storage: Storage,
  config: GatehouseConfig,
  input: CatalogInput,
  now: number,
  replacing?: Replacing<CatalogResource>,
): Promise<{ entry: CatalogResource; secret: string | undefined }> {
  const problems: InputProblem[] = [];
  if ('secret' in input)
    problems.push({ field: 'secret', message: 'the secret is generated by the server and answered once' });
  const { secret: _secret, ...fields } = keyOf(input, 'id', replacing);
  const parsed = apiResourceSchema.safeParse(fields);
  if (!parsed.success) problems.push(...schemaProblems(parsed.error));
  if (!parsed.success || problems.length > 0) throw invalid('API resource', problems);
  const { secret: _none, ...resource } = parsed.data;
  if (config.apiResources.some((declared) => declared.id === resource.id))
    throw fileRefusal(`API resource "${resource.id}"`, 'change it');
  return storage.exclusive(lockName, async (repositories) => {
    const { scopes, resources } = await catalogEntries(config, repositories);
    const existing = resources.find((entry) => entry.resource.id === resource.id);
    if (replacing === undefined && existing !== undefined)
      throw new OAuthError('conflict', `API resource "${resource.id}" already exists`);
    if (replacing !== undefined && existing === undefined)
      throw new OAuthError('not_found', `no API resource "${resource.id}"`);
    if (existing !== undefined) await replacing?.precondition?.(existing);
    const others = resources.filter((entry) => entry !== existing).map((entry) => entry.resource);
    const names = new Set(scopes.map((scope) => scope.name));
    const all = [...others, resource];
    const broken = apiResourceProblems(names, all).filter((problem) => problem.index === all.length - 1);
    if (broken.length > 0)
      throw invalid(
        'API resource',
        broken.map((problem) => ({ field: problem.path.join('.'), message: problem.message })),
      );
    const secret = existing === undefined ? randomHandle(32) : undefined;
    const secretHash = secret === undefined ? existing?.secretHash : sha256Base64Url(secret);
    const createdAt = existing?.createdAt ?? now;
    await repositories.apiCatalog.saveResource({
      id: resource.id,
      definition: resource,
      secretHash: secretHash ?? null,
      createdAt,
    });
    return { entry: { resource, source: 'admin', secretHash, createdAt }, secret };
  });
}

/**
 * Removes a stored API resource that no client names as a token-exchange audience (409 otherwise); its
 * scopes stay (another resource may take them).
 */
export async function removeResource(
  storage: Storage,
  config: GatehouseConfig,
  id: string,
  precondition?: (current: CatalogResource) => void | Promise<void>,
): Promise<void> {
  if (config.apiResources.some((declared) => declared.id === id))
    throw fileRefusal(`API resource "${id}"`, 'remove it');
  await storage.exclusive(lockName, async (repositories) => {
    const { resources } = await catalogEntries(config, repositories);
    const existing = resources.find((entry) => entry.resource.id === id && entry.source === 'admin');
    if (existing === undefined) throw new OAuthError('not_found', `no API resource "${id}"`);
    await precondition?.(existing);
    const clients = (await repositories.clients.list()).filter((client) =>
      client.tokenExchange?.audiences.includes(id),
    );
    if (clients.length > 0)
      throw inUse(`API resource "${id}"`, 'a token-exchange audience of client', clients);
    await repositories.apiCatalog.removeResource(id);
  });
}
