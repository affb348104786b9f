/**
 * The admin API's routes (`admin.enabled`), in one table: method, path below `/admin/v1`, whether the route
 * reads a JSON body, and its endpoint. http/routes.ts registers them (after /openapi.json, whose document,
 * openapi.ts, describes exactly these routes).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.ts';
import { adminGrantEndpoints, adminSessionEndpoints } from './authorizations.ts';
import { adminCatalogEndpoints } from './catalog.ts';
import { adminClientEndpoints } from './clients.ts';
import { adminKeyEndpoints } from './keys.ts';
import { adminUserEndpoints } from './users.ts';

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export const adminBasePath = '/admin/v1';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Below `adminBasePath`, with Fastify `:name` parameters. */
  path: string;
  /** `json`: the route reads a JSON body (another method with a body is then answered 405). */
  body: 'json' | 'none';
  /** The endpoint, given the request's context. */
  endpoint: (ctx: ServerContext) => Handler;
}

/** The endpoint `name` of a family of endpoints (clients, users, ...), built with the request's context. */
function endpointOf<Endpoints extends { [Name in keyof Endpoints]: Handler }>(
  family: (ctx: ServerContext) => Endpoints,
): (name: keyof Endpoints) => (ctx: ServerContext) => Handler {
  return (name) => (ctx) => family(ctx)[name];
}

const clients = endpointOf(adminClientEndpoints);
const users = endpointOf(adminUserEndpoints);
const grants = endpointOf(adminGrantEndpoints);
const sessions = endpointOf(adminSessionEndpoints);
const keys = endpointOf(adminKeyEndpoints);
const catalog = endpointOf(adminCatalogEndpoints);

const route = (
  method: AdminRoute['method'],
  path: string,
  body: AdminRoute['body'],
  endpoint: AdminRoute['endpoint'],
): AdminRoute => ({ method, path, body, endpoint });

/** In registration order, which is the order of each path's `Allow` header. */
export const adminRoutes: readonly AdminRoute[] = [
  route('GET', '/clients', 'none', clients('list')),
  route('POST', '/clients', 'json', clients('create')),
  route('GET', '/clients/:clientId', 'none', clients('read')),
  route('PUT', '/clients/:clientId', 'json', clients('replace')),
  route('DELETE', '/clients/:clientId', 'none', clients('remove')),
  route('POST', '/clients/:clientId/disable', 'json', clients('disable')),
  route('POST', '/clients/:clientId/enable', 'json', clients('enable')),
  route('POST', '/clients/:clientId/secret', 'json', clients('rotateSecret')),
  route('GET', '/users', 'none', users('list')),
  route('POST', '/users', 'json', users('create')),
  route('GET', '/users/:id', 'none', users('read')),
  route('DELETE', '/users/:id', 'none', users('remove')),
  route('POST', '/users/:id/disable', 'json', users('disable')),
  route('POST', '/users/:id/enable', 'json', users('enable')),
  route('POST', '/users/:id/password', 'json', users('resetPassword')),
  route('DELETE', '/users/:id/factors', 'none', users('removeFactors')),
  route('DELETE', '/users/:id/passkeys/:credentialId', 'none', users('removePasskey')),
  route('GET', '/grants', 'none', grants('list')),
  route('POST', '/grants/revoke', 'json', grants('revokeMatching')),
  route('GET', '/grants/:id', 'none', grants('read')),
  route('DELETE', '/grants/:id', 'none', grants('revoke')),
  route('GET', '/sessions', 'none', sessions('list')),
  route('GET', '/sessions/:sid', 'none', sessions('read')),
  route('DELETE', '/sessions/:sid', 'none', sessions('end')),
  route('GET', '/keys', 'none', keys('list')),
  route('POST', '/keys/rotate', 'json', keys('rotate')),
  route('GET', '/api-resources', 'none', catalog('apiResources')),
  route('POST', '/api-resources', 'json', catalog('createApiResource')),
  route('GET', '/api-resources/:id', 'none', catalog('readApiResource')),
  route('PUT', '/api-resources/:id', 'json', catalog('replaceApiResource')),
  route('DELETE', '/api-resources/:id', 'none', catalog('removeApiResource')),
  route('GET', '/scopes', 'none', catalog('scopes')),
  route('POST', '/scopes', 'json', catalog('createScope')),
  route('GET', '/scopes/:name', 'none', catalog('readScope')),
  route('PUT', '/scopes/:name', 'json', catalog('replaceScope')),
  route('DELETE', '/scopes/:name', 'none', catalog('removeScope')),
];
