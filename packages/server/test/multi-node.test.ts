/**
 * Several server processes on one store, as behind a load balancer: three real `gatehouse serve`
 * processes on loopback ports sharing PostgreSQL and Redis, and again three sharing one SQLite file (WAL,
 * busy timeout; memory counters, so no shared rate limit there). Codes come from the real login and
 * consent pages over HTTP on one node; the races then spread over all three.
 *
 * - 200 concurrent redemptions of one authorization code: exactly one success, every other answer
 *   invalid_grant. The same for one refresh token, after which the family is revoked everywhere.
 * - An approved device code polled by all three nodes at once yields tokens once; a pushed authorization
 *   request (PAR) used at all three nodes at once starts one authorization.
 * - A client added or removed in the store by another process is seen by every node at its next request:
 *   its CORS origin, and its access tokens at introspection.
 * - Rate limits hold across nodes: the sum of what the three allow is the limit (Redis).
 * - A private_key_jwt client assertion, or a DPoP proof, sent to all three nodes at once is accepted once
 *   (Redis jti cache).
 * - A node killed with SIGKILL in the middle of refresh rotations: afterwards no rotation is half written,
 *   no refresh token was issued twice, and every token the clients received works exactly once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSchema } from '../src/config/clients.ts';
import type { ClientConfig } from '../src/config/schema.ts';
import { clientRecord } from '../src/config/seed.ts';
import { sha256Base64Url } from '../src/protocol/secrets.ts';
import { openStorage, type StorageOptions } from '../src/storage/index.ts';
import type { Storage } from '../src/storage/ports.ts';
import { databaseOf } from '../src/storage/testing.ts';
import {
  type BackendName,
  backendNames,
  dropRedisPrefix,
  dropSchema,
  postgresUrl,
  redisUrl,
  requireService,
  uniqueName,
} from './backends.ts';
import { dpopKey, proof } from './dpop-helpers.ts';
import {
  basic,
  codeRequest,
  deviceGrant,
  ordersApiAuth,
  pkcePair,
  serviceAuth,
  testConfig,
  webAppAuth,
  webRedirect,
} from './helpers.ts';
import { decideDeviceCode, FetchBrowser, freePort } from './interop-helpers.ts';
import { ServerProcess as Node, runGatehouse } from './processes.ts';

const revokeLimit = 25;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function post(
  url: string,
  values: Record<string, string>,
  authorization?: string,
  extraHeaders: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization ? { authorization } : {}),
      ...extraHeaders,
    },
    body: new URLSearchParams(values).toString(),
  });
  // Revocation answers 200 with an empty body (RFC 7009 §2.2).
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const key = answer.status === 200 ? 'ok' : `${answer.status} ${String(answer.body.error)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe.each(backendNames)('three server processes on %s', (backend: BackendName) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nodes-'));
  const schema = uniqueName('gh_nodes');
  const keyPrefix = `${uniqueName('gh_nodes')}:`;
  const storageOptions: StorageOptions =
    backend === 'postgres'
      ? // A patient pool: on a busy CI machine a 503 for a slow connection would say nothing about races.
        { type: 'postgres', url: postgresUrl, schema, pool: { max: 8, connectionTimeout: 30 } }
      : { type: 'sqlite', path: join(dir, 'shared.db') };
  // Tests of what the nodes share through Redis exist only where there is a Redis (the PostgreSQL set-up);
  // they are not registered at all on SQLite, so the run reports no skipped tests.
  const withSharedRedis = backend === 'postgres' ? it : () => undefined;
  const configFiles = new Map<number, string>();
  let issuer: string;
  let nodes: Node[] = [];
  const started: Node[] = [];
  let storage: Storage;
  const browser = () => new FetchBrowser(issuer);
  let signedIn: FetchBrowser;
  let assertionKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  /** Revocation requests sent before the rate-limit test: they count against the same per-IP limit. */
  let revocationsSent = 0;

  const startNode = async (port: number) => {
    const node = await Node.start(configFiles.get(port)!);
    started.push(node);
    return node;
  };

  beforeAll(async () => {
    if (backend === 'postgres') await Promise.all([requireService('postgres'), requireService('redis')]);
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    issuer = `http://127.0.0.1:${ports[0]}`;
    const base = testConfig();
    const pair = await generateKeyPair('ES256', { extractable: true });
    assertionKey = pair.privateKey;
    const assertionJwk = { ...(await exportJWK(pair.publicKey)), kid: 'node-test', alg: 'ES256' };
    const config = {
      ...base,
      issuer,
      server: { host: '127.0.0.1', port: 0 },
      storage: storageOptions,
      ...(backend === 'postgres' ? { redis: { url: redisUrl, keyPrefix } } : {}),
      logging: { level: 'silent' },
      device: { interval: 1 },
      rateLimits: {
        tokenPerIp: { limit: 1_000_000, window: 60 },
        tokenPerClient: { limit: 1_000_000, window: 60 },
        introspectPerCaller: { limit: 1_000_000, window: 60 },
        revokePerIp: { limit: revokeLimit, window: 3600 },
      },
      clients: [
        ...(base.clients as Record<string, unknown>[]),
        {
          clientId: 'device-app',
          name: 'TV Device',
          tokenEndpointAuthMethod: 'none',
          grantTypes: [deviceGrant, 'refresh_token'],
          scopes: ['openid', 'offline_access', 'api1.read'],
        },
        {
          clientId: 'jwt-client',
          name: 'JWT Client',
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwks: { keys: [assertionJwk] },
          grantTypes: ['client_credentials'],
          scopes: ['orders.read'],
          requireConsent: false,
        },
      ],
    };
    // One file per node: the same settings, each with its own port.
    for (const port of ports) {
      const file = join(dir, `node-${port}.json`);
      writeFileSync(file, JSON.stringify({ ...config, server: { host: '127.0.0.1', port } }));
      configFiles.set(port, file);
    }
    // All three start at once on an empty store: migrations, seeding and the first key must not collide.
    nodes = await Promise.all(ports.map((port) => startNode(port)));
    storage = await openStorage(storageOptions);
    signedIn = browser();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(started.map((node) => node.kill('SIGKILL')));
    await storage?.close();
    if (backend === 'postgres') {
      await dropSchema(schema);
      await dropRedisPrefix(keyPrefix);
    }
  });

  /** A fresh authorization code for web-app, from the login (first time) and consent pages on node 1. */
  async function freshCode(scope = 'openid offline_access orders.read') {
    const pkce = pkcePair();
    const { location } = await signedIn.walk(`${issuer}${codeRequest(pkce, { scope })}`);
    const code = new URL(location).searchParams.get('code');
    if (!code) throw new Error(`no code in ${location}`);
    return { code, verifier: pkce.verifier };
  }

  const redeem = (node: Node, code: { code: string; verifier: string }) =>
    post(
      `${node.url}/token`,
      {
        grant_type: 'authorization_code',
        code: code.code,
        redirect_uri: webRedirect,
        code_verifier: code.verifier,
      },
      webAppAuth,
    );

  const refresh = (node: Node, token: string) =>
    post(`${node.url}/token`, { grant_type: 'refresh_token', refresh_token: token }, webAppAuth);

  it('`gatehouse migrate` finds the shared store up to date and names it without credentials', async () => {
    const file = configFiles.values().next().value as string;
    const { code, stdout, stderr } = await runGatehouse(['migrate', '--config', file]);
    const output = stdout + stderr;
    expect(code).toBe(0);
    expect(output).toBe(
      backend === 'postgres'
        ? `Database PostgreSQL 127.0.0.1:5432/test (schema ${schema}) is up to date.\n`
        : `Database at ${join(dir, 'shared.db')} is up to date.\n`,
    );
  }, 60_000);

  it('publishes one key set from every node', async () => {
    const sets = await Promise.all(nodes.map(async (node) => (await fetch(`${node.url}/jwks`)).json()));
    expect(sets[0]).toEqual(sets[1]);
    expect(sets[0]).toEqual(sets[2]);
    expect((sets[0] as { keys: unknown[] }).keys).toHaveLength(1);
  });

  it('redeems one code 200 times at once across the nodes: exactly one success', async () => {
    const code = await freshCode();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, index) => redeem(nodes[index % 3]!, code)),
    );
    expect(tally(answers)).toEqual({ ok: 1, '400 invalid_grant': 199 });
  }, 60_000);

  it('rotates one refresh token 200 times at once: one success, then the family is revoked on every node', async () => {
    const first = await redeem(nodes[1]!, await freshCode());
    expect(first.status).toBe(200);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, index) =>
        refresh(nodes[index % 3]!, first.body.refresh_token as string),
      ),
    );
    expect(tally(answers)).toEqual({ ok: 1, '400 invalid_grant': 199 });
    const winner = answers.find((answer) => answer.status === 200)!;
    // Reuse revoked the family: the rotated token is dead, and no node calls the access tokens active.
    expect((await refresh(nodes[2]!, winner.body.refresh_token as string)).body.error).toBe('invalid_grant');
    for (const node of nodes) {
      for (const token of [first.body.access_token, winner.body.access_token] as string[]) {
        const introspection = await post(`${node.url}/introspect`, { token }, ordersApiAuth);
        expect(introspection).toEqual({ status: 200, body: { active: false } });
      }
    }
  }, 60_000);

  it('sees a client added, disabled, enabled or removed in the store at the next request on every node (CORS, tokens)', async () => {
    const origin = 'https://reports.example.com';
    const secret = 'reports-secret-0123456789-abcdefghijklmnopqrstuv';
    const corsOn = async (node: Node) =>
      (await fetch(`${node.url}/.well-known/openid-configuration`, { headers: { origin } })).headers.get(
        'access-control-allow-origin',
      );
    for (const node of nodes) expect(await corsOn(node)).toBeNull();
    // As `gatehouse client add --cors-origin` writes it, from another process than the nodes.
    const client = clientRecord(
      clientSchema.parse({
        clientId: 'reports',
        name: 'Reports',
        secret,
        grantTypes: ['client_credentials'],
        scopes: ['orders.read'],
        corsOrigins: [origin],
      }) as ClientConfig,
      'cli',
      Math.floor(Date.now() / 1000),
    );
    await storage.clients.save(client);
    for (const node of nodes) expect(await corsOn(node)).toBe(origin);
    const issued = await post(
      `${nodes[0]!.url}/token`,
      { grant_type: 'client_credentials' },
      basic('reports', secret),
    );
    expect(issued.status).toBe(200);
    const token = issued.body.access_token as string;
    const introspect = (node: Node) => post(`${node.url}/introspect`, { token }, ordersApiAuth);
    for (const node of nodes) expect((await introspect(node)).body.active).toBe(true);

    // As `gatehouse client disable` and `enable` write it (admin/clients.ts): refused on every node at once.
    const reportsToken = (node: Node) =>
      post(`${node.url}/token`, { grant_type: 'client_credentials' }, basic('reports', secret));
    expect(await storage.clients.setDisabled('reports', Math.floor(Date.now() / 1000))).toBe(true);
    for (const node of nodes) {
      expect((await introspect(node)).body).toEqual({ active: false });
      expect((await reportsToken(node)).body.error).toBe('invalid_client');
    }
    expect(await storage.clients.setDisabled('reports', null)).toBe(true);
    for (const node of nodes) expect((await introspect(node)).body.active).toBe(true);

    // As `gatehouse client remove` does it.
    await storage.transaction(async (repositories) => {
      await repositories.clients.remove('reports');
      await repositories.grants.revokeAllForClient('reports', Math.floor(Date.now() / 1000));
    });
    for (const node of nodes) {
      expect((await introspect(node)).body).toEqual({ active: false });
      expect(await corsOn(node)).toBeNull();
    }
  }, 60_000);

  it('honours a revocation made on one node in the next introspection on the others', async () => {
    const tokens = await redeem(nodes[0]!, await freshCode());
    const token = tokens.body.access_token as string;
    const introspect = (node: Node) => post(`${node.url}/introspect`, { token }, ordersApiAuth);
    for (const node of nodes) expect((await introspect(node)).body.active).toBe(true);
    const revoked = await post(
      `${nodes[0]!.url}/revoke`,
      { token, token_type_hint: 'access_token' },
      webAppAuth,
    );
    revocationsSent += 1;
    expect(revoked.status).toBe(200);
    for (const node of nodes) expect((await introspect(node)).body).toEqual({ active: false });
  }, 60_000);

  it('gives tokens once to an approved device code polled by all three nodes at once', async () => {
    const start = await post(`${nodes[0]!.url}/device_authorization`, {
      client_id: 'device-app',
      scope: 'openid offline_access api1.read',
    });
    expect(start.status).toBe(200);
    const poll = (node: Node) =>
      post(`${node.url}/token`, {
        grant_type: deviceGrant,
        device_code: start.body.device_code as string,
        client_id: 'device-app',
      });
    expect((await poll(nodes[1]!)).body.error).toBe('authorization_pending');
    await decideDeviceCode(signedIn, start.body.verification_uri_complete as string);
    const answers = await Promise.all(Array.from({ length: 60 }, (_, index) => poll(nodes[index % 3]!)));
    expect(tally(answers)).toEqual({ ok: 1, '400 invalid_grant': 59 });
  }, 60_000);

  it('starts one authorization from a pushed request used at all three nodes at once', async () => {
    const pushed = await post(
      `${nodes[0]!.url}/par`,
      {
        response_type: 'code',
        redirect_uri: webRedirect,
        scope: 'openid orders.read',
        state: 'par-race',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      },
      webAppAuth,
    );
    expect(pushed.status).toBe(201);
    const query = new URLSearchParams({
      client_id: 'web-app',
      request_uri: pushed.body.request_uri as string,
    });
    const statuses = await Promise.all(
      Array.from({ length: 30 }, async (_, index) => {
        const response = await fetch(`${nodes[index % 3]!.url}/authorize?${query}`, { redirect: 'manual' });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(statuses.filter((status) => status === 303)).toHaveLength(1);
    expect(statuses.filter((status) => status === 400)).toHaveLength(29);
  }, 60_000);

  withSharedRedis(
    'holds a rate limit across the nodes: together they allow exactly the limit',
    async () => {
      const answers = await Promise.all(
        Array.from({ length: 90 }, (_, index) =>
          post(`${nodes[index % 3]!.url}/revoke`, { token: `unknown-${index}` }, webAppAuth),
        ),
      );
      const allowed = revokeLimit - revocationsSent;
      expect(tally(answers)).toEqual({ ok: allowed, '429 temporarily_unavailable': 90 - allowed });
    },
    60_000,
  );

  withSharedRedis(
    'accepts a client assertion once, whichever nodes it is replayed to (shared jti cache)',
    async () => {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({
        iss: 'jwt-client',
        sub: 'jwt-client',
        aud: issuer,
        jti: randomUUID(),
        iat: now,
        exp: now + 60,
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'node-test' })
        .sign(assertionKey);
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, index) =>
          post(`${nodes[index % 3]!.url}/token`, {
            grant_type: 'client_credentials',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
          }),
        ),
      );
      expect(tally(answers)).toEqual({ ok: 1, '401 invalid_client': 29 });
    },
    60_000,
  );

  withSharedRedis(
    'accepts a DPoP proof once, whichever nodes it is replayed to (shared jti cache)',
    async () => {
      const key = await dpopKey();
      const dpop = await proof(key, { htu: `${issuer}/token`, iat: Math.floor(Date.now() / 1000) });
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, index) =>
          post(`${nodes[index % 3]!.url}/token`, { grant_type: 'client_credentials' }, serviceAuth, { dpop }),
        ),
      );
      expect(tally(answers)).toEqual({ ok: 1, '400 invalid_dpop_proof': 29 });
      expect(answers.find((answer) => answer.status === 200)!.body.token_type).toBe('DPoP');
    },
    60_000,
  );

  it('loses nothing and issues nothing twice when a node is killed (SIGKILL) during refresh rotations', async () => {
    const families = 12;
    const initial: string[] = [];
    for (let family = 0; family < families; family++) {
      const tokens = await redeem(nodes[family % 3]!, await freshCode('openid offline_access'));
      initial.push(tokens.body.refresh_token as string);
    }
    const grantIds = await Promise.all(
      initial.map(async (token) => (await storage.refreshTokens.find(sha256Base64Url(token)))!.grantId),
    );
    const victim = nodes[1]!;
    let stop = false;
    const received: string[] = [...initial];
    const state = initial.map((token) => ({ current: token, rotations: 0, inDoubt: false }));
    const loads = state.map(async (family, index) => {
      for (let round = 0; !stop; round++) {
        const node = nodes[(index + round) % 3]!;
        let answer: Answer;
        try {
          answer = await refresh(node, family.current);
        } catch {
          // The request died with the node: whether its rotation committed is for the database to say.
          family.inDoubt = true;
          return;
        }
        if (answer.status !== 200) throw new Error(`rotation failed: ${JSON.stringify(answer.body)}`);
        family.current = answer.body.refresh_token as string;
        family.rotations += 1;
        received.push(family.current);
      }
    });
    const ready = () => state.reduce((total, family) => total + family.rotations, 0) >= families * 4;
    while (!ready()) await new Promise((resolve) => setTimeout(resolve, 20));
    await victim.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(loads);
    expect(state.some((family) => family.inDoubt)).toBe(true);
    nodes[1] = await startNode(Number(new URL(victim.url).port));

    // No token was handed out twice.
    expect(new Set(received).size).toBe(received.length);
    // Every rotation is whole: each family is one chain, every consumed token has exactly one successor,
    // and the rotations the database holds are the ones the clients saw (plus at most the one in doubt).
    for (const [index, family] of state.entries()) {
      const rows = await databaseOf(storage)
        .selectFrom('refresh_tokens')
        .select(['token_hash', 'consumed_at'])
        .where('grant_id', '=', grantIds[index]!)
        .execute();
      const consumed = rows.filter((row) => row.consumed_at !== null).length;
      expect(rows.length).toBe(consumed + 1);
      const currentRow = rows.find((row) => row.token_hash === sha256Base64Url(family.current))!;
      const lostInFlight = family.inDoubt && currentRow.consumed_at !== null ? 1 : 0;
      expect(consumed).toBe(family.rotations + lostInFlight);
      if (lostInFlight === 1) {
        // The killed node rotated it but its answer never arrived: the token is used up, as the database says.
        expect((await refresh(nodes[2]!, family.current)).body.error).toBe('invalid_grant');
        continue;
      }
      // Every token a client holds works exactly once, on any node, the restarted one included.
      expect((await refresh(nodes[index % 3]!, family.current)).status).toBe(200);
      expect((await refresh(nodes[(index + 1) % 3]!, family.current)).body.error).toBe('invalid_grant');
    }
  }, 120_000);
});
