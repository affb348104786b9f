/**
 * The introspection scenario: a resource server asking the authorization server about an access token
 * (RFC 7662), as it does on every request it has not cached. Each operation is one POST to the
 * introspection endpoint with HTTP Basic credentials of the orders API and `token=<access token>`, over a
 * pool of distinct tokens (BENCH_INTROSPECTION_TOKENS, default 1000) used round-robin; it counts only when
 * the answer is 200 with `"active":true`.
 *
 * - gatehouse: the orders-api resource authenticates with its bench secret (gatehouse.bench.yaml) and
 *   introspects ES256 JWT access tokens that Gatehouse issued to service-a by client_credentials.
 * - peer: oidc-provider introspecting its own opaque client_credentials access tokens for the same
 *   audience, asked by a registered resource-server client (`servers/introspection-peer.ts`).
 * - ceiling: bare node:http verifying the SAME Gatehouse JWTs with node:crypto and the key from Gatehouse's
 *   JWKS (`servers/introspection-ceiling.ts`), so both verify identical inputs.
 *
 * Before measuring, every target must say active for a pool token (with the orders-api audience and the
 * service-a client), inactive for garbage, and refuse a wrong resource secret, so no server can look fast
 * by checking less. The harness measures the targets interleaved like the other scenarios (run.ts).
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AutocannonRequest } from 'autocannon';
import { basicAuthorization, ordersApi, serviceClient } from '../fixtures.ts';
import { ChildServer, freePort, track, tsxArgs, untrack } from './children.ts';
import { type CpuShare, sampleCpu } from './cpu.ts';
import { type LoadResult, runLoad, Tally } from './load.ts';
import {
  checkAccessToken,
  clientCredentialsBody,
  formHeaders,
  postToken,
  serviceAuthorization,
  type Target,
  type TargetKind,
} from './oauth.ts';
import { inBatches } from './scenarios.ts';

const benchDir = fileURLToPath(new URL('..', import.meta.url));

/** The orders API's introspection credentials; the secret must match gatehouse.bench.yaml. */
export const introspectionCaller = {
  id: ordersApi.audience,
  secret: 'orders-api-bench-secret-0123456789abcdefghijklmnop',
} as const;

export const introspectionAuthorization = basicAuthorization(
  introspectionCaller.id,
  introspectionCaller.secret,
);

const poolSize = (): number =>
  Math.max(1, Math.round(Number(process.env.BENCH_INTROSPECTION_TOKENS ?? 1000)));

/** Tokens closer than this to expiry are replaced before a run (a run is a slice of seconds). */
const freshSeconds = 120;

/** Distinct access tokens of one issuer, minted by client_credentials, as ready-made request bodies. */
class TokenPool {
  tokens: string[] = [];
  bodies: string[] = [];
  /** Earliest expiry in the pool (epoch seconds). */
  expiresAt = 0;

  constructor(
    private readonly kind: TargetKind,
    /** Mints one token; undefined once its server is gone. */
    public mint: (() => Promise<{ token: string; expiresIn: number }>) | undefined,
  ) {}

  async fill(): Promise<void> {
    const mint = this.mint;
    if (mint === undefined) throw new Error(`${this.kind}: the token pool expired and its issuer is gone`);
    const started = Math.floor(Date.now() / 1000);
    const minted = await inBatches(poolSize(), 16, () => mint());
    const tokens = minted.map((entry) => entry.token);
    if (new Set(tokens).size !== tokens.length)
      throw new Error(`${this.kind}: minted tokens are not distinct`);
    this.tokens = tokens;
    this.bodies = tokens.map((token) => new URLSearchParams({ token }).toString());
    this.expiresAt = started + Math.min(...minted.map((entry) => entry.expiresIn));
  }

  /** Refills the pool when its tokens would expire soon (long BENCH_DURATION or many rounds). */
  async ensureFresh(): Promise<void> {
    if (this.expiresAt - Math.floor(Date.now() / 1000) < freshSeconds) await this.fill();
  }
}

function minterFor(target: Target): () => Promise<{ token: string; expiresIn: number }> {
  return async () => {
    const response = (await postToken(target, serviceAuthorization, clientCredentialsBody)) as {
      access_token?: string;
      expires_in?: number;
    };
    if (typeof response.access_token !== 'string' || typeof response.expires_in !== 'number')
      throw new Error(`${target.kind}: client_credentials answered without access_token or expires_in`);
    return { token: response.access_token, expiresIn: response.expires_in };
  };
}

async function introspect(
  url: string,
  token: string,
  authorization = introspectionAuthorization,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...formHeaders, authorization },
    body: new URLSearchParams({ token }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the checks below report the status
  }
  return { status: response.status, body };
}

/**
 * The target must do the real work: active with the right audience and client for a pool token,
 * inactive for a garbage one, and 401 for a wrong resource secret.
 */
export async function checkIntrospection(kind: TargetKind, url: string, token: string): Promise<void> {
  const valid = await introspect(url, token);
  const aud = valid.body.aud;
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (
    valid.status !== 200 ||
    valid.body.active !== true ||
    !audiences.includes(ordersApi.audience) ||
    valid.body.client_id !== serviceClient.clientId
  ) {
    throw new Error(
      `${kind}: introspection of a valid token answered ${valid.status} ${JSON.stringify(valid.body)}`,
    );
  }
  const garbage = await introspect(url, `${token.slice(0, -4)}AAAA`);
  if (garbage.status !== 200 || garbage.body.active !== false)
    throw new Error(
      `${kind}: a tampered token was not inactive (${garbage.status} ${JSON.stringify(garbage.body)})`,
    );
  const wrongSecret = basicAuthorization(introspectionCaller.id, `${introspectionCaller.secret}-wrong`);
  const refused = await introspect(url, token, wrongSecret);
  if (refused.status !== 401) throw new Error(`${kind}: a wrong resource secret got HTTP ${refused.status}`);
}

/** The autocannon loop: one introspection per request, tokens round-robin, counted when active. */
export function introspectionRequests(
  path: string,
  pool: { readonly bodies: readonly string[] },
  tally: Tally,
): AutocannonRequest[] {
  let next = 0;
  return [
    {
      method: 'POST',
      path,
      headers: { ...formHeaders, authorization: introspectionAuthorization },
      setupRequest: (request) => ({ ...request, body: pool.bodies[next++ % pool.bodies.length]! }),
      onResponse: (status, body) => {
        if (status === 200 && body.includes('"active":true')) tally.ok++;
        else if (status === 200) tally.fail('introspect inactive');
        else tally.fail(`introspect HTTP ${status}`);
      },
    },
  ];
}

async function endpointFromDiscovery(target: Target): Promise<string> {
  const response = await fetch(`${target.baseUrl}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(10_000),
  });
  const metadata = (await response.json()) as { introspection_endpoint?: unknown };
  if (typeof metadata.introspection_endpoint !== 'string')
    throw new Error(`${target.kind}: discovery has no introspection_endpoint`);
  const url = new URL(metadata.introspection_endpoint);
  if (url.origin !== target.baseUrl)
    throw new Error(`${target.kind}: introspection is not on ${target.baseUrl}`);
  return url.pathname;
}

/** Gatehouse tokens and what verifying them needs, for the ceiling. */
interface GatehouseTokens {
  issuer: string;
  jwks: string;
  pool: TokenPool;
}

/** The tokens of the Gatehouse started last (any instance will do: the ceiling gets its JWKS too). */
let latestGatehouse: GatehouseTokens | undefined;

async function gatehouseTokens(target: Target): Promise<GatehouseTokens> {
  const pool = new TokenPool('gatehouse', minterFor(target));
  await pool.fill();
  await checkAccessToken(target, pool.tokens[0], serviceClient.clientId);
  const response = await fetch(new URL(target.jwksPath, target.baseUrl), {
    signal: AbortSignal.timeout(10_000),
  });
  const jwks = await response.text();
  latestGatehouse = { issuer: target.baseUrl, jwks, pool };
  return latestGatehouse;
}

/** What one measured run of a contestant returns. */
export interface IntrospectionSlice {
  result: LoadResult;
  cpu: CpuShare | undefined;
}

/** A started and checked target, ready for runs of any length (interleaved with the other targets). */
export interface IntrospectionContestant {
  kind: TargetKind;
  child: ChildServer;
  runDir: string;
  run(seconds: number): Promise<IntrospectionSlice>;
  slices: IntrospectionSlice[];
}

export interface IntrospectionOptions {
  connections: number;
  /** Starts Gatehouse with the bench configuration in `runDir` and discovers its endpoints (run.ts). */
  startGatehouse(runDir: string): Promise<{ target: Target; child: ChildServer }>;
}

function startScript(
  kind: TargetKind,
  script: string,
  runDir: string,
  env: Record<string, string>,
): ChildServer {
  return track(
    ChildServer.start({
      name: `introspection-${kind}`,
      args: [...tsxArgs, join(benchDir, 'servers', script)],
      cwd: benchDir,
      env,
      logFile: join(runDir, `${kind}.log`),
    }),
  );
}

/** Starts the target's server, fills its token pool, checks it does the real work, and returns it. */
export async function introspectionContestant(
  kind: TargetKind,
  runDir: string,
  options: IntrospectionOptions,
): Promise<IntrospectionContestant> {
  let child: ChildServer | undefined;
  let baseUrl: string;
  let path: string;
  let pool: TokenPool;
  try {
    if (kind === 'gatehouse') {
      const started = await options.startGatehouse(runDir);
      child = started.child;
      baseUrl = started.target.baseUrl;
      path = await endpointFromDiscovery(started.target);
      pool = (await gatehouseTokens(started.target)).pool;
    } else if (kind === 'peer') {
      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      child = startScript(kind, 'introspection-peer.ts', runDir, {
        PORT: String(port),
        RESOURCE_SECRET: introspectionCaller.secret,
      });
      await child.waitReady(`${baseUrl}/.well-known/openid-configuration`);
      const target: Target = {
        kind,
        baseUrl,
        authorizePath: '/auth',
        tokenPath: '/token',
        jwksPath: '/jwks',
        sessionCookies: [],
      };
      path = await endpointFromDiscovery(target);
      pool = new TokenPool(kind, minterFor(target));
      await pool.fill();
      if (pool.tokens[0]!.includes('.')) throw new Error('peer: the access token is not opaque');
    } else {
      const source = await tokensForCeiling(runDir, options);
      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      path = '/introspect';
      child = startScript(kind, 'introspection-ceiling.ts', runDir, {
        PORT: String(port),
        ISSUER: source.issuer,
        JWKS: source.jwks,
        RESOURCE_ID: introspectionCaller.id,
        RESOURCE_SECRET: introspectionCaller.secret,
      });
      await child.waitReady(`${baseUrl}${path}`);
      pool = source.pool;
    }
    await checkIntrospection(kind, `${baseUrl}${path}`, pool.tokens[0]!);
  } catch (error) {
    if (child !== undefined) await untrack(child);
    throw error;
  }
  const server = child;
  const tally = new Tally();
  const requests = introspectionRequests(path, pool, tally);
  return {
    kind,
    child: server,
    runDir,
    slices: [],
    run: async (seconds) => {
      await pool.ensureFresh();
      const cpu = sampleCpu(server.pid);
      const result = await runLoad({
        baseUrl,
        connections: options.connections,
        requests,
        tally,
        timeout: 10,
        duration: seconds,
      });
      return { result, cpu: cpu() };
    },
  };
}

/**
 * The ceiling verifies Gatehouse's tokens: those of the Gatehouse contestant when there is one (it starts
 * first), otherwise a Gatehouse started here only to mint them and stopped at once.
 */
async function tokensForCeiling(runDir: string, options: IntrospectionOptions): Promise<GatehouseTokens> {
  const now = Math.floor(Date.now() / 1000);
  if (latestGatehouse !== undefined && latestGatehouse.pool.expiresAt - now >= freshSeconds)
    return latestGatehouse;
  const helperDir = join(runDir, 'token-source');
  mkdirSync(helperDir, { recursive: true });
  const { target, child } = await options.startGatehouse(helperDir);
  try {
    const source = await gatehouseTokens(target);
    // The minting server is gone after this; a pool that runs out of time cannot be refilled.
    source.pool.mint = undefined;
    return source;
  } finally {
    await untrack(child);
    for (const name of readdirSync(helperDir)) {
      if (/\.db(-wal|-shm)?$/.test(name)) rmSync(join(helperDir, name), { force: true });
    }
  }
}
