/**
 * The resource-server scenarios: an API checking ES256 RFC 9068 access tokens on a hello route.
 *
 * - resource_jwt: a set of distinct tokens (BENCH_RESOURCE_TOKENS, default 4000) used round-robin, so
 *   every request pays a signature check: Gatehouse runs with its verified-token cache off here (with
 *   it on, the set would be cached after one pass). Targets: @gatehouse/resource's Express adapter
 *   (`servers/resource-gatehouse.ts`), express-oauth2-jwt-bearer (`servers/resource-peer.ts`), bare
 *   node:http with node:crypto and the same claim checks (`servers/resource-ceiling.ts`).
 * - resource_jwt_cached: one token repeated, Gatehouse with its default cache; the peer and the ceiling
 *   have no cache and verify each time.
 *
 * Both also measure a floor (`servers/resource-floor.ts`): the same Express app and hello route with no
 * authentication at all, sent the same requests. It is what Express itself costs here, the most any
 * Express adapter (ours and the peer's) could reach; RESULT lines end with `floor=<r>`.
 *
 * The harness process plays the issuer: it signs the tokens with one ES256 key and serves OpenID metadata
 * and the JWKS on a loopback port, from which each server discovers the key as it would in production.
 * Every target gets the same token set. `resourceContestant` starts and checks one target for the
 * harness's interleaved slices.
 * Before measuring, each server must accept a valid token and refuse one with a wrong audience and one
 * with a forged signature, so a server cannot look fast by checking less (the floor, which checks
 * nothing by design, must answer the hello route with and without a token).
 */

import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AutocannonRequest } from 'autocannon';
import { ChildServer, freePort, track, tsxArgs, untrack } from './children.ts';
import { type CpuShare, sampleCpu } from './cpu.ts';
import { type LoadResult, runLoad, Tally } from './load.ts';
import type { TargetKind } from './oauth.ts';

export const resourceScenarios = ['resource_jwt', 'resource_jwt_cached'] as const;
export type ResourceScenario = (typeof resourceScenarios)[number];

/** The targets of the resource scenarios: the usual three and the Express floor. */
export type ResourceKind = TargetKind | 'floor';

export function isResourceScenario(scenario: string): scenario is ResourceScenario {
  return (resourceScenarios as readonly string[]).includes(scenario);
}

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const audience = 'orders-api';

/** The issuer played by the harness: one ES256 key, metadata and JWKS over HTTP, token signing. */
class BenchIssuer {
  private readonly key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  private readonly kid = randomBytes(8).toString('base64url');
  private readonly server: Server;
  url = '';

  constructor() {
    const jwks = JSON.stringify({
      keys: [{ ...this.key.publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'ES256', use: 'sig' }],
    });
    this.server = createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: this.url, jwks_uri: `${this.url}/jwks` }));
      } else if (req.url === '/jwks') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
      } else {
        res.writeHead(404).end();
      }
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    // Lives as long as the harness needs it, without keeping the process alive.
    this.server.unref();
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  token(claims: Record<string, unknown> = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${encode({ alg: 'ES256', typ: 'at+jwt', kid: this.kid })}.${encode({
      iss: this.url,
      sub: `user-${randomBytes(6).toString('hex')}`,
      aud: audience,
      client_id: 'bench-web',
      scope: 'orders.read',
      jti: randomBytes(12).toString('base64url'),
      iat: now,
      exp: now + 3600,
      ...claims,
    })}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: this.key.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${signature.toString('base64url')}`;
  }
}

const scripts: Record<ResourceKind, string> = {
  gatehouse: 'resource-gatehouse.ts',
  peer: 'resource-peer.ts',
  ceiling: 'resource-ceiling.ts',
  floor: 'resource-floor.ts',
};

/** The server must do the real work: accept a valid token, refuse a foreign and a forged one. */
async function checkServer(baseUrl: string, issuer: BenchIssuer, kind: ResourceKind): Promise<void> {
  const status = async (token: string) =>
    (await fetch(`${baseUrl}/hello`, { headers: { authorization: `Bearer ${token}` } })).status;
  const valid = issuer.token();
  if (kind === 'floor') {
    if ((await status(valid)) !== 200 || (await fetch(`${baseUrl}/hello`)).status !== 200)
      throw new Error('floor: the hello route did not answer 200');
    return;
  }
  if ((await status(valid)) !== 200) throw new Error(`${kind}: a valid token was refused`);
  if ((await status(issuer.token({ aud: 'another-api' }))) !== 401)
    throw new Error(`${kind}: a token for another audience was accepted`);
  const forged = `${valid.slice(0, valid.lastIndexOf('.'))}.${issuer.token().split('.')[2]}`;
  if ((await status(forged)) !== 401) throw new Error(`${kind}: a forged signature was accepted`);
}

/** The issuer and token sets shared by every target, so all are measured with the same tokens. */
let sharedIssuer: Promise<BenchIssuer> | undefined;
const tokenSets = new Map<ResourceScenario, string[]>();

function issuerForHarness(): Promise<BenchIssuer> {
  sharedIssuer ??= (async () => {
    const issuer = new BenchIssuer();
    await issuer.start();
    return issuer;
  })();
  return sharedIssuer;
}

function tokensFor(scenario: ResourceScenario, issuer: BenchIssuer): string[] {
  let tokens = tokenSets.get(scenario);
  if (tokens === undefined) {
    const count = scenario === 'resource_jwt' ? Number(process.env.BENCH_RESOURCE_TOKENS ?? 4000) : 1;
    tokens = Array.from({ length: Math.max(1, count) }, () => `Bearer ${issuer.token()}`);
    tokenSets.set(scenario, tokens);
  }
  return tokens;
}

/** What one measured run of a contestant returns. */
export interface ResourceSlice {
  result: LoadResult;
  cpu: CpuShare | undefined;
}

/** A started and checked target, ready for runs of any length (interleaved with the other targets). */
export interface ResourceContestant {
  kind: ResourceKind;
  child: ChildServer;
  runDir: string;
  run(seconds: number): Promise<ResourceSlice>;
  slices: ResourceSlice[];
}

/** Starts the target's server in a child process, checks it does the real work, and returns it. */
export async function resourceContestant(
  scenario: ResourceScenario,
  kind: ResourceKind,
  runDir: string,
  connections: number,
): Promise<ResourceContestant> {
  const issuer = await issuerForHarness();
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = { PORT: String(port), ISSUER: issuer.url };
  if (kind === 'gatehouse' && scenario === 'resource_jwt') env.CACHE_SIZE = '0';
  const child = track(
    ChildServer.start({
      name: `${scenario}-${kind}`,
      args: [...tsxArgs, join(benchDir, 'servers', scripts[kind])],
      cwd: benchDir,
      env,
      logFile: join(runDir, `${kind}.log`),
    }),
  );
  try {
    await child.waitReady(`${baseUrl}/hello`);
    await checkServer(baseUrl, issuer, kind);
  } catch (error) {
    await untrack(child);
    throw error;
  }
  const tokens = tokensFor(scenario, issuer);
  const tally = new Tally();
  let next = 0;
  const requests = [
    {
      method: 'GET',
      path: '/hello',
      setupRequest: (request: AutocannonRequest) => ({
        ...request,
        headers: { authorization: tokens[next++ % tokens.length]! },
      }),
      onResponse: (status: number) => {
        if (status === 200) tally.ok++;
        else tally.fail(`hello HTTP ${status}`);
      },
    },
  ] satisfies AutocannonRequest[];
  return {
    kind,
    child,
    runDir,
    slices: [],
    run: async (seconds) => {
      const cpu = sampleCpu(child.pid);
      const result = await runLoad({ baseUrl, connections, timeout: 10, tally, requests, duration: seconds });
      return { result, cpu: cpu() };
    },
  };
}
