/**
 * The admin API (/admin/v1, issue 20) through inject(): operator tokens from client_credentials for the
 * built-in gatehouse-admin API, problem details for every error, ETags with If-Match, pages, and the
 * effects of each change on the protocol endpoints (a removed client's tokens refused at once, its
 * refresh tokens dead; a client created on one node used on another). The OpenAPI document is validated by
 * @seriousme/openapi-schema-validator and real answers are checked against its schemas with Ajv (2020-12).
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/endpoints/admin/openapi.ts';
import {
  adminConfig,
  call,
  expectProblem,
  operatorSecret,
  operatorToken,
  readerSecret,
  serviceClient,
  useAdminNodes,
} from './admin-helpers.ts';
import { dpopKey, proof } from './dpop-helpers.ts';
import {
  basic,
  buildServer,
  codeFlowTokens,
  introspectToken,
  issuer,
  parseConfig,
  password,
  storedPasskey,
  testClock,
  testConfig,
  tokenRequest,
  useServer,
  webRedirect,
} from './helpers.ts';

/** Ajv over the document's schemas: `check(name, value)` validates a real answer against one of them. */
function schemaChecker() {
  const document = openApiDocument(issuer) as { components: { schemas: Record<string, object> } };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'admin', components: document.components });
  return (name: string, value: unknown) => {
    const validate = ajv.getSchema(`admin#/components/schemas/${name}`);
    if (validate === undefined) throw new Error(`no schema ${name}`);
    const valid = validate(value);
    expect(validate.errors ?? [], `${name}: ${JSON.stringify(value)}`).toEqual([]);
    expect(valid).toBe(true);
  };
}

const auditLines: Record<string, unknown>[] = [];
const auditStream = new Writable({
  write(chunk, _encoding, done) {
    for (const line of chunk.toString().split('\n'))
      if (line) auditLines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

describe('admin API', () => {
  const server = useServer(adminConfig({ logging: { level: 'info' } }), { logStream: auditStream });
  const check = schemaChecker();

  it('is off by default: no /admin/v1 routes, no admin scopes', async () => {
    const plain = await buildServer(parseConfig(testConfig()), { clock: testClock() });
    try {
      expect((await call(plain, 'GET', '/clients')).status).toBe(404);
      expect(parseConfig(testConfig()).apiScopes.map((scope) => scope.name)).not.toContain('admin.read');
    } finally {
      await plain.close();
    }
  });

  it('refuses requests without a token, with a token for another API, and writes without admin.write', async () => {
    const none = await call(server, 'GET', '/clients');
    expectProblem(none, 401, 'invalid_token');
    expect(none.headers['www-authenticate']).toBeDefined();
    check('Problem', none.body);

    const orders = await tokenRequest(
      server,
      { grant_type: 'client_credentials', scope: 'orders.read' },
      basic('service-a', 'service-a-test-secret-0123456789-abcdefghijklmn'),
    );
    expectProblem(
      await call(server, 'GET', '/clients', { token: orders.body.access_token as string }),
      401,
      'invalid_token',
    );

    const reader = await operatorToken(server, 'reader', readerSecret);
    const listed = await call(server, 'GET', '/clients', { token: reader });
    expect(listed.status).toBe(200);
    check('ClientPage', listed.body);
    const refused = await call(server, 'POST', '/clients', {
      token: reader,
      body: serviceClient('by-reader'),
    });
    expectProblem(refused, 403, 'insufficient_scope');
    expect(String(refused.headers['www-authenticate'])).toMatch(/error="insufficient_scope"/);
    expect(refused.body.detail).toMatch(/admin\.write/);
    expect((await call(server, 'GET', '/clients/by-reader', { token: reader })).status).toBe(404);
  });

  it('creates a client that gets tokens at once; reads it with an ETag; If-Match guards every change', async () => {
    const token = await operatorToken(server);
    const created = await call(server, 'POST', '/clients', { token, body: serviceClient('reports') });
    expect(created.status).toBe(201);
    check('ClientWithSecret', created.body);
    expect(created.headers.location).toBe(`${issuer}/admin/v1/clients/reports`);
    const secret = created.body.clientSecret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const issued = await tokenRequest(server, { grant_type: 'client_credentials' }, basic('reports', secret));
    expect(issued.status).toBe(200);

    const read = await call(server, 'GET', '/clients/reports', { token });
    expect(read.status).toBe(200);
    check('Client', read.body);
    expect(JSON.stringify(read.body)).not.toContain(secret);
    const etag = read.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);

    const changed = { ...read.body, name: 'Monthly reports' };
    expectProblem(
      await call(server, 'PUT', '/clients/reports', { token, body: changed }),
      428,
      'precondition_required',
    );
    const replaced = await call(server, 'PUT', '/clients/reports', { token, body: changed, ifMatch: etag });
    expect(replaced.status).toBe(200);
    check('ClientWithSecret', replaced.body);
    expect(replaced.body.clientSecret).toBeNull();
    expect(replaced.headers.etag).not.toBe(etag);
    // A second operator who read the old version is refused, and nothing changes.
    const stale = await call(server, 'PUT', '/clients/reports', {
      token,
      body: { ...read.body, name: 'Overwritten' },
      ifMatch: etag,
    });
    expectProblem(stale, 412, 'precondition_failed');
    expect((await call(server, 'GET', '/clients/reports', { token })).body.name).toBe('Monthly reports');
    // The secret survived the replacement.
    expect(
      (await tokenRequest(server, { grant_type: 'client_credentials' }, basic('reports', secret))).status,
    ).toBe(200);

    // Rotation with overlap: both secrets work until then; the rotation changes the tag.
    const current = replaced.headers.etag as string;
    const rotated = await call(server, 'POST', '/clients/reports/secret', {
      token,
      body: { overlap: 3600 },
      ifMatch: current,
    });
    expect(rotated.status).toBe(200);
    check('RotatedSecret', rotated.body);
    expect(rotated.headers.etag).not.toBe(current);
    for (const working of [secret, rotated.body.clientSecret as string])
      expect(
        (await tokenRequest(server, { grant_type: 'client_credentials' }, basic('reports', working))).status,
      ).toBe(200);
    expectProblem(
      await call(server, 'POST', '/clients/reports/secret', { token, body: {}, ifMatch: current }),
      412,
      'precondition_failed',
    );

    expectProblem(
      await call(server, 'DELETE', '/clients/reports', { token, ifMatch: etag }),
      412,
      'precondition_failed',
    );
    const removed = await call(server, 'DELETE', '/clients/reports', {
      token,
      ifMatch: rotated.headers.etag as string,
    });
    expect(removed.status).toBe(204);
    expectProblem(await call(server, 'GET', '/clients/reports', { token }), 404, 'not_found');
  });

  it('records every write as an audit event with the operator’s sub and client_id, and no secret', async () => {
    const token = await operatorToken(server);
    const created = await call(server, 'POST', '/clients', { token, body: serviceClient('audited') });
    expect(created.status).toBe(201);
    const events = auditLines.filter((line) => line.audit === 'admin_client_created');
    expect(events.at(-1)).toMatchObject({
      operator_sub: 'operator',
      operator_client_id: 'operator',
      client_id: 'audited',
    });
    expect(JSON.stringify(auditLines)).not.toContain(created.body.clientSecret as string);
  });

  it('accepts a DPoP-bound operator token with a proof for the request, and refuses it as Bearer', async () => {
    const key = await dpopKey();
    const tokenUrl = `${issuer}/token`;
    const issued = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('operator', operatorSecret),
        dpop: await proof(key, { htu: tokenUrl, iat: server.clock() }),
      },
      payload: 'grant_type=client_credentials&scope=admin.read',
    });
    expect(issued.statusCode).toBe(200);
    const token = (JSON.parse(issued.body) as { access_token: string; token_type: string }).access_token;
    const url = `${issuer}/admin/v1/clients`;
    const bound = await server.app.inject({
      method: 'GET',
      url: '/admin/v1/clients?limit=1',
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await proof(key, { htm: 'GET', htu: url, iat: server.clock(), accessToken: token }),
      },
    });
    expect(bound.statusCode).toBe(200);
    expectProblem(await call(server, 'GET', '/clients', { token }), 401, 'invalid_token');
  });

  it('answers unknown admin paths and methods with problem details', async () => {
    const token = await operatorToken(server);
    expectProblem(await call(server, 'GET', '/nothing-here', { token }), 404, 'not_found');
    const method = await call(server, 'PUT', '/users', { token, body: {} });
    expectProblem(method, 405, 'method_not_allowed');
    expect(method.headers.allow).toBe('GET, POST');
  });

  it('validates writes by the config file’s rules, and answers bad JSON and unknown fields with problem details', async () => {
    const token = await operatorToken(server);
    const malformed = await call(server, 'POST', '/clients', { token, raw: '{"clientId": ' });
    expectProblem(malformed, 400, 'invalid_request');
    expect(malformed.body.detail).toMatch(/not valid JSON/);
    expectProblem(await call(server, 'POST', '/clients', { token, raw: '[1]' }), 400, 'invalid_request');
    expectProblem(
      await call(server, 'POST', '/clients', {
        token,
        raw: 'clientId=x',
        contentType: 'application/x-www-form-urlencoded',
      }),
      415,
      'invalid_request',
    );

    const unknown = await call(server, 'POST', '/clients', {
      token,
      body: { ...serviceClient('typo'), requireConsnet: false },
    });
    expectProblem(unknown, 400, 'invalid_request');
    check('Problem', unknown.body);
    expect(JSON.stringify(unknown.body.errors)).toMatch(/requireConsnet/);

    const invalid = await call(server, 'POST', '/clients', {
      token,
      body: {
        clientId: 'bad client',
        name: 'Bad',
        grantTypes: ['authorization_code'],
        scopes: ['no.such.scope'],
        secret: 'x'.repeat(40),
      },
    });
    expectProblem(invalid, 400, 'invalid_request');
    const fields = (invalid.body.errors as { field: string }[]).map((problem) => problem.field);
    expect(fields).toEqual(expect.arrayContaining(['secret', 'clientId', 'redirectUris']));

    const upstreams = await call(server, 'POST', '/clients', {
      token,
      body: { ...serviceClient('upstream'), upstreams: ['corp'] },
    });
    expectProblem(upstreams, 400, 'invalid_request');
    expect(upstreams.body.errors).toEqual([
      { field: 'upstreams.0', message: expect.stringMatching(/unknown upstream "corp"/) },
    ]);

    const unknownScope = await call(server, 'POST', '/clients', {
      token,
      body: { ...serviceClient('unknown-scope'), scopes: ['no.such.scope'] },
    });
    expectProblem(unknownScope, 400, 'invalid_request');
    expect(unknownScope.body.errors).toEqual([
      { field: 'scopes.0', message: expect.stringMatching(/unknown scope/) },
    ]);

    // Clients of the config file are the file's.
    const fileClient = await call(server, 'GET', '/clients/web-app', { token });
    expect(fileClient.body.source).toBe('config');
    expectProblem(
      await call(server, 'DELETE', '/clients/web-app', { token, ifMatch: fileClient.headers.etag as string }),
      409,
      'conflict',
    );
    expectProblem(
      await call(server, 'POST', '/clients', { token, body: serviceClient('web-app') }),
      409,
      'conflict',
    );

    // The OAuth endpoints still refuse JSON bodies.
    const json = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(json.statusCode).toBe(415);
  });

  it('pages lists with limit and an opaque cursor', async () => {
    const token = await operatorToken(server);
    for (const id of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'])
      expect((await call(server, 'POST', '/clients', { token, body: serviceClient(id) })).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`;
      const answer = await call(server, 'GET', `/clients${query}`, { token });
      expect(answer.status).toBe(200);
      check('ClientPage', answer.body);
      const items = answer.body.items as { clientId: string }[];
      expect(items.length).toBeLessThanOrEqual(2);
      seen.push(...items.map((item) => item.clientId));
      cursor = answer.body.nextCursor as string | null;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e', 'web-app', 'operator'])
      expect(seen).toContain(id);
    expectProblem(await call(server, 'GET', '/clients?limit=0', { token }), 400, 'invalid_request');
    expectProblem(await call(server, 'GET', '/clients?limit=201', { token }), 400, 'invalid_request');
    expectProblem(await call(server, 'GET', '/clients?cursor=%%%', { token }), 400, 'invalid_request');
  });

  it('a removed client’s tokens are refused at introspection and userinfo at once, and its refresh tokens stay dead', async () => {
    const token = await operatorToken(server);
    const app = {
      clientId: 'shop',
      name: 'Shop',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [webRedirect],
      scopes: ['openid', 'profile', 'offline_access', 'orders.read'],
      requireConsent: false,
    };
    const created = await call(server, 'POST', '/clients', { token, body: app });
    expect(created.status).toBe(201);
    const secret = created.body.clientSecret as string;
    const { tokens } = await codeFlowTokens(
      server,
      { clientId: 'shop', scope: 'openid profile offline_access orders.read' },
      { authorization: basic('shop', secret) },
    );
    expect(tokens.status).toBe(200);
    const accessToken = tokens.body.access_token as string;
    const refreshToken = tokens.body.refresh_token as string;
    expect((await introspectToken(server, accessToken)).body.active).toBe(true);

    const etag = (await call(server, 'GET', '/clients/shop', { token })).headers.etag as string;
    expect((await call(server, 'DELETE', '/clients/shop', { token, ifMatch: etag })).status).toBe(204);
    expect((await introspectToken(server, accessToken)).body.active).toBe(false);
    const userinfo = await server.app.inject({
      method: 'GET',
      url: '/userinfo',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(userinfo.statusCode).toBe(401);

    // Registered again under the same id, the client does not inherit its predecessor's refresh token.
    const again = await call(server, 'POST', '/clients', { token, body: app });
    const refreshed = await tokenRequest(
      server,
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      basic('shop', again.body.clientSecret as string),
    );
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('users: create, read, disable (sign-in refused), enable, reset the password, remove', async () => {
    const token = await operatorToken(server);
    const weak = await call(server, 'POST', '/users', {
      token,
      body: { username: 'carol', password: 'short' },
    });
    expectProblem(weak, 400, 'invalid_request');
    expectProblem(
      await call(server, 'POST', '/users', { token, body: { username: 'carol', password, admin: true } }),
      400,
      'invalid_request',
    );
    const created = await call(server, 'POST', '/users', {
      token,
      body: { username: 'carol', password, email: 'carol@example.com', roles: ['Support'] },
    });
    expect(created.status).toBe(201);
    check('User', created.body);
    expect(created.text).not.toMatch(/argon2|passwordHash/);
    expectProblem(
      await call(server, 'POST', '/users', { token, body: { username: 'carol', password } }),
      409,
      'conflict',
    );
    const id = created.body.id as string;

    const listed = await call(server, 'GET', '/users?limit=1', { token });
    check('UserPage', listed.body);
    expect(listed.body.nextCursor).not.toBeNull();

    const disabled = await call(server, 'POST', `/users/${id}/disable`, {
      token,
      ifMatch: created.headers.etag as string,
    });
    expect(disabled.status).toBe(200);
    check('User', disabled.body);
    expect(disabled.body.disabledAt).not.toBeNull();
    expectProblem(
      await call(server, 'POST', `/users/${id}/enable`, { token, ifMatch: created.headers.etag as string }),
      412,
      'precondition_failed',
    );
    const enabled = await call(server, 'POST', `/users/${id}/enable`, {
      token,
      ifMatch: disabled.headers.etag as string,
    });
    expect(enabled.body.disabledAt).toBeNull();
    const reset = await call(server, 'POST', `/users/${id}/password`, {
      token,
      body: { password: 'a brand new passphrase' },
      ifMatch: enabled.headers.etag as string,
    });
    expect(reset.status).toBe(200);
    expect(reset.headers.etag).not.toBe(enabled.headers.etag);
    expect(reset.body.factors).toEqual({ totp: false, recoveryCodes: 0, passkeys: [] });
    // A confirmed authenticator and recovery codes (as /mfa enrolment stores them), then lost.
    const mfa = server.ctx.storage.mfa;
    await mfa.startTotp(id, 'enrolled-secret', server.clock());
    expect(await mfa.confirmTotp(id, 'enrolled-secret', 1, server.clock())).toBe(true);
    await mfa.replaceRecoveryCodes(id, ['hash-1', 'hash-2'], server.clock());
    // Two passkeys (as a WebAuthn registration stores them): listed, one removed on its own.
    for (const [credentialId, createdAt] of [
      ['cred-laptop', 1_700_000_000],
      ['cred-phone', 1_700_000_100],
    ] as const)
      await server.ctx.storage.webauthn.addCredential(
        storedPasskey(credentialId, id, {
          counter: 3,
          transports: ['internal'],
          backupEligible: credentialId === 'cred-phone',
          discoverable: true,
          nickname: credentialId.slice(5),
          createdAt,
        }),
      );
    const withPasskeys = await call(server, 'GET', `/users/${id}`, { token });
    check('User', withPasskeys.body);
    expect((withPasskeys.body.factors as { passkeys: unknown }).passkeys).toEqual([
      {
        id: 'cred-laptop',
        nickname: 'laptop',
        createdAt: '2023-11-14T22:13:20.000Z',
        lastUsedAt: null,
        synced: false,
        transports: ['internal'],
      },
      expect.objectContaining({ id: 'cred-phone', synced: true }),
    ]);
    expectProblem(
      await call(server, 'DELETE', `/users/${id}/passkeys/cred-unknown`, {
        token,
        ifMatch: withPasskeys.headers.etag as string,
      }),
      404,
      'not_found',
    );
    const onePasskeyLess = await call(server, 'DELETE', `/users/${id}/passkeys/cred-laptop`, {
      token,
      ifMatch: withPasskeys.headers.etag as string,
    });
    expect(onePasskeyLess.status).toBe(200);
    const remaining = (onePasskeyLess.body.factors as { passkeys: { id: string }[] }).passkeys;
    expect(remaining.map((passkey) => passkey.id)).toEqual(['cred-phone']);
    const enrolled = await call(server, 'GET', `/users/${id}`, { token });
    expect(enrolled.body.factors).toEqual({
      totp: true,
      recoveryCodes: 2,
      passkeys: [expect.objectContaining({ id: 'cred-phone' })],
    });
    expectProblem(
      await call(server, 'DELETE', `/users/${id}/factors`, { token, ifMatch: reset.headers.etag as string }),
      412,
      'precondition_failed',
    );
    const factors = await call(server, 'DELETE', `/users/${id}/factors`, {
      token,
      ifMatch: enrolled.headers.etag as string,
    });
    expect(factors.status).toBe(200);
    check('User', factors.body);
    expect(factors.body.factors).toEqual({ totp: false, recoveryCodes: 0, passkeys: [] });
    expect(await server.ctx.storage.webauthn.listCredentials(id)).toEqual([]);
    expect(
      (await call(server, 'DELETE', `/users/${id}`, { token, ifMatch: factors.headers.etag as string }))
        .status,
    ).toBe(204);
    expectProblem(await call(server, 'GET', `/users/${id}`, { token }), 404, 'not_found');
  });

  it('grants and sessions: listed by user and client, a grant revoked, a session ended', async () => {
    const token = await operatorToken(server);
    const { tokens } = await codeFlowTokens(server, { scope: 'openid profile offline_access' });
    const refreshToken = tokens.body.refresh_token as string;
    const alice = (await call(server, 'GET', '/users?limit=200', { token })).body.items as {
      id: string;
      username: string;
    }[];
    const aliceId = alice.find((user) => user.username === 'alice')!.id;

    const grants = await call(server, 'GET', `/grants?userId=${aliceId}&clientId=web-app`, { token });
    expect(grants.status).toBe(200);
    check('GrantPage', grants.body);
    const items = grants.body.items as { id: string; clientId: string }[];
    expect(items.length).toBeGreaterThan(0);
    const sessions = await call(server, 'GET', `/sessions?userId=${aliceId}`, { token });
    check('SessionPage', sessions.body);
    const sessionItems = sessions.body.items as { sid: string }[];
    expect(sessionItems.length).toBeGreaterThan(0);

    const revoked = await call(server, 'POST', '/grants/revoke', {
      token,
      body: { userId: aliceId, clientId: 'web-app' },
    });
    expect(revoked.status).toBe(200);
    check('GrantsRevoked', revoked.body);
    expect(revoked.body.revoked).toBe(items.length);
    const refreshed = await tokenRequest(
      server,
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      basic('web-app', 'web-app-test-secret-0123456789-abcdefghijklmnop'),
    );
    expect(refreshed.body.error).toBe('invalid_grant');
    expectProblem(await call(server, 'POST', '/grants/revoke', { token, body: {} }), 400, 'invalid_request');

    const sid = sessionItems[0]!.sid;
    const session = await call(server, 'GET', `/sessions/${sid}`, { token });
    check('Session', session.body);
    expectProblem(await call(server, 'DELETE', `/sessions/${sid}`, { token }), 428, 'precondition_required');
    expect(
      (await call(server, 'DELETE', `/sessions/${sid}`, { token, ifMatch: session.headers.etag as string }))
        .status,
    ).toBe(204);
    expectProblem(await call(server, 'GET', `/sessions/${sid}`, { token }), 404, 'not_found');
  });

  it('signing keys are listed and rotated; API resources and scopes are read and added', async () => {
    const token = await operatorToken(server);
    const keys = await call(server, 'GET', '/keys', { token });
    check('SigningKeyPage', keys.body);
    const rotated = await call(server, 'POST', '/keys/rotate', { token });
    expect(rotated.status).toBe(201);
    check('SigningKey', rotated.body);
    expect(rotated.body.status).toBe('next');
    const after = (await call(server, 'GET', '/keys', { token })).body.items as { kid: string }[];
    expect(after.map((key) => key.kid)).toContain(rotated.body.kid);

    const resources = await call(server, 'GET', '/api-resources', { token });
    check('ApiResourcePage', resources.body);
    expect(resources.text).not.toContain('orders-api-test-secret');
    expect((resources.body.items as { id: string }[]).map((resource) => resource.id)).toContain(
      'gatehouse-admin',
    );
    const scopes = await call(server, 'GET', '/scopes', { token });
    check('ScopePage', scopes.body);
    // Added over the API (admin-catalog.test.ts has the rules): the answers follow the document.
    const scope = await call(server, 'POST', '/scopes', {
      token,
      body: { name: 'stock.read', description: 'Read the stock' },
    });
    check('Scope', scope.body);
    const resource = await call(server, 'POST', '/api-resources', {
      token,
      body: { id: 'stock-api', scopes: ['stock.read'], accessTokenTtl: 600 },
    });
    check('ApiResourceWithSecret', resource.body);
    const read = await call(server, 'GET', '/api-resources/stock-api', { token });
    check('ApiResource', read.body);
    const { id: _id, ...replacement } = read.body;
    const replaced = await call(server, 'PUT', '/api-resources/stock-api', {
      token,
      ifMatch: read.headers.etag as string,
      body: { ...replacement, uris: ['https://stock.example.com'] },
    });
    check('ApiResource', replaced.body);
    check('ApiResourcePage', (await call(server, 'GET', '/api-resources', { token })).body);
    check('Scope', (await call(server, 'GET', '/scopes/openid', { token })).body);
  });

  it('serves an OpenAPI 3.1 document that a validator accepts and that describes every admin route', async () => {
    const answer = await server.app.inject({ method: 'GET', url: '/admin/v1/openapi.json' });
    expect(answer.statusCode).toBe(200);
    const document = JSON.parse(answer.body) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(document.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // Every documented operation is a route, and every admin route is documented.
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(document.paths)) {
      const url = `/admin/v1${path.replace(/\{(\w+)\}/g, ':$1')}`;
      for (const method of Object.keys(operations)) {
        expect(server.app.hasRoute({ method: method.toUpperCase() as 'GET', url }), `${method} ${url}`).toBe(
          true,
        );
        documented.add(`${method.toUpperCase()} ${url}`);
      }
    }
    const routes = server.app.printRoutes({ commonPrefix: false, includeMeta: false });
    expect(routes).toContain('admin/v1');
    expect(documented.size).toBe(37);
  });
});

describe('ending a session over the admin API', () => {
  it('sends the back-channel logout token to the session’s client', async () => {
    const logoutTokens: string[] = [];
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        logoutTokens.push(new URLSearchParams(Buffer.concat(chunks).toString()).get('logout_token') ?? '');
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/backchannel`;
    const config = adminConfig();
    const server = await buildServer(
      parseConfig(
        testConfig({
          ...config,
          clients: config.clients.map((client) =>
            client.clientId === 'web-app' ? { ...client, backchannelLogoutUri: receiverUrl } : client,
          ),
        }),
      ),
      { clock: testClock() },
    );
    let closed = false;
    try {
      const { tokens } = await codeFlowTokens(server, { scope: 'openid profile' });
      expect(tokens.status).toBe(200);
      const sid = decodeJwt(tokens.body.id_token as string).sid as string;
      const token = await operatorToken(server);
      const session = await call(server, 'GET', `/sessions/${sid}`, { token });
      expect(session.status).toBe(200);
      expect(
        (await call(server, 'DELETE', `/sessions/${sid}`, { token, ifMatch: session.headers.etag as string }))
          .status,
      ).toBe(204);
      // The session's grant (no offline_access) is revoked with it.
      expect((await introspectToken(server, tokens.body.access_token as string)).body.active).toBe(false);
      // Closing drains the back-channel deliveries in flight.
      await server.close();
      closed = true;
      expect(logoutTokens).toHaveLength(1);
      expect(decodeJwt(logoutTokens[0]!)).toMatchObject({ sid, aud: 'web-app' });
    } finally {
      if (!closed) await server.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});

describe('admin API on two nodes sharing PostgreSQL', { timeout: 120_000 }, () => {
  const nodes = useAdminNodes('postgres');

  it('a client created over the API on one node is used at once on the other; its removal is seen there at once', async () => {
    const { a: nodeA, b: nodeB } = nodes;
    const token = await operatorToken(nodeA);
    // Node B has read (and cached) the client list before the change.
    expect(
      (await tokenRequest(nodeB, { grant_type: 'client_credentials' }, basic('nightly', 'x'.repeat(43))))
        .status,
    ).toBe(401);
    const created = await call(nodeA, 'POST', '/clients', { token, body: serviceClient('nightly') });
    expect(created.status).toBe(201);
    const secret = created.body.clientSecret as string;
    const issued = await tokenRequest(nodeB, { grant_type: 'client_credentials' }, basic('nightly', secret));
    expect(issued.status).toBe(200);
    const accessToken = issued.body.access_token as string;
    expect((await introspectToken(nodeB, accessToken)).body.active).toBe(true);

    // The operator's token from node A works on node B (one store, one key set).
    const etag = (await call(nodeB, 'GET', '/clients/nightly', { token })).headers.etag as string;
    expect((await call(nodeA, 'DELETE', '/clients/nightly', { token, ifMatch: etag })).status).toBe(204);
    expect((await introspectToken(nodeB, accessToken)).body.active).toBe(false);
    expect(
      (await tokenRequest(nodeB, { grant_type: 'client_credentials' }, basic('nightly', secret))).status,
    ).toBe(401);
  });
});
