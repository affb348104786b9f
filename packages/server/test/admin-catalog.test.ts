/**
 * API resources and API scopes written over the admin API (issue 20): created on one node and used on the
 * other at once (a client_credentials token for the new scope and audience, introspection with the new
 * resource's credentials), the config file's entries refused (409), entries checked by the file's rules
 * (400 naming the field), stale ETags (412), removals refused while something uses the entry, and a
 * removed scope or resource refused at the token endpoint at once.
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { adminConfig, call, expectProblem, operatorToken, useAdminNodes } from './admin-helpers.ts';
import { type BackendName, backendNames, freshStore } from './backends.ts';
import {
  basic,
  buildServer,
  type GatehouseServer,
  introspectToken,
  logCapture,
  parseConfig,
  testClock,
  testConfig,
  tokenRequest,
  useServer,
} from './helpers.ts';

const inventoryScope = { name: 'inventory.read', description: 'Read the inventory' };
const inventoryApi = {
  id: 'inventory-api',
  uris: ['https://inventory.example.com'],
  scopes: ['inventory.read'],
  claims: { user: [] },
};
const warehouse = {
  clientId: 'warehouse',
  name: 'Warehouse robot',
  grantTypes: ['client_credentials'],
  scopes: ['inventory.read'],
  requireConsent: false,
};

/** A change with the ETag read just before it. */
async function withTag(
  server: GatehouseServer,
  token: string,
  method: 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
) {
  const ifMatch = (await call(server, 'GET', path, { token })).headers.etag as string;
  return call(server, method, path, { token, ifMatch, ...(body === undefined ? {} : { body }) });
}

/** The warehouse client's token request for the new scope, naming the new API when `resource`. */
function inventoryToken(server: GatehouseServer, clientSecret: string, resource?: string) {
  return tokenRequest(
    server,
    { grant_type: 'client_credentials', scope: 'inventory.read', resource },
    basic('warehouse', clientSecret),
  );
}

async function discoveredScopes(server: GatehouseServer): Promise<string[]> {
  const answer = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
  return (JSON.parse(answer.body) as { scopes_supported: string[] }).scopes_supported;
}

describe.each(backendNames)(
  'the API catalogue written on one of two nodes sharing %s',
  (backend: BackendName) => {
    const nodes = useAdminNodes(backend);

    it('serves a new API resource and scope on the other node at once, and stops when they are removed', async () => {
      const { a, b } = nodes;
      const token = await operatorToken(a);
      // Node B has built its catalogue (and answered for it) before the change on node A.
      expect(await discoveredScopes(b)).not.toContain('inventory.read');

      expect((await call(a, 'POST', '/scopes', { token, body: inventoryScope })).status).toBe(201);
      const created = await call(a, 'POST', '/api-resources', { token, body: inventoryApi });
      expect(created.status).toBe(201);
      expect(created.body.apiResource).toMatchObject({
        id: 'inventory-api',
        source: 'admin',
        hasSecret: true,
      });
      const resourceSecret = created.body.secret as string;
      expect(resourceSecret.length).toBeGreaterThanOrEqual(32);
      const client = await call(a, 'POST', '/clients', { token, body: warehouse });
      expect(client.status).toBe(201);
      const clientSecret = client.body.clientSecret as string;

      expect(await discoveredScopes(b)).toContain('inventory.read');
      const issued = await inventoryToken(b, clientSecret, inventoryApi.uris[0]);
      expect(issued.status).toBe(200);
      const accessToken = issued.body.access_token as string;
      expect(decodeJwt(accessToken)).toMatchObject({ aud: 'inventory-api', scope: 'inventory.read' });
      const described = await introspectToken(b, accessToken, basic('inventory-api', resourceSecret));
      expect(described.status).toBe(200);
      expect(described.body).toMatchObject({ active: true, scope: 'inventory.read', client_id: 'warehouse' });
      const wrongSecret = await introspectToken(b, accessToken, basic('inventory-api', `${resourceSecret}x`));
      expect(wrongSecret.status).toBe(401);

      // Removing the resource: its indicator is unknown on node B at once; the scope stays.
      expect((await withTag(a, token, 'DELETE', '/api-resources/inventory-api')).status).toBe(204);
      const target = await inventoryToken(b, clientSecret, inventoryApi.uris[0]);
      expect(target.status).toBe(400);
      expect(target.body.error).toBe('invalid_target');
      expect((await introspectToken(b, accessToken, basic('inventory-api', resourceSecret))).status).toBe(
        401,
      );

      // The scope is the client's: refused until the client no longer holds it.
      expectProblem(await withTag(a, token, 'DELETE', '/scopes/inventory.read'), 409, 'conflict');
      const { clientId: _id, ...settings } = warehouse;
      const moved = await withTag(a, token, 'PUT', '/clients/warehouse', {
        ...settings,
        scopes: ['orders.read'],
      });
      expect(moved.status).toBe(200);
      expect((await withTag(a, token, 'DELETE', '/scopes/inventory.read')).status).toBe(204);
      expect(await discoveredScopes(b)).not.toContain('inventory.read');
      const refused = await inventoryToken(b, clientSecret);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('invalid_scope');
    });
  },
);

const log = logCapture();
const auditEvents = (name: string) =>
  log.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.audit === name);

describe('API catalogue writes', () => {
  const server = useServer(adminConfig({ logging: { level: 'info' } }), { logStream: log.stream });

  it('refuses to change the config file’s API resources and scopes (409)', async () => {
    const token = await operatorToken(server);
    const read = await call(server, 'GET', '/api-resources/orders-api', { token });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: 'orders-api', source: 'config', hasSecret: true });
    expect(read.text).not.toContain('orders-api-test-secret');
    const { source: _s, hasSecret: _h, createdAt: _c, ...fields } = read.body;
    expectProblem(
      await withTag(server, token, 'PUT', '/api-resources/orders-api', {
        ...fields,
        scopes: ['orders.read'],
      }),
      409,
      'conflict',
    );
    expectProblem(await withTag(server, token, 'DELETE', '/api-resources/orders-api'), 409, 'conflict');
    const copy = { id: 'orders-api', scopes: ['inventory.count'] };
    expectProblem(await call(server, 'POST', '/api-resources', { token, body: copy }), 409, 'conflict');
    const scope = { name: 'orders.read', description: 'Mine now' };
    expectProblem(await call(server, 'POST', '/scopes', { token, body: scope }), 409, 'conflict');
    expectProblem(await withTag(server, token, 'DELETE', '/scopes/orders.read'), 409, 'conflict');
    expectProblem(await withTag(server, token, 'DELETE', '/scopes/openid'), 409, 'conflict');
    expect((await call(server, 'GET', '/scopes/openid', { token })).body).toMatchObject({ kind: 'identity' });
  });

  it('checks an API resource by the config file’s rules, naming the field (400)', async () => {
    const token = await operatorToken(server);
    const refusal = async (body: Record<string, unknown>, field: string, message: RegExp) => {
      const answer = await call(server, 'POST', '/api-resources', { token, body });
      expectProblem(answer, 400, 'invalid_request');
      const errors = answer.body.errors as { field: string; message: string }[];
      expect(errors).toContainEqual({ field, message: expect.stringMatching(message) });
    };
    await refusal(
      { id: 'billing', scopes: ['billing.read'] },
      'scopes.0',
      /unknown API scope "billing.read"/,
    );
    await refusal({ id: 'billing', scopes: ['orders.write'] }, 'scopes.0', /already belongs to "orders-api"/);
    await refusal(
      { id: 'billing', scopes: ['api1.read'], claims: { user: ['sub'] } },
      'claims.user.0',
      /reserved access-token claim/,
    );
    await refusal({ id: 'billing', scopes: [], secret: 'x'.repeat(40) }, 'secret', /generated by the server/);
    await refusal(
      { id: 'billing', scopes: ['api1.read'], accessTokenFormat: 'paseto' },
      'accessTokenFormat',
      /./,
    );
    await refusal({ id: 'billing', scopes: ['api1.read'], colour: 'blue' }, '', /colour/);
    const badScope = await call(server, 'POST', '/scopes', {
      token,
      body: { name: 'two words', description: 'x' },
    });
    expectProblem(badScope, 400, 'invalid_request');
    expect((badScope.body.errors as { field: string }[]).map((error) => error.field)).toEqual(['name']);
    expect((await call(server, 'GET', '/api-resources/billing', { token })).status).toBe(404);
  });

  it('needs the current ETag for a change (412 when stale, 428 without) and records it with the operator', async () => {
    const token = await operatorToken(server);
    const body = { name: 'reports.read', description: 'Read reports' };
    const created = await call(server, 'POST', '/scopes', { token, body });
    expect(created.status).toBe(201);
    const firstTag = created.headers.etag as string;
    const path = '/scopes/reports.read';
    const changed = await call(server, 'PUT', path, {
      token,
      ifMatch: firstTag,
      body: { description: 'Read the monthly reports' },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.description).toBe('Read the monthly reports');
    const stale = await call(server, 'PUT', path, {
      token,
      ifMatch: firstTag,
      body: { description: 'Lost' },
    });
    expectProblem(stale, 412, 'precondition_failed');
    expectProblem(await call(server, 'DELETE', path, { token }), 428, 'precondition_required');

    const resource = await call(server, 'POST', '/api-resources', {
      token,
      body: { id: 'reports-api', scopes: ['reports.read'] },
    });
    expect(resource.status).toBe(201);
    const resourceTag = resource.headers.etag as string;
    const ttl = { scopes: ['reports.read'], accessTokenTtl: 600 };
    const replaced = await call(server, 'PUT', '/api-resources/reports-api', {
      token,
      ifMatch: resourceTag,
      body: ttl,
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ accessTokenTtl: 600, hasSecret: true });
    const again = await call(server, 'PUT', '/api-resources/reports-api', {
      token,
      ifMatch: resourceTag,
      body: ttl,
    });
    expectProblem(again, 412, 'precondition_failed');
    expectProblem(await withTag(server, token, 'DELETE', path), 409, 'conflict');

    const createdEvent = auditEvents('admin_api_resource_created').at(-1);
    expect(createdEvent).toMatchObject({
      operator_sub: 'operator',
      operator_client_id: 'operator',
      resource_id: 'reports-api',
    });
    expect(auditEvents('admin_scope_updated').at(-1)).toMatchObject({
      operator_sub: 'operator',
      scope: 'reports.read',
    });
    expect(log.lines.join('\n')).not.toContain(resource.body.secret as string);
  });
  it('lets a client name an added API resource as a token-exchange audience, and keeps it while one does', async () => {
    const token = await operatorToken(server);
    await call(server, 'POST', '/scopes', { token, body: { name: 'ledger.read', description: 'Read' } });
    const ledger = { id: 'ledger-api', scopes: ['ledger.read'] };
    expect((await call(server, 'POST', '/api-resources', { token, body: ledger })).status).toBe(201);
    const exchanger = {
      clientId: 'exchanger',
      name: 'Exchanger',
      grantTypes: ['urn:ietf:params:oauth:grant-type:token-exchange'],
      scopes: ['ledger.read'],
      tokenExchange: { audiences: ['ledger-api'] },
    };
    expect((await call(server, 'POST', '/clients', { token, body: exchanger })).status).toBe(201);
    const refused = await withTag(server, token, 'DELETE', '/api-resources/ledger-api');
    expectProblem(refused, 409, 'conflict');
    expect(refused.body.detail).toMatch(/token-exchange audience of client "exchanger"/);
    expect((await withTag(server, token, 'DELETE', '/clients/exchanger')).status).toBe(204);
    expect((await withTag(server, token, 'DELETE', '/api-resources/ledger-api')).status).toBe(204);
  });
});

describe('an API scope the config file declares after an operator added it', () => {
  it('is the file’s from the next start: listed once, with the file’s description, read-only', async () => {
    const store = freshStore('sqlite');
    const start = (apiScopes: unknown[]) =>
      buildServer(parseConfig(testConfig(adminConfig({ storage: store.options, apiScopes }))), {
        clock: testClock(),
      });
    const fileScopes = testConfig().apiScopes as { name: string; description: string }[];
    const first = await start(fileScopes);
    try {
      const token = await operatorToken(first);
      const body = { name: 'ledger.read', description: 'Added over the API' };
      expect((await call(first, 'POST', '/scopes', { token, body })).status).toBe(201);
    } finally {
      await first.close();
    }
    const second = await start([...fileScopes, { name: 'ledger.read', description: 'From the file' }]);
    try {
      const token = await operatorToken(second);
      const read = await call(second, 'GET', '/scopes/ledger.read', { token });
      expect(read.body).toMatchObject({ description: 'From the file', source: 'config' });
      const listed = (await call(second, 'GET', '/scopes', { token })).body.items as { name: string }[];
      expect(listed.filter((scope) => scope.name === 'ledger.read')).toHaveLength(1);
      expectProblem(await withTag(second, token, 'DELETE', '/scopes/ledger.read'), 409, 'conflict');
    } finally {
      await second.close();
      await store.drop();
    }
  });
});

describe('a stored API resource the config file’s schema no longer accepts', () => {
  const warnings = logCapture();
  const server = useServer(adminConfig({ logging: { level: 'warn' } }), { logStream: warnings.stream });

  it('is left out of the catalogue with a warning naming it and the problem’s path, on every load', async () => {
    await server.ctx.storage.apiCatalog.saveResource({
      id: 'retired-api',
      definition: { id: 'retired-api', uris: 'https://retired.example.com', scopes: ['retired.read'] },
      secretHash: 'stored-secret-hash',
      createdAt: 1,
    });
    const load = async () => {
      server.ctx.catalog.invalidate();
      await server.ctx.catalog.current();
      return warnings.lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.resource === 'retired-api');
    };
    expect(await load()).toEqual([expect.objectContaining({ level: 40, problems: ['uris'] })]);
    expect(await load()).toHaveLength(2);
    expect(warnings.lines.join('\n')).not.toContain('stored-secret-hash');
    const token = await operatorToken(server);
    expect((await call(server, 'GET', '/api-resources/retired-api', { token })).status).toBe(404);
  });
});
