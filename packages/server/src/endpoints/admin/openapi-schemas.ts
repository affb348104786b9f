/**
 * The component schemas of the admin API's OpenAPI document (openapi.ts): JSON Schema 2020-12 of every
 * body the API reads and answers, and the small builders the document's paths use too.
 */
import { maxSecretOverlap } from '../../admin/clients.ts';
import { grantTypes } from '../../config/clients.ts';
import { fieldsAsWritten } from '../../config/seed.ts';
import { clientAuthMethods } from '../../model.ts';

export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const string: Schema = { type: 'string' };
const strings: Schema = { type: 'array', items: string };
const time: Schema = { type: 'string', format: 'date-time' };
const nullable = (schema: Schema): Schema => ({ anyOf: [schema, { type: 'null' }] });
const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const pageOf = (item: string): Schema =>
  object({ items: { type: 'array', items: ref(item) }, nextCursor: nullable(string) }, [
    'items',
    'nextCursor',
  ]);

/** The client fields an operator writes: the config file's (config/clients.ts), without secrets. */
const clientFields: Record<string, Schema> = {
  clientId: { type: 'string', pattern: '^[A-Za-z0-9._~-]{1,100}$' },
  name: { type: 'string', minLength: 1 },
  tokenEndpointAuthMethod: { enum: [...clientAuthMethods] },
  grantTypes: { type: 'array', items: { enum: [...grantTypes] }, minItems: 1 },
  redirectUris: strings,
  postLogoutRedirectUris: strings,
  scopes: strings,
  requireConsent: { type: 'boolean' },
  accessTokenTtl: { type: 'integer' },
  backchannelLogoutUri: { type: 'string', format: 'uri' },
  corsOrigins: strings,
  requireDpop: { type: 'boolean' },
  requirePushedAuthorizationRequests: { type: 'boolean' },
  requireMfa: { type: 'boolean' },
  upstreams: {
    ...strings,
    uniqueItems: true,
    description:
      "Ids of configured upstream providers (the config's `upstreams`) the sign-in page offers, in that order.",
  },
  backchannelTokenDeliveryMode: { enum: ['poll', 'ping'] },
  backchannelClientNotificationEndpoint: { type: 'string', format: 'uri' },
  profile: { const: 'fapi2' },
  jwks: { type: 'object', properties: { keys: { type: 'array', items: { type: 'object' } } } },
  jwksUri: { type: 'string', format: 'uri' },
  tokenEndpointAuthSigningAlg: string,
  tlsClientAuthSubjectDn: string,
  tlsClientAuthSanDns: string,
  tlsClientAuthSanUri: string,
  tlsClientAuthSanIp: string,
  tlsClientAuthSanEmail: string,
  tlsClientCertificateBoundAccessTokens: { type: 'boolean' },
  tokenExchange: object({ audiences: strings }, ['audiences']),
  refreshTokenLifetime: object({ absolute: { type: 'integer' }, idle: { type: 'integer' } }),
};

const readOnlyClientFields: Record<string, Schema> = {
  source: { enum: ['config', 'cli', 'registration'], readOnly: true },
  createdAt: { ...time, readOnly: true },
  secretExpiresAt: {
    type: 'array',
    items: nullable(time),
    readOnly: true,
    description: 'When each secret stops working (null: never), newest first; the secrets are never shown.',
  },
  disabledAt: {
    ...nullable(time),
    readOnly: true,
    description: 'When an operator disabled the client (null: it may be used); see disableClient.',
  },
};

/** The API resource fields an operator writes: the config file's (config/resources.ts), without its secret. */
const apiResourceFields: Record<string, Schema> = {
  id: { type: 'string', minLength: 1 },
  uris: { type: 'array', items: { type: 'string', format: 'uri' } },
  scopes: { ...strings, minItems: 1 },
  accessTokenFormat: { enum: ['jwt', 'opaque'] },
  accessTokenTtl: { type: 'integer' },
  claims: object({ user: strings, roles: { type: 'boolean' } }),
  scopeClaim: { enum: ['scope', 'scp', 'both'] },
};
const apiScopeFields: Record<string, Schema> = {
  name: string,
  description: { type: 'string', minLength: 1 },
};
const readOnlyCatalogFields: Record<string, Schema> = {
  source: {
    enum: ['config', 'admin'],
    readOnly: true,
    description: 'config: declared in the config file (changed there); admin: added over this API.',
  },
};
const hasSecret: Schema = {
  type: 'boolean',
  readOnly: true,
  description: 'Whether the API can call introspection with its id and a secret (never shown).',
};

export const schemas: Record<string, Schema> = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details; `error` is the stable code, `errors` each problem by field.',
    properties: {
      type: string,
      title: string,
      status: { type: 'integer' },
      detail: string,
      error: string,
      errors: { type: 'array', items: object({ field: string, message: string }, ['field', 'message']) },
    },
    required: ['type', 'title', 'status', 'detail', 'error'],
  },
  // What every client's view has (clients.ts clientView).
  Client: object({ ...clientFields, ...readOnlyClientFields }, [
    ...fieldsAsWritten,
    'requireMfa',
    'upstreams',
    ...Object.keys(readOnlyClientFields),
  ]),
  ClientInput: object(clientFields, ['clientId', 'name', 'grantTypes']),
  ClientReplacement: {
    ...object({ ...clientFields, ...readOnlyClientFields }, ['name', 'grantTypes']),
    description: 'The client as a whole; read-only fields are ignored, the id cannot change.',
  },
  ClientWithSecret: object({ client: ref('Client'), clientSecret: nullable(string) }, [
    'client',
    'clientSecret',
  ]),
  SecretRotation: object({ overlap: { type: 'integer', minimum: 0, maximum: maxSecretOverlap } }),
  RotatedSecret: object({ clientId: string, clientSecret: string, previousSecretExpiresAt: nullable(time) }, [
    'clientId',
    'clientSecret',
    'previousSecretExpiresAt',
  ]),
  ClientPage: pageOf('Client'),
  User: object(
    {
      id: string,
      username: string,
      claims: { type: 'object' },
      roles: strings,
      disabledAt: nullable(time),
      factors: object(
        {
          totp: { type: 'boolean' },
          recoveryCodes: { type: 'integer' },
          passkeys: {
            type: 'array',
            items: object(
              {
                id: string,
                nickname: string,
                createdAt: time,
                lastUsedAt: nullable(time),
                synced: { type: 'boolean' },
                transports: strings,
              },
              ['id', 'nickname', 'createdAt', 'lastUsedAt', 'synced', 'transports'],
            ),
          },
        },
        ['totp', 'recoveryCodes', 'passkeys'],
      ),
    },
    ['id', 'username', 'claims', 'roles', 'disabledAt', 'factors'],
  ),
  NewUser: object(
    {
      username: string,
      password: { type: 'string', minLength: 8 },
      email: { type: 'string', format: 'email' },
      name: string,
      roles: strings,
    },
    ['username', 'password'],
  ),
  UserDisable: object({ revokeGrants: { type: 'boolean' } }),
  ClientDisable: object({ revokeGrants: { type: 'boolean' } }),
  PasswordReset: object({ password: { type: 'string', minLength: 8 } }, ['password']),
  UserPage: pageOf('User'),
  Grant: object(
    {
      id: string,
      clientId: string,
      userId: nullable(string),
      sid: nullable(string),
      scopes: strings,
      resources: strings,
      createdAt: time,
      revokedAt: nullable(time),
    },
    ['id', 'clientId', 'userId', 'sid', 'scopes', 'resources', 'createdAt', 'revokedAt'],
  ),
  GrantPage: pageOf('Grant'),
  GrantRevocation: object({ userId: string, clientId: string }),
  GrantsRevoked: object({ revoked: { type: 'integer' } }, ['revoked']),
  Session: object({ sid: string, userId: string, authTime: time, amr: strings, expiresAt: time }, [
    'sid',
    'userId',
    'authTime',
    'amr',
    'expiresAt',
  ]),
  SessionPage: pageOf('Session'),
  SigningKey: object(
    {
      kid: string,
      alg: string,
      status: { enum: ['signing', 'next', 'retired', 'published'] },
      createdAt: time,
      signsFrom: time,
      retiredAt: nullable(time),
      expiresAt: nullable(time),
      publicJwk: { type: 'object' },
    },
    ['kid', 'alg', 'status', 'createdAt', 'signsFrom', 'retiredAt', 'expiresAt', 'publicJwk'],
  ),
  SigningKeyPage: pageOf('SigningKey'),
  ApiResource: object(
    { ...apiResourceFields, ...readOnlyCatalogFields, hasSecret, createdAt: nullable(time) },
    ['id', 'uris', 'scopes', 'accessTokenFormat', 'claims', 'scopeClaim', 'source', 'hasSecret', 'createdAt'],
  ),
  ApiResourcePage: pageOf('ApiResource'),
  ApiResourceInput: {
    ...object(apiResourceFields, ['id', 'scopes']),
    description: 'An API resource in the config file’s fields; its secret is generated by the server.',
  },
  ApiResourceReplacement: {
    ...object({ ...apiResourceFields, ...readOnlyCatalogFields, hasSecret, createdAt: nullable(time) }, [
      'scopes',
    ]),
    description: 'The API resource as a whole; read-only fields are ignored, the id cannot change.',
  },
  ApiResourceWithSecret: object({ apiResource: ref('ApiResource'), secret: string }, [
    'apiResource',
    'secret',
  ]),
  Scope: object(
    { ...apiScopeFields, ...readOnlyCatalogFields, kind: { enum: ['identity', 'api'] }, claims: strings },
    ['name', 'description', 'kind', 'claims', 'source'],
  ),
  ScopeInput: object(apiScopeFields, ['name', 'description']),
  ScopeReplacement: {
    ...object({ ...apiScopeFields, ...readOnlyCatalogFields, kind: { const: 'api' }, claims: strings }, [
      'description',
    ]),
    description: 'The API scope as a whole; read-only fields are ignored, the name cannot change.',
  },
  ScopePage: pageOf('Scope'),
};
