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
  parameter,
  sendJson,
  sendListPage,
} from './support.ts';

/** Fields of the answers that are not written: ignored in a write, so a read can be sent back. */
const readOnlyScopeFields = ['kind', 'claims', 'source'];
const readOnlyResourceFields = ['source', 'hasSecret', 'createdAt'];

function writable(body: Record<string, unknown>, readOnly: readonly string[]): CatalogInput {
  return Object.fromEntries(Object.entries(body).filter(([field]) => !readOnly.includes(field)));
}

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

export function adminCatalogEndpoints(ctx: ServerContext) {
  const entries = () => catalogEntries(ctx.config, ctx.storage);
  /** The catalogue changed here: rebuilt before this node's next request (other nodes see the counter). */
  const changed = () => ctx.catalog.invalidate();
  const location = (reply: FastifyReply, path: string, key: string) =>
    reply.header('location', `${ctx.issuer}/admin/v1/${path}/${encodeURIComponent(key)}`);
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

    createApiResource: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const input = writable(jsonBody(request), readOnlyResourceFields);
      const { entry, secret } = await saveResource(ctx.storage, ctx.config, input, ctx.now());
      changed();
      operator.audit('admin_api_resource_created', { resource_id: entry.resource.id });
      location(reply, 'api-resources', entry.resource.id);
      sendJson(reply, 201, { apiResource: resourceView(entry), secret }, resourceTag(entry));
    },

    replaceApiResource: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const precondition = ifMatchOf(request, resourceTag);
      const key = parameter(request, 'id');
      const input = writable(jsonBody(request), readOnlyResourceFields);
      const { entry } = await saveResource(ctx.storage, ctx.config, input, ctx.now(), { key, precondition });
      changed();
      operator.audit('admin_api_resource_updated', { resource_id: key });
      sendJson(reply, 200, resourceView(entry), resourceTag(entry));
    },

    removeApiResource: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const precondition = ifMatchOf(request, resourceTag);
      const id = parameter(request, 'id');
      await removeResource(ctx.storage, ctx.config, id, precondition);
      changed();
      operator.audit('admin_api_resource_removed', { resource_id: id });
      reply.code(204).headers({ 'cache-control': 'no-store' }).send();
    },

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

    createScope: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const input = writable(jsonBody(request), readOnlyScopeFields);
      const scope = await saveScope(ctx.storage, ctx.config, input, ctx.now());
      changed();
      operator.audit('admin_scope_created', { scope: scope.name });
      location(reply, 'scopes', scope.name);
      sendJson(reply, 201, scopeView(scope), scopeTag(scope));
    },

    replaceScope: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const precondition = ifMatchOf(request, scopeTag);
      const key = parameter(request, 'name');
      const input = writable(jsonBody(request), readOnlyScopeFields);
      const scope = await saveScope(ctx.storage, ctx.config, input, ctx.now(), { key, precondition });
      changed();
      operator.audit('admin_scope_updated', { scope: key });
      sendJson(reply, 200, scopeView(scope), scopeTag(scope));
    },

    removeScope: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const precondition = ifMatchOf(request, scopeTag);
      const name = parameter(request, 'name');
      await removeScope(ctx.storage, ctx.config, name, precondition);
      changed();
      operator.audit('admin_scope_removed', { scope: name });
      reply.code(204).headers({ 'cache-control': 'no-store' }).send();
    },
  };
}
