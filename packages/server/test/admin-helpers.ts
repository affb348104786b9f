/**
 * What the admin API tests share (admin-api.test.ts, admin-changes.test.ts): a config with the admin API
 * on and two operator clients (one may write, one only read), their tokens, a call through inject(), the
 * problem-details check, and two nodes sharing one store.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { type BackendName, freshStore, requireService } from './backends.ts';
import {
  basic,
  buildServer,
  type GatehouseServer,
  parseConfig,
  testClients,
  testClock,
  testConfig,
  tokenRequest,
} from './helpers.ts';

export const operatorSecret = 'operator-test-secret-0123456789-abcdefghijklmnop';
export const readerSecret = 'reader-test-secret-0123456789-abcdefghijklmnopqr';

/** The test config with the admin API on and two operator clients: one may write, one may only read. */
export function adminConfig(overrides: Record<string, unknown> = {}) {
  return {
    admin: { enabled: true },
    clients: [
      ...testClients(),
      {
        clientId: 'operator',
        name: 'Operator tool',
        secret: operatorSecret,
        grantTypes: ['client_credentials'],
        scopes: ['admin.read', 'admin.write'],
        requireConsent: false,
      },
      {
        clientId: 'reader',
        name: 'Read-only dashboard',
        secret: readerSecret,
        grantTypes: ['client_credentials'],
        scopes: ['admin.read'],
        requireConsent: false,
      },
    ],
    ...overrides,
  };
}

export async function operatorToken(server: GatehouseServer, clientId = 'operator', secret = operatorSecret) {
  const scope = clientId === 'operator' ? 'admin.read admin.write' : 'admin.read';
  const response = await tokenRequest(
    server,
    { grant_type: 'client_credentials', scope },
    basic(clientId, secret),
  );
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Record<string, unknown>;
  text: string;
}

export async function call(
  server: GatehouseServer,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { token?: string; body?: unknown; raw?: string; ifMatch?: string; contentType?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await server.app.inject({
    method,
    url: `/admin/v1${path}`,
    headers,
    ...(payload === undefined ? {} : { payload }),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    text: response.body,
    body: response.body === '' ? {} : (JSON.parse(response.body) as Record<string, unknown>),
  };
}

export function expectProblem(answer: Answer, status: number, error: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ type: 'about:blank', status, error });
  expect(typeof answer.body.title).toBe('string');
  expect(typeof answer.body.detail).toBe('string');
}

export const serviceClient = (clientId: string) => ({
  clientId,
  name: `Service ${clientId}`,
  grantTypes: ['client_credentials'],
  scopes: ['orders.read'],
  requireConsent: false,
});

/**
 * Two server nodes in this process sharing one fresh store on `backend` (an SQLite file, or a PostgreSQL
 * schema) and one clock, started before the suite's tests and closed after them.
 */
export function useAdminNodes(backend: BackendName, overrides: Record<string, unknown> = {}) {
  const nodes: { a: GatehouseServer; b: GatehouseServer; clock: ReturnType<typeof testClock> } = {} as never;
  let drop = async () => {};
  beforeAll(async () => {
    if (backend === 'postgres') await requireService('postgres');
    const store = freshStore(backend);
    drop = store.drop;
    const raw = testConfig(adminConfig({ storage: store.options, ...overrides }));
    nodes.clock = testClock();
    nodes.a = await buildServer(parseConfig(raw), { clock: nodes.clock });
    nodes.b = await buildServer(parseConfig(raw), { clock: nodes.clock });
  });
  afterAll(async () => {
    await nodes.a?.close();
    await nodes.b?.close();
    await drop();
  });
  return nodes;
}
