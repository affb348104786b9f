/**
 * GET /admin/v1/openapi.json: the OpenAPI 3.1 description of every admin API route (the table
 * in routes.ts), with JSON Schema 2020-12 schemas of what each answers. The document is public, like
 * the discovery metadata: it says nothing about this server's clients or users. Tests validate it and
 * check real answers against its schemas, so the two cannot drift apart.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { adminScopes } from '../../config/schema.ts';
import type { ServerContext } from '../../context.ts';
import { ref, type Schema, schemas, string } from './openapi-schemas.ts';
import { defaultPageSize, maxPageSize } from './support.ts';

const jsonContent = (schema: Schema) => ({ 'application/json': { schema } });
const etagHeader = { ETag: { description: 'The entity tag to send in If-Match', schema: string } };
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

const parameters = {
  limit: {
    name: 'limit',
    in: 'query',
    description: `Items per page (default ${defaultPageSize})`,
    schema: { type: 'integer', minimum: 1, maximum: maxPageSize },
  },
  cursor: {
    name: 'cursor',
    in: 'query',
    description: 'The nextCursor of the previous page (opaque)',
    schema: string,
  },
  ifMatch: {
    name: 'If-Match',
    in: 'header',
    required: true,
    description: 'The ETag of the resource as read (RFC 9110 §13.1.1); 428 without it, 412 when stale',
    schema: string,
  },
  clientId: { name: 'clientId', in: 'path', required: true, schema: string },
  id: { name: 'id', in: 'path', required: true, schema: string },
  name: { name: 'name', in: 'path', required: true, schema: string },
  credentialId: { name: 'credentialId', in: 'path', required: true, schema: string },
  sid: { name: 'sid', in: 'path', required: true, schema: string },
  userIdFilter: { name: 'userId', in: 'query', description: 'Only this user’s', schema: string },
  clientIdFilter: { name: 'clientId', in: 'query', description: 'Only this client’s', schema: string },
};

interface Operation {
  scope: 'read' | 'write';
  parameters?: Schema[];
  body?: string;
  bodyRequired?: boolean;
  /** Status, what it means and the schema answered (none: no content). */
  answer: [number, string, string | undefined, boolean?];
}

/** What each operation does, by its operation id. */
const summaries: Readonly<Record<string, string>> = {
  listClients: 'List stored clients',
  createClient: 'Register a client; a confidential client’s secret is answered once',
  readClient: 'Read a client',
  replaceClient: 'Replace a client’s settings (secrets kept)',
  removeClient: 'Remove a client and revoke its grants',
  disableClient:
    'Disable a stored client: it cannot authenticate or start authorizations, its access tokens are ' +
    'refused at once; its grants are kept (refused while disabled) unless revokeGrants',
  enableClient: 'Enable a disabled client again',
  rotateClientSecret: 'Give a client a new secret; the previous one works for `overlap` seconds',
  listUsers: 'List users',
  createUser: 'Create a user',
  readUser: 'Read a user',
  removeUser: 'Remove a user: sessions ended, grants revoked',
  disableUser: 'Disable a user: sessions ended; grants kept unless revokeGrants',
  enableUser: 'Enable a user again',
  resetUserPassword: 'Set a new password',
  removeUserFactors: 'Remove the user’s second factors (TOTP, recovery codes and passkeys)',
  removeUserPasskey: 'Remove one passkey or security key of the user',
  listGrants: 'List active grants, of a user or a client',
  revokeGrants: 'Revoke every grant of a user, of a client, or of a user to a client',
  readGrant: 'Read an active grant',
  revokeGrant: 'Revoke a grant and everything issued from it',
  listSessions: 'List live login sessions, of a user',
  readSession: 'Read a live session',
  endSession: 'End a session, with back-channel logout to its clients',
  listSigningKeys: 'List published signing keys',
  rotateSigningKey: 'Schedule the next signing key (published now, signing after keys.publishBeforeUse)',
  listApiResources: 'List API resources (the config file’s, read-only, and those added here)',
  createApiResource: 'Add an API resource; its introspection secret is answered once',
  readApiResource: 'Read an API resource',
  replaceApiResource: 'Replace an added API resource’s settings (its secret kept)',
  removeApiResource: 'Remove an added API resource (its scopes stay)',
  listScopes: 'List identity and API scopes (the config file’s, read-only, and API scopes added here)',
  createScope: 'Add an API scope',
  readScope: 'Read a scope',
  replaceScope: 'Replace an added API scope’s description',
  removeScope: 'Remove an added API scope that no API resource and no client uses (409 otherwise)',
};

/** An operation; one with an If-Match parameter is conditional (412 and 428 answers). */
function operation(id: string, spec: Operation): Schema {
  const summary = summaries[id];
  if (summary === undefined) throw new Error(`the admin API operation ${id} has no summary`);
  const [status, description, schema, tagged] = spec.answer;
  const conditional = spec.parameters?.includes(parameters.ifMatch) === true;
  const errors: Record<string, unknown> = {
    '400': problem('Bad input (malformed JSON, unknown or invalid fields); `errors` lists them'),
    '401': problem('No valid access token for the admin API'),
    '403': problem(`The token lacks the ${adminScopes[spec.scope]} scope (insufficient_scope)`),
  };
  if (spec.parameters?.some((parameter) => parameter.in === 'path')) errors['404'] = problem('Not found');
  if (spec.scope === 'write') errors['409'] = problem('Conflicts with the stored state or the config file');
  if (conditional) {
    errors['412'] = problem('If-Match names a stale ETag: read the resource again');
    errors['428'] = problem('If-Match is missing');
  }
  if (spec.body !== undefined) errors['415'] = problem('The body is not JSON');
  errors['429'] = {
    ...problem('Too many requests from this address or operator (rateLimits.adminPerIp, adminPerOperator)'),
    headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
  };
  return {
    operationId: id,
    summary,
    security: [{ operatorToken: [adminScopes[spec.scope]] }],
    ...(spec.parameters === undefined ? {} : { parameters: spec.parameters }),
    ...(spec.body === undefined
      ? {}
      : { requestBody: { required: spec.bodyRequired ?? true, content: jsonContent(ref(spec.body)) } }),
    responses: {
      [String(status)]: {
        description,
        ...(tagged ? { headers: etagHeader } : {}),
        ...(schema === undefined ? {} : { content: jsonContent(ref(schema)) }),
      },
      ...errors,
      default: problem('Any other error'),
    },
  };
}

const read = (id: string, spec: Omit<Operation, 'scope'>) => operation(id, { ...spec, scope: 'read' });
const write = (id: string, spec: Omit<Operation, 'scope'>) => operation(id, { ...spec, scope: 'write' });

const { limit, cursor, ifMatch, clientId, id, name, credentialId, sid, userIdFilter, clientIdFilter } =
  parameters;

type Paths = Record<string, Record<string, Schema>>;

/**
 * A collection of the API, `/clients`: its schema names its operations and answers (`Client`:
 * `listClients`, `readClient`, ..., pages of `ClientPage`), `noun` its descriptions (`A page of clients`,
 * `The client`), `item` the path parameter naming one item.
 */
interface Collection {
  path: string;
  schema: string;
  noun: string;
  item: Schema;
}

/** What a DELETE of an item answers, by the verb of its operation id. */
const removed = { remove: 'Removed', revoke: 'Revoked', end: 'Ended' };

/**
 * The operations of a collection: `list` (GET, paged), `create` (POST), `read` (GET one), `replace`
 * (PUT), `remove`, `revoke` or `end` (DELETE, answered by `removed`), `disable` and `enable` (POST).
 */
type CollectionOperation =
  | 'list'
  | 'create'
  | 'read'
  | 'replace'
  | keyof typeof removed
  | 'disable'
  | 'enable';

/** What one item's answer is called, and its schema. */
type Answer = [description: string, schema: string];

/**
 * A further operation on one item, at a path below it (`/secret`): its parameters are the item's, any in
 * `parameters`, and If-Match; it answers the item unless `answer` says otherwise.
 */
interface ItemAction {
  method: 'post' | 'delete';
  id: string;
  parameters?: Schema[];
  body?: string;
  bodyRequired?: boolean;
  answer?: Answer;
}

/**
 * How a collection's operations differ from the usual: query parameters filtering the list, the create's
 * body schema (default `ClientInput` for `Client`), whether a create answers the new item's secret, what a
 * replace answers (default the item); further operations on the collection (`/grants/revoke`) and on one
 * item, by the path below it.
 */
interface CollectionOptions {
  listFilters?: Schema[];
  createBody?: string;
  createdWithSecret?: boolean;
  replaceAnswer?: Answer;
  collectionPaths?: Paths;
  itemActions?: Record<string, ItemAction>;
}

/**
 * The paths of a collection: the collection itself, its further operations, one item, and the item's
 * disable, enable and further operations (the route table's order).
 */
function collectionPaths(
  collection: Collection,
  operations: readonly CollectionOperation[],
  options: CollectionOptions = {},
): Paths {
  const { schema, noun, item } = collection;
  const has = (name: CollectionOperation) => operations.includes(name);
  const itemAnswer: Answer = [`The ${noun}`, schema];
  const tagged = ([description, answered]: Answer, status = 200): Operation['answer'] => [
    status,
    description,
    answered,
    true,
  ];
  const onCollection: Record<string, Schema> = {};
  if (has('list'))
    onCollection.get = read(`list${schema}s`, {
      parameters: [...(options.listFilters ?? []), limit, cursor],
      answer: [200, `A page of ${noun}s`, `${schema}Page`],
    });
  if (has('create'))
    onCollection.post = write(`create${schema}`, {
      body: options.createBody ?? `${schema}Input`,
      answer: tagged(
        options.createdWithSecret ? [`The ${noun} and its secret`, `${schema}WithSecret`] : itemAnswer,
        201,
      ),
    });
  const onItem: Record<string, Schema> = {};
  if (has('read')) onItem.get = read(`read${schema}`, { parameters: [item], answer: tagged(itemAnswer) });
  if (has('replace'))
    onItem.put = write(`replace${schema}`, {
      parameters: [item, ifMatch],
      body: `${schema}Replacement`,
      answer: tagged(options.replaceAnswer ?? itemAnswer),
    });
  const removal = operations.find((name): name is keyof typeof removed => Object.hasOwn(removed, name));
  if (removal !== undefined)
    onItem.delete = write(`${removal}${schema}`, {
      parameters: [item, ifMatch],
      answer: [204, removed[removal], undefined],
    });
  const itemPath = `${collection.path}/{${item.name}}`;
  const paths: Paths = { [collection.path]: onCollection, ...options.collectionPaths };
  if (Object.keys(onItem).length > 0) paths[itemPath] = onItem;
  const actions: Record<string, ItemAction> = {};
  if (has('disable'))
    actions['/disable'] = {
      method: 'post',
      id: `disable${schema}`,
      body: `${schema}Disable`,
      bodyRequired: false,
    };
  if (has('enable')) actions['/enable'] = { method: 'post', id: `enable${schema}` };
  for (const [below, action] of Object.entries({ ...actions, ...options.itemActions })) {
    const { method, id, parameters = [], answer = itemAnswer, ...requestBody } = action;
    paths[`${itemPath}${below}`] = {
      [method]: write(id, {
        parameters: [item, ...parameters, ifMatch],
        ...requestBody,
        answer: tagged(answer),
      }),
    };
  }
  return paths;
}

const paths: Paths = {
  ...collectionPaths(
    { path: '/clients', schema: 'Client', noun: 'client', item: clientId },
    ['list', 'create', 'read', 'replace', 'remove', 'disable', 'enable'],
    {
      createdWithSecret: true,
      replaceAnswer: ['The client (a secret only when it needs a first one)', 'ClientWithSecret'],
      itemActions: {
        '/secret': {
          method: 'post',
          id: 'rotateClientSecret',
          body: 'SecretRotation',
          answer: ['The new secret, answered once', 'RotatedSecret'],
        },
      },
    },
  ),
  ...collectionPaths(
    { path: '/users', schema: 'User', noun: 'user', item: id },
    ['list', 'create', 'read', 'remove', 'disable', 'enable'],
    {
      createBody: 'NewUser',
      itemActions: {
        '/password': { method: 'post', id: 'resetUserPassword', body: 'PasswordReset' },
        '/factors': { method: 'delete', id: 'removeUserFactors' },
        '/passkeys/{credentialId}': { method: 'delete', id: 'removeUserPasskey', parameters: [credentialId] },
      },
    },
  ),
  ...collectionPaths(
    { path: '/grants', schema: 'Grant', noun: 'grant', item: id },
    ['list', 'read', 'revoke'],
    {
      listFilters: [userIdFilter, clientIdFilter],
      collectionPaths: {
        '/grants/revoke': {
          post: write('revokeGrants', {
            body: 'GrantRevocation',
            answer: [200, 'How many grants were revoked', 'GrantsRevoked'],
          }),
        },
      },
    },
  ),
  ...collectionPaths(
    { path: '/sessions', schema: 'Session', noun: 'session', item: sid },
    ['list', 'read', 'end'],
    { listFilters: [userIdFilter] },
  ),
  ...collectionPaths({ path: '/keys', schema: 'SigningKey', noun: 'key', item: id }, ['list'], {
    collectionPaths: {
      '/keys/rotate': { post: write('rotateSigningKey', { answer: [201, 'The new key', 'SigningKey'] }) },
    },
  }),
  ...collectionPaths(
    { path: '/api-resources', schema: 'ApiResource', noun: 'API resource', item: id },
    ['list', 'create', 'read', 'replace', 'remove'],
    { createdWithSecret: true },
  ),
  ...collectionPaths({ path: '/scopes', schema: 'Scope', noun: 'scope', item: name }, [
    'list',
    'create',
    'read',
    'replace',
    'remove',
  ]),
};

/** The document for this issuer. */
export function openApiDocument(issuer: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse admin API',
      version: '1',
      description:
        'Manage clients, API resources and scopes, users, grants, sessions and signing keys. Every write needs If-Match where a ' +
        'resource is changed, and is recorded as an audit event with the operator’s sub and client_id.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: `${issuer}/admin/v1` }],
    security: [{ operatorToken: [adminScopes.read] }],
    paths: {
      '/openapi.json': {
        get: {
          operationId: 'openApiDocument',
          summary: 'This document',
          security: [],
          responses: {
            '200': { description: 'The OpenAPI document', content: jsonContent({ type: 'object' }) },
          },
        },
      },
      ...paths,
    },
    components: {
      schemas,
      securitySchemes: {
        operatorToken: {
          type: 'oauth2',
          description:
            'An access token of this server for the gatehouse-admin API (Bearer, or DPoP when bound, RFC 9449).',
          flows: {
            clientCredentials: {
              tokenUrl: `${issuer}/token`,
              scopes: {
                [adminScopes.read]: 'Read clients, API resources, scopes, users, grants, sessions and keys',
                [adminScopes.write]: 'Change them (implies admin.read)',
              },
            },
          },
        },
      },
    },
  };
}

export function openApiEndpoint(ctx: ServerContext) {
  const body = JSON.stringify(openApiDocument(ctx.issuer));
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'public, max-age=3600').type('application/json').send(body);
  };
}
