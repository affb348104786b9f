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
  summary: string;
  scope: 'read' | 'write';
  parameters?: Schema[];
  body?: string;
  bodyRequired?: boolean;
  /** Status, what it means and the schema answered (none: no content). */
  answer: [number, string, string | undefined, boolean?];
}

/** An operation; one with an If-Match parameter is conditional (412 and 428 answers). */
function operation(id: string, spec: Operation): Schema {
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
    summary: spec.summary,
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

const paths: Record<string, Record<string, Schema>> = {
  '/clients': {
    get: read('listClients', {
      summary: 'List stored clients',
      parameters: [limit, cursor],
      answer: [200, 'A page of clients', 'ClientPage'],
    }),
    post: write('createClient', {
      summary: 'Register a client; a confidential client’s secret is answered once',
      body: 'ClientInput',
      answer: [201, 'The client and its secret', 'ClientWithSecret', true],
    }),
  },
  '/clients/{clientId}': {
    get: read('readClient', {
      summary: 'Read a client',
      parameters: [clientId],
      answer: [200, 'The client', 'Client', true],
    }),
    put: write('replaceClient', {
      summary: 'Replace a client’s settings (secrets kept)',
      parameters: [clientId, ifMatch],
      body: 'ClientReplacement',
      answer: [200, 'The client (a secret only when it needs a first one)', 'ClientWithSecret', true],
    }),
    delete: write('removeClient', {
      summary: 'Remove a client and revoke its grants',
      parameters: [clientId, ifMatch],
      answer: [204, 'Removed', undefined],
    }),
  },
  '/clients/{clientId}/disable': {
    post: write('disableClient', {
      summary:
        'Disable a stored client: it cannot authenticate or start authorizations, its access tokens are ' +
        'refused at once; its grants are kept (refused while disabled) unless revokeGrants',
      parameters: [clientId, ifMatch],
      body: 'ClientDisable',
      bodyRequired: false,
      answer: [200, 'The client', 'Client', true],
    }),
  },
  '/clients/{clientId}/enable': {
    post: write('enableClient', {
      summary: 'Enable a disabled client again',
      parameters: [clientId, ifMatch],
      answer: [200, 'The client', 'Client', true],
    }),
  },
  '/clients/{clientId}/secret': {
    post: write('rotateClientSecret', {
      summary: 'Give a client a new secret; the previous one works for `overlap` seconds',
      parameters: [clientId, ifMatch],
      body: 'SecretRotation',
      answer: [200, 'The new secret, answered once', 'RotatedSecret', true],
    }),
  },
  '/users': {
    get: read('listUsers', {
      summary: 'List users',
      parameters: [limit, cursor],
      answer: [200, 'A page of users', 'UserPage'],
    }),
    post: write('createUser', {
      summary: 'Create a user',
      body: 'NewUser',
      answer: [201, 'The user', 'User', true],
    }),
  },
  '/users/{id}': {
    get: read('readUser', {
      summary: 'Read a user',
      parameters: [id],
      answer: [200, 'The user', 'User', true],
    }),
    delete: write('removeUser', {
      summary: 'Remove a user: sessions ended, grants revoked',
      parameters: [id, ifMatch],
      answer: [204, 'Removed', undefined],
    }),
  },
  '/users/{id}/disable': {
    post: write('disableUser', {
      summary: 'Disable a user: sessions ended; grants kept unless revokeGrants',
      parameters: [id, ifMatch],
      body: 'UserDisable',
      bodyRequired: false,
      answer: [200, 'The user', 'User', true],
    }),
  },
  '/users/{id}/enable': {
    post: write('enableUser', {
      summary: 'Enable a user again',
      parameters: [id, ifMatch],
      answer: [200, 'The user', 'User', true],
    }),
  },
  '/users/{id}/password': {
    post: write('resetUserPassword', {
      summary: 'Set a new password',
      parameters: [id, ifMatch],
      body: 'PasswordReset',
      answer: [200, 'The user', 'User', true],
    }),
  },
  '/users/{id}/factors': {
    delete: write('removeUserFactors', {
      summary: 'Remove the user’s second factors (TOTP, recovery codes and passkeys)',
      parameters: [id, ifMatch],
      answer: [200, 'The user', 'User', true],
    }),
  },
  '/users/{id}/passkeys/{credentialId}': {
    delete: write('removeUserPasskey', {
      summary: 'Remove one passkey or security key of the user',
      parameters: [id, credentialId, ifMatch],
      answer: [200, 'The user', 'User', true],
    }),
  },
  '/grants': {
    get: read('listGrants', {
      summary: 'List active grants, of a user or a client',
      parameters: [userIdFilter, clientIdFilter, limit, cursor],
      answer: [200, 'A page of grants', 'GrantPage'],
    }),
  },
  '/grants/revoke': {
    post: write('revokeGrants', {
      summary: 'Revoke every grant of a user, of a client, or of a user to a client',
      body: 'GrantRevocation',
      answer: [200, 'How many grants were revoked', 'GrantsRevoked'],
    }),
  },
  '/grants/{id}': {
    get: read('readGrant', {
      summary: 'Read an active grant',
      parameters: [id],
      answer: [200, 'The grant', 'Grant', true],
    }),
    delete: write('revokeGrant', {
      summary: 'Revoke a grant and everything issued from it',
      parameters: [id, ifMatch],
      answer: [204, 'Revoked', undefined],
    }),
  },
  '/sessions': {
    get: read('listSessions', {
      summary: 'List live login sessions, of a user',
      parameters: [userIdFilter, limit, cursor],
      answer: [200, 'A page of sessions', 'SessionPage'],
    }),
  },
  '/sessions/{sid}': {
    get: read('readSession', {
      summary: 'Read a live session',
      parameters: [sid],
      answer: [200, 'The session', 'Session', true],
    }),
    delete: write('endSession', {
      summary: 'End a session, with back-channel logout to its clients',
      parameters: [sid, ifMatch],
      answer: [204, 'Ended', undefined],
    }),
  },
  '/keys': {
    get: read('listSigningKeys', {
      summary: 'List published signing keys',
      parameters: [limit, cursor],
      answer: [200, 'A page of keys', 'SigningKeyPage'],
    }),
  },
  '/keys/rotate': {
    post: write('rotateSigningKey', {
      summary: 'Schedule the next signing key (published now, signing after keys.publishBeforeUse)',
      answer: [201, 'The new key', 'SigningKey'],
    }),
  },
  '/api-resources': {
    get: read('listApiResources', {
      summary: 'List API resources (the config file’s, read-only, and those added here)',
      parameters: [limit, cursor],
      answer: [200, 'A page of API resources', 'ApiResourcePage'],
    }),
    post: write('createApiResource', {
      summary: 'Add an API resource; its introspection secret is answered once',
      body: 'ApiResourceInput',
      answer: [201, 'The API resource and its secret', 'ApiResourceWithSecret', true],
    }),
  },
  '/api-resources/{id}': {
    get: read('readApiResource', {
      summary: 'Read an API resource',
      parameters: [id],
      answer: [200, 'The API resource', 'ApiResource', true],
    }),
    put: write('replaceApiResource', {
      summary: 'Replace an added API resource’s settings (its secret kept)',
      parameters: [id, ifMatch],
      body: 'ApiResourceReplacement',
      answer: [200, 'The API resource', 'ApiResource', true],
    }),
    delete: write('removeApiResource', {
      summary: 'Remove an added API resource (its scopes stay)',
      parameters: [id, ifMatch],
      answer: [204, 'Removed', undefined],
    }),
  },
  '/scopes': {
    get: read('listScopes', {
      summary: 'List identity and API scopes (the config file’s, read-only, and API scopes added here)',
      parameters: [limit, cursor],
      answer: [200, 'A page of scopes', 'ScopePage'],
    }),
    post: write('createScope', {
      summary: 'Add an API scope',
      body: 'ScopeInput',
      answer: [201, 'The scope', 'Scope', true],
    }),
  },
  '/scopes/{name}': {
    get: read('readScope', {
      summary: 'Read a scope',
      parameters: [name],
      answer: [200, 'The scope', 'Scope', true],
    }),
    put: write('replaceScope', {
      summary: 'Replace an added API scope’s description',
      parameters: [name, ifMatch],
      body: 'ScopeReplacement',
      answer: [200, 'The scope', 'Scope', true],
    }),
    delete: write('removeScope', {
      summary: 'Remove an added API scope that no API resource and no client uses (409 otherwise)',
      parameters: [name, ifMatch],
      answer: [204, 'Removed', undefined],
    }),
  },
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
