/**
 * `/admin/v1/api-resources` and `/admin/v1/scopes`: the API catalogue, the config file's entries (read
 * only) and those added here (admin/api-catalog.ts). Identity scopes are the file's. An API resource is
 * shown without its secret; one created here gets a secret answered once (its introspection credentials:
 * the id and this secret, RFC 7662 §2.1).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type CatalogInput,
  type CatalogResource,
  type CatalogScope,
  catalogEntries,
  type Replacing,
  removeResource,
  removeScope,
  saveResource,
  saveScope,
} from '../../admin/api-catalog.ts';
import type { ServerContext } from '../../context.ts';
import { OAuthError } from '../../protocol/errors.ts';
import {
  authenticateOperator,
  entityTag,
  ifMatchOf,
  jsonBody,
  type Operator,
  parameter,
  sendJson,
  sendListPage,
} from './support.ts';

function scopeView(scope: CatalogScope) {
  return { name: scope.name, description: scope.description, kind: 'api', claims: [], source: scope.source };
}

const scopeTag = (scope: CatalogScope) => entityTag(scopeView(scope));

/** The file's identity scopes (OpenID Connect Core §5.4), shown like API scopes. */
const identityScopes = (ctx: ServerContext) =>
  ctx.config.identityResources.map((resource) => ({
    name: resource.name,
    description: resource.description,
    kind: 'identity',
    claims: resource.claims,
    source: 'config',
  }));

/** What describes the API, never its introspection secret. */
function resourceView({ resource, source, secretHash, createdAt }: CatalogResource) {
  return {
    id: resource.id,
    uris: resource.uris,
    scopes: resource.scopes,
    accessTokenFormat: resource.accessTokenFormat,
    ...(resource.accessTokenTtl === undefined ? {} : { accessTokenTtl: resource.accessTokenTtl }),
    claims: resource.claims,
    scopeClaim: resource.scopeClaim,
    source,
    hasSecret: secretHash !== undefined,
    createdAt: createdAt === undefined ? null : new Date(createdAt * 1000).toISOString(),
  };
}

const resourceTag = (entry: CatalogResource) => entityTag(resourceView(entry), entry.secretHash ?? null);

/** One kind of entry an operator adds, replaces and removes (API resources, API scopes). */
interface CatalogKind<Entry> {
  /** The collection's path below /admin/v1 (a created entry's location), and the parameter naming one. */
  path: string;
  parameter: string;
  /** Fields of the answers that are not written: ignored in a write, so a read can be sent back. */
  readOnlyFields: readonly string[];
  keyOf(entry: Entry): string;
  view(entry: Entry): unknown;
  tagOf(entry: Entry): string;
  /** Creates (`replacing` undefined) or replaces an entry (admin/api-catalog.ts); a new one may get a secret. */
  save(
    input: CatalogInput,
    now: number,
    replacing?: Replacing<Entry>,
  ): Promise<{ entry: Entry; secret?: string }>;
  /** The answer to a create: the view, with the secret when there is one. */
  created(entry: Entry, secret: string | undefined): unknown;
  remove(key: string, precondition: (entry: Entry) => Promise<void>): Promise<void>;
  /** The audit event of each change, naming the entry's key as `auditField`. */
  events: Record<'created' | 'updated' | 'removed', string>;
  auditField: string;
}

export function adminCatalogEndpoints(ctx: ServerContext) {
  const entries = () => catalogEntries(ctx.config, ctx.storage);
  /**
   * The create, replace and remove endpoints of one kind; each change rebuilds the catalogue before this
   * node's next request (other nodes see the counter).
   */
  const writes = <Entry>(kind: CatalogKind<Entry>) => {
    const writable = (request: FastifyRequest): CatalogInput =>
      Object.fromEntries(
        Object.entries(jsonBody(request)).filter(([field]) => !kind.readOnlyFields.includes(field)),
      );
    const changed = (operator: Operator, change: keyof CatalogKind<Entry>['events'], key: string) => {
      ctx.catalog.invalidate();
      operator.audit(kind.events[change], { [kind.auditField]: key });
    };
    return {
      create: async (request: FastifyRequest, reply: FastifyReply) => {
        const operator = await authenticateOperator(ctx, request, 'write');
        const { entry, secret } = await kind.save(writable(request), ctx.now());
        const key = kind.keyOf(entry);
        changed(operator, 'created', key);
        reply.header('location', `${ctx.issuer}/admin/v1/${kind.path}/${encodeURIComponent(key)}`);
        sendJson(reply, 201, kind.created(entry, secret), kind.tagOf(entry));
      },

      replace: async (request: FastifyRequest, reply: FastifyReply) => {
        const operator = await authenticateOperator(ctx, request, 'write');
        const precondition = ifMatchOf(request, kind.tagOf);
        const key = parameter(request, kind.parameter);
        const { entry } = await kind.save(writable(request), ctx.now(), { key, precondition });
        changed(operator, 'updated', key);
        sendJson(reply, 200, kind.view(entry), kind.tagOf(entry));
      },

      remove: async (request: FastifyRequest, reply: FastifyReply) => {
        const operator = await authenticateOperator(ctx, request, 'write');
        const precondition = ifMatchOf(request, kind.tagOf);
        const key = parameter(request, kind.parameter);
        await kind.remove(key, precondition);
        changed(operator, 'removed', key);
        reply.code(204).headers({ 'cache-control': 'no-store' }).send();
      },
    };
  };
  const resources = writes<CatalogResource>({
    path: 'api-resources',
    parameter: 'id',
    readOnlyFields: ['source', 'hasSecret', 'createdAt'],
    keyOf: (entry) => entry.resource.id,
    view: resourceView,
    tagOf: resourceTag,
    save: (input, now, replacing) => saveResource(ctx.storage, ctx.config, input, now, replacing),
    created: (entry, secret) => ({ apiResource: resourceView(entry), secret }),
    remove: (id, precondition) => removeResource(ctx.storage, ctx.config, id, precondition),
    events: {
      created: 'admin_api_resource_created',
      updated: 'admin_api_resource_updated',
      removed: 'admin_api_resource_removed',
    },
    auditField: 'resource_id',
  });
  const scopes = writes<CatalogScope>({
    path: 'scopes',
    parameter: 'name',
    readOnlyFields: ['kind', 'claims', 'source'],
    keyOf: (scope) => scope.name,
    view: scopeView,
    tagOf: scopeTag,
    save: async (input, now, replacing) => ({
      entry: await saveScope(ctx.storage, ctx.config, input, now, replacing),
    }),
    created: scopeView,
    remove: (name, precondition) => removeScope(ctx.storage, ctx.config, name, precondition),
    events: {
      created: 'admin_scope_created',
      updated: 'admin_scope_updated',
      removed: 'admin_scope_removed',
    },
    auditField: 'scope',
  });
  return {
    apiResources: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const { resources } = await entries();
      await sendListPage(request, reply, resources, (entry) => entry.resource.id, resourceView);
    },

    readApiResource: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const id = parameter(request, 'id');
      const entry = (await entries()).resources.find((found) => found.resource.id === id);
      if (entry === undefined) throw new OAuthError('not_found', `no API resource "${id}"`);
      sendJson(reply, 200, resourceView(entry), resourceTag(entry));
    },

    createApiResource: resources.create,
    replaceApiResource: resources.replace,
    removeApiResource: resources.remove,

    scopes: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const api = (await entries()).scopes.map(scopeView);
      await sendListPage(request, reply, [...identityScopes(ctx), ...api], (scope) => scope.name);
    },

    readScope: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const name = parameter(request, 'name');
      const identity = identityScopes(ctx).find((found) => found.name === name);
      if (identity !== undefined) return sendJson(reply, 200, identity, entityTag(identity));
      const scope = (await entries()).scopes.find((found) => found.name === name);
      if (scope === undefined) throw new OAuthError('not_found', `no scope "${name}"`);
      sendJson(reply, 200, scopeView(scope), scopeTag(scope));
    },

    createScope: scopes.create,
    replaceScope: scopes.replace,
    removeScope: scopes.remove,
  };
}
