/**
 * What an unauthenticated request can make the server store or send back: every stored or echoed request
 * parameter is bounded (`requestParameters`), pending sign-ins are capped per address
 * (`rateLimits.interactionsPerIp`), and the SQLite file gives back the space of swept rows (incremental
 * vacuum); /end_session never copies an unbounded parameter into `Location`.
 */
import { statSync } from 'node:fs';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { sweepExpired } from '../src/storage/sweep.ts';
import { databaseOf } from '../src/storage/testing.ts';
import {
  codeParams,
  deviceGrant,
  form,
  pkcePair,
  postForm,
  type TestServer,
  testClients,
  useServer,
  webAppAuth,
} from './helpers.ts';

const signedOut = 'https://webapp.example.com/signed-out';
const clients = [
  ...testClients({ 'web-app': { postLogoutRedirectUris: [signedOut] } }),
  {
    clientId: 'device-app',
    name: 'TV Device',
    tokenEndpointAuthMethod: 'none',
    grantTypes: [deviceGrant],
    scopes: ['openid', 'api1.read'],
  },
];

function postAuthorize(server: TestServer, values: Record<string, string | undefined>, address: string) {
  return server.app.inject({
    method: 'POST',
    url: '/authorize',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form(values),
    remoteAddress: address,
  });
}

async function pragma(server: TestServer, name: string): Promise<number> {
  const { rows } = await sql
    .raw<Record<string, number>>(`PRAGMA ${name}`)
    .execute(databaseOf(server.ctx.storage));
  return Object.values(rows[0] ?? {})[0] ?? Number.NaN;
}

/** The bytes the database's pages take (the file's size once the write-ahead log is checkpointed). */
async function databaseBytes(server: TestServer): Promise<number> {
  return (await pragma(server, 'page_count')) * (await pragma(server, 'page_size'));
}

async function countRows(server: TestServer, table: 'interactions' | 'pushed_authorization_requests') {
  return (await databaseOf(server.ctx.storage).selectFrom(table).selectAll().execute()).length;
}

const addresses = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'];

describe('request parameter limits (defaults)', () => {
  const server = useServer({ clients });

  it('refuses a 60 KB parameter at /authorize with an HTML invalid_request naming it, storing nothing', async () => {
    const before = await databaseBytes(server);
    const big = 'x'.repeat(20_000);
    const statuses = new Set<number>();
    for (const address of addresses)
      for (let i = 0; i < 25; i++) {
        const response = await postAuthorize(
          server,
          { ...codeParams(pkcePair()), state: big, nonce: big, login_hint: big },
          address,
        );
        statuses.add(response.statusCode);
        if (i === 0) {
          expect(response.headers['content-type']).toMatch(/^text\/html/);
          expect(response.body).toContain('parameter state is longer than 2048 characters');
          expect(response.headers.location).toBeUndefined();
        }
      }
    expect([...statuses]).toEqual([400]);
    expect(await countRows(server, 'interactions')).toBe(0);
    // 100 attempts of 60 KB each: the file did not grow by their parameters (a few pages at most).
    expect((await databaseBytes(server)) - before).toBeLessThan(64 * 1024);
  });

  it('refuses an over-long parameter at /par and /device_authorization with JSON invalid_request naming it', async () => {
    const pushed = await postForm(
      server,
      '/par',
      { ...codeParams(pkcePair()), login_hint: 'x'.repeat(60_000) },
      { authorization: webAppAuth },
    );
    expect(pushed.status).toBe(400);
    expect(pushed.body).toEqual({
      error: 'invalid_request',
      error_description: 'parameter login_hint is longer than 2048 characters',
    });
    // /par stores every parameter it is given, unknown ones too: all of them are bounded, together too.
    const unknown = await postForm(
      server,
      '/par',
      {
        ...codeParams(pkcePair()),
        a: 'x'.repeat(2000),
        b: 'x'.repeat(2000),
        c: 'x'.repeat(2000),
        d: 'x'.repeat(2000),
      },
      { authorization: webAppAuth },
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.error_description).toBe(
      'the request parameters are longer than 8192 characters together',
    );
    expect(await countRows(server, 'pushed_authorization_requests')).toBe(0);
    const device = await postForm(server, '/device_authorization', {
      client_id: 'device-app',
      scope: `openid ${'api1.read '.repeat(300)}`,
    });
    expect(device.status).toBe(400);
    expect(device.body.error_description).toBe('parameter scope is longer than 2048 characters');
  });

  it('bounds /end_session: a 60 KB state is refused, and a cookie-less POST repeats only logout parameters', async () => {
    const posted = await server.app.inject({
      method: 'POST',
      url: '/end_session',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ client_id: 'web-app', post_logout_redirect_uri: signedOut, state: 'x'.repeat(60_000) }),
    });
    expect(posted.statusCode).toBe(400);
    expect(posted.headers.location).toBeUndefined();
    expect(posted.body).toContain('parameter state is longer than 2048 characters');
    const got = await server.app.inject({
      method: 'GET',
      url: `/end_session?${form({ client_id: 'web-app', post_logout_redirect_uri: signedOut, state: 'x'.repeat(3000) })}`,
    });
    expect(got.statusCode).toBe(400);
    expect(got.headers.location).toBeUndefined();
    const junk = await server.app.inject({
      method: 'POST',
      url: '/end_session',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({
        client_id: 'web-app',
        post_logout_redirect_uri: signedOut,
        state: 'st',
        junk: 'x'.repeat(2000),
      }),
    });
    expect(junk.statusCode).toBe(303);
    const again = new URL(junk.headers.location as string);
    expect(Object.fromEntries(again.searchParams)).toEqual({
      client_id: 'web-app',
      post_logout_redirect_uri: signedOut,
      state: 'st',
    });
  });
});

describe('pending interactions per address and the space of swept rows', () => {
  const cap = 50;
  const server = useServer({
    clients,
    rateLimits: {
      authorizePerIp: { limit: 1000, window: 60 },
      interactionsPerIp: { limit: cap, window: 900 },
    },
  });

  it('caps pending sign-ins per address (429, Retry-After), bounds the file, and gives the space back after the sweep', async () => {
    const start = await databaseBytes(server);
    // Every stored parameter at its limit, and together at the total limit.
    const longest = { state: 'x'.repeat(2048), nonce: 'x'.repeat(2048), login_hint: 'x'.repeat(2048) };
    const statuses: number[] = [];
    for (const address of addresses)
      for (let i = 0; i < cap + 10; i++) {
        const response = await postAuthorize(server, { ...codeParams(pkcePair()), ...longest }, address);
        statuses.push(response.statusCode);
        if (response.statusCode === 429) {
          expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
          expect(response.headers['content-type']).toMatch(/^text\/html/);
        }
      }
    expect(statuses.filter((status) => status === 303)).toHaveLength(addresses.length * cap);
    expect(statuses.filter((status) => status === 429)).toHaveLength(addresses.length * 10);
    expect(await countRows(server, 'interactions')).toBe(addresses.length * cap);
    // The stated bound: addresses x cap x 16 KiB (a stored request is at most 8192 characters of
    // parameters, plus the row's other columns and the b-tree's overhead).
    const grown = (await databaseBytes(server)) - start;
    expect(grown).toBeLessThan(addresses.length * cap * 16 * 1024);
    const { path } = server.config.storage as { path: string };
    const fileBefore = statSync(path).size;

    server.clock.advance(server.config.login.interactionTtl + 1);
    await sweepExpired(server.ctx.storage, server.clock());
    expect(await countRows(server, 'interactions')).toBe(0);
    // Incremental vacuum: no free pages kept, the pages handed back, the file itself smaller.
    expect(await pragma(server, 'freelist_count')).toBe(0);
    expect((await databaseBytes(server)) - start).toBeLessThan(64 * 1024);
    expect(statSync(path).size).toBeLessThan(fileBefore);
  });
});
