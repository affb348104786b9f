/**
 * The refresh_token_pg scenario: refresh-token rotations per second with Gatehouse on PostgreSQL, first
 * one node, then three nodes sharing the database (each on its own loopback port, the load split evenly
 * between them, as a load balancer would). Each operation is one POST /token with grant_type=refresh_token
 * on a chain of its own (lib/scenarios.ts refreshTokenPlan), so every rotation is a real single-use
 * UPDATE, an insert of the next token and a signed access token; it counts only when a new refresh token
 * comes back.
 *
 * The database is PostgreSQL at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test), a
 * fresh schema per run, dropped afterwards. CPU is sampled for the Gatehouse processes together and for
 * every PostgreSQL process, so the report can say whether the nodes, the database or neither (waiting on
 * locks and round trips) was the limit. There is no peer or ceiling here: the number to read is the
 * scaling from one node to three.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { ChildServer, freePort, track, untrack } from './children.ts';
import { type LoadResult, runLoad } from './load.ts';
import {
  codeTokenBody,
  postToken,
  refreshTokenBody,
  signIn,
  type Target,
  webAuthorization,
} from './oauth.ts';
import { refreshTokenPlan } from './scenarios.ts';

export const postgresUrl = process.env.BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test';

export interface PgRun {
  nodes: number;
  measured: LoadResult;
  /** Percent of one core: all Gatehouse nodes together, all PostgreSQL processes, everything else. */
  cpu: { nodes: number; postgres: number; others: number } | undefined;
}

export interface PgSettings {
  gatehouseBin: string;
  gatehouseConfig: string;
  repoRoot: string;
  runDir: string;
  connections: number;
  warmup: number;
  duration: number;
  progress(message: string): void;
}

const ticksPerSecond = 100;

/** CPU ticks (user + system) of every process whose command name satisfies `match`. */
function ticksOf(match: (command: string, pid: number) => boolean): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!match(command, Number(entry))) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended while being read.
    }
  }
  return total;
}

function busyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user = 0, nice = 0, system = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return user + nice + system;
}

function sampleGroups(nodePids: number[]): () => PgRun['cpu'] {
  try {
    const isNode = (_: string, pid: number) => nodePids.includes(pid);
    const isPostgres = (command: string) => command === 'postgres';
    const started = performance.now();
    const [nodes, postgres, busy] = [ticksOf(isNode), ticksOf(isPostgres), busyTicks()];
    return () => {
      const seconds = (performance.now() - started) / 1000;
      const percent = (ticks: number) => (100 * ticks) / (ticksPerSecond * seconds);
      const nodeTicks = ticksOf(isNode) - nodes;
      const postgresTicks = ticksOf(isPostgres) - postgres;
      return {
        nodes: percent(nodeTicks),
        postgres: percent(postgresTicks),
        others: Math.max(0, percent(busyTicks() - busy - nodeTicks - postgresTicks)),
      };
    };
  } catch {
    return () => undefined;
  }
}

async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Starts `count` Gatehouse nodes on one fresh schema, measures, stops them and drops the schema. */
async function measureNodes(count: number, settings: PgSettings): Promise<PgRun> {
  const schema = `bench_${count}_${Date.now().toString(36)}`;
  const template = parseYaml(readFileSync(settings.gatehouseConfig, 'utf8')) as Record<string, unknown>;
  const children: ChildServer[] = [];
  try {
    const targets: Target[] = [];
    for (let index = 0; index < count; index++) {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const configFile = join(settings.runDir, `pg-${count}-node-${index}.json`);
      writeFileSync(
        configFile,
        JSON.stringify({
          ...template,
          issuer: baseUrl,
          server: { ...(template.server as object), port },
          storage: { type: 'postgres', url: postgresUrl, schema },
          // Rotations are the work measured, not the limiter.
          rateLimits: { enabled: false },
        }),
      );
      const child = track(
        ChildServer.start({
          name: `gatehouse-pg-${index}`,
          args: [settings.gatehouseBin, 'serve', '--config', configFile],
          cwd: settings.repoRoot,
          logFile: join(settings.runDir, `pg-${count}-node-${index}.log`),
        }),
      );
      children.push(child);
      await child.waitReady(`${baseUrl}/.well-known/openid-configuration`);
      targets.push({
        kind: 'gatehouse',
        baseUrl,
        authorizePath: '/authorize',
        tokenPath: '/token',
        jwksPath: '/jwks',
        sessionCookies: ['__Host-gh-session'],
      });
    }
    // Connections split evenly between the nodes; each node's chains start from its own session.
    const plans = await Promise.all(
      targets.map(async (target, index) => {
        const session = await signIn(target);
        const first = await postToken(
          target,
          webAuthorization,
          codeTokenBody(session.code, session.verifier),
        );
        if (first.refresh_token === undefined) throw new Error('no refresh_token from the code flow');
        const rotated = await postToken(target, webAuthorization, refreshTokenBody(first.refresh_token));
        if (rotated.refresh_token === undefined) throw new Error('the refresh token was not rotated');
        const connections = Math.max(
          1,
          Math.floor(settings.connections / count) + (index < settings.connections % count ? 1 : 0),
        );
        return { target, connections, plan: refreshTokenPlan(target, session.cookie, connections) };
      }),
    );
    const run = async (seconds: number) => {
      await Promise.all(plans.map(({ plan }) => plan.prepare()));
      const cpu = sampleGroups(children.map((child) => child.pid ?? -1));
      const results = await Promise.all(
        plans.map(({ target, connections, plan }) =>
          runLoad({
            baseUrl: target.baseUrl,
            connections,
            requests: plan.requests,
            tally: plan.tally,
            timeout: plan.timeout,
            duration: seconds,
          }),
        ),
      );
      return { results, cpu: cpu() };
    };
    if (settings.warmup > 0) {
      settings.progress(`refresh_token_pg / ${count} node(s): warming up`);
      await run(settings.warmup);
    }
    settings.progress(`refresh_token_pg / ${count} node(s): measuring`);
    const { results, cpu } = await run(settings.duration);
    const failures = new Map<string, number>();
    for (const result of results)
      for (const [reason, n] of result.failures) failures.set(reason, (failures.get(reason) ?? 0) + n);
    const ok = results.reduce((total, result) => total + result.ok, 0);
    const seconds = Math.max(...results.map((result) => result.seconds));
    return {
      nodes: count,
      cpu,
      measured: {
        rate: ok / seconds,
        ok,
        seconds,
        requests: results.reduce((total, result) => total + result.requests, 0),
        errors: results.reduce((total, result) => total + result.errors, 0),
        failures,
        latencyP50: Math.max(...results.map((result) => result.latencyP50)),
        latencyP99: Math.max(...results.map((result) => result.latencyP99)),
      },
    };
  } finally {
    for (const child of children) await untrack(child);
    await withClient((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).catch(() => {});
  }
}

/** Runs the scenario; returns the lines of its report (table rows and RESULT lines). */
export async function measureRefreshPg(settings: PgSettings): Promise<string[]> {
  await withClient((client) => client.query('SELECT 1'));
  const one = await measureNodes(1, settings);
  const three = await measureNodes(3, settings);
  const percent = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(0)}%`);
  const line = (run: PgRun, name: string, extra: string) =>
    `RESULT ${name} gatehouse=${run.measured.rate.toFixed(0)} nodes=${run.nodes}${extra} ` +
    `errors=${run.measured.errors} p50_ms=${run.measured.latencyP50.toFixed(1)} ` +
    `p99_ms=${run.measured.latencyP99.toFixed(1)} node_cpu=${percent(run.cpu?.nodes)} ` +
    `postgres_cpu=${percent(run.cpu?.postgres)} other_cpu=${percent(run.cpu?.others)}`;
  const details = [one, three].flatMap((run) =>
    [...run.measured.failures].map(
      ([reason, n]) => `  refresh_token_pg / ${run.nodes} node(s): ${reason} x${n}`,
    ),
  );
  return [
    ...(details.length > 0 ? ['refresh_token_pg errors:', ...details] : []),
    '(refresh_token_pg cpu is % of one core: all Gatehouse nodes together, all PostgreSQL processes, the rest)',
    line(one, 'refresh_token_pg_1node', ''),
    line(
      three,
      'refresh_token_pg_3nodes',
      ` scaling=${(three.measured.rate / one.measured.rate).toFixed(2)}`,
    ),
  ];
}
