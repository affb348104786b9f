/**
 * `npm run bench`: throughput of Gatehouse against a peer (oidc-provider) and a ceiling (the least work
 * an honest bare node:http server could do), per scenario, on this machine. Each server runs in its own
 * child process on a free loopback port, started fresh for each scenario, checked (its access token must
 * verify as an ES256 RFC 9068 JWT), warmed up, then measured with autocannon from this process, the
 * servers of a scenario taking turns in slices (see measureInterleaved), and stopped. Benchmarks are not
 * tests: nothing here asserts a time; the RESULT lines are for reading.
 *
 * Environment: BENCH_DURATION (measured seconds, default 10), BENCH_WARMUP (seconds, default 3),
 * BENCH_CONNECTIONS (default 50), BENCH_SLICES (default 5), BENCH_SCENARIOS and BENCH_TARGETS
 * (comma-separated subsets), BENCH_ROUNDS (default 1: with more, every run is repeated and the median
 * round is reported), BENCH_GATEHOUSE_CONFIG (another YAML template for Gatehouse, e.g. to try a
 * setting; issuer, port and storage path are still filled in), BENCH_CPU_PROFILE (a folder for the
 * servers' CPU profiles, see lib/children.ts). The resource scenarios add a fourth target, `floor`
 * (see lib/resource-scenario.ts).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { serviceClient, webClient } from './fixtures.ts';
import { ChildServer, freePort, killAllTrackedSync, track, tsxArgs, untrack } from './lib/children.ts';
import { type CpuShare, sampleCpu, waitIdle } from './lib/cpu.ts';
import { DpopSigner } from './lib/dpop.ts';
import { introspectionContestant } from './lib/introspection.ts';
import { type LoadResult, runLoad } from './lib/load.ts';
import {
  checkAccessToken,
  checkDpopBinding,
  clientCredentialsBody,
  codeTokenBody,
  postToken,
  refreshTokenBody,
  serviceAuthorization,
  signIn,
  type Target,
  type TargetKind,
  webAuthorization,
} from './lib/oauth.ts';
import { measureRefreshPg } from './lib/refresh-pg.ts';
import { isResourceScenario, type ResourceKind, resourceContestant } from './lib/resource-scenario.ts';
import {
  authorizationCodePlan,
  clientCredentialsDpopPlan,
  clientCredentialsPlan,
  inBatches,
  loginPlan,
  type Plan,
  refreshTokenPlan,
} from './lib/scenarios.ts';
import { measureStartup } from './lib/startup.ts';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = join(benchDir, '..');
const gatehouseBin = join(repoRoot, 'packages/server/bin/gatehouse.js');

const allScenarios = [
  'client_credentials',
  'client_credentials_dpop',
  'authorization_code',
  'refresh_token',
  'login',
  'resource_jwt',
  'resource_jwt_cached',
  'introspection',
  'refresh_token_pg',
  'startup',
] as const;
type Scenario = (typeof allScenarios)[number];
/**
 * The floor: for the resource scenarios Express with no authentication (lib/resource-scenario.ts); for the
 * grant scenarios the ceiling's work behind Fastify (servers/ceiling.ts, FRAMEWORK=fastify). Either is the
 * most a server on that framework could reach. Login and introspection have none.
 */
const hasFloor = (scenario: Scenario): boolean =>
  isResourceScenario(scenario) ||
  ['client_credentials', 'client_credentials_dpop', 'authorization_code', 'refresh_token'].includes(scenario);
const allTargets: readonly ResourceKind[] = ['gatehouse', 'peer', 'ceiling', 'floor'];
const units: Record<Scenario, string> = {
  client_credentials: 'tokens/s',
  client_credentials_dpop: 'tokens/s',
  authorization_code: 'flows/s',
  refresh_token: 'rotations/s',
  login: 'logins/s',
  resource_jwt: 'req/s',
  resource_jwt_cached: 'req/s',
  introspection: 'req/s',
  refresh_token_pg: 'rotations/s',
  startup: 'ms',
};

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}`);
  return value;
}

function envList<T extends string>(name: string, all: readonly T[]): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...all];
  const wanted = raw.split(',').map((item) => item.trim());
  for (const item of wanted) {
    if (!all.includes(item as T)) throw new Error(`${name}: unknown "${item}" (known: ${all.join(', ')})`);
  }
  return all.filter((item) => wanted.includes(item));
}

const settings = {
  duration: envNumber('BENCH_DURATION', 10, 1),
  warmup: envNumber('BENCH_WARMUP', 3, 0),
  connections: Math.round(envNumber('BENCH_CONNECTIONS', 50, 1)),
  scenarios: envList('BENCH_SCENARIOS', allScenarios),
  targets: envList('BENCH_TARGETS', allTargets),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 1, 1)),
  slices: Math.round(envNumber('BENCH_SLICES', 5, 1)),
  // npm runs the script in bench/; a relative path is meant from where `npm run bench` was typed.
  gatehouseConfig: resolve(
    process.env.INIT_CWD ?? process.cwd(),
    process.env.BENCH_GATEHOUSE_CONFIG || join(benchDir, 'gatehouse.bench.yaml'),
  ),
};

const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));

type Outcome = { measured: LoadResult; cpu?: CpuShare | undefined } | { unavailable: string };

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function targetFor(kind: TargetKind, port: number): Target {
  const baseUrl = `http://127.0.0.1:${port}`;
  switch (kind) {
    case 'gatehouse':
      return {
        kind,
        baseUrl,
        authorizePath: '/authorize',
        tokenPath: '/token',
        jwksPath: '/jwks',
        sessionCookies: ['__Host-gh-session'],
      };
    case 'peer':
      return {
        kind,
        baseUrl,
        authorizePath: '/auth',
        tokenPath: '/token',
        jwksPath: '/jwks',
        sessionCookies: ['_session', '_session.sig'],
      };
    case 'ceiling':
    case 'floor':
      return {
        kind,
        baseUrl,
        authorizePath: '/authorize',
        tokenPath: '/token',
        jwksPath: '/jwks',
        sessionCookies: ['__Host-gh-session'],
      };
  }
}

/** Takes the endpoint paths from the server's discovery document (OpenID Connect Discovery 1.0 §3). */
async function discover(target: Target): Promise<void> {
  const response = await fetch(`${target.baseUrl}/.well-known/openid-configuration`);
  const metadata = (await response.json()) as Record<string, unknown>;
  const pathOf = (field: string): string => {
    const value = metadata[field];
    if (typeof value !== 'string') throw new Error(`${target.kind}: discovery has no ${field}`);
    const url = new URL(value);
    if (url.origin !== target.baseUrl)
      throw new Error(`${target.kind}: ${field} ${value} is not on ${target.baseUrl}`);
    return url.pathname;
  };
  target.authorizePath = pathOf('authorization_endpoint');
  target.tokenPath = pathOf('token_endpoint');
  target.jwksPath = pathOf('jwks_uri');
}

/** Starts a fresh server of `kind` for one scenario and waits until it answers. */
async function startServer(
  kind: TargetKind,
  runDir: string,
): Promise<{ target: Target; child: ChildServer }> {
  const port = await freePort();
  const target = targetFor(kind, port);
  const logFile = join(runDir, `${kind}.log`);
  let child: ChildServer;
  if (kind === 'gatehouse') {
    if (!existsSync(gatehouseBin)) throw new Error('packages/server/bin/gatehouse.js does not exist yet');
    const config = parseYaml(readFileSync(settings.gatehouseConfig, 'utf8')) as {
      issuer: string;
      server: { port: number };
      storage: { path: string };
    };
    config.issuer = target.baseUrl;
    config.server.port = port;
    config.storage.path = join(runDir, 'gatehouse.db');
    const configFile = join(runDir, 'gatehouse.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    child = ChildServer.start({
      name: kind,
      args: [gatehouseBin, 'serve', '--config', configFile],
      cwd: repoRoot,
      logFile,
    });
  } else {
    const script = join(benchDir, 'servers', kind === 'peer' ? 'peer.ts' : 'ceiling.ts');
    child = ChildServer.start({
      name: kind,
      args: [...tsxArgs, script],
      cwd: benchDir,
      env: { PORT: String(port), ...(kind === 'floor' ? { FRAMEWORK: 'fastify' } : {}) },
      logFile,
    });
  }
  track(child);
  const bare = kind === 'ceiling' || kind === 'floor';
  const readyPath = bare ? '/jwks' : '/.well-known/openid-configuration';
  try {
    await child.waitReady(`${target.baseUrl}${readyPath}`);
    if (!bare) await discover(target);
  } catch (error) {
    await untrack(child);
    throw error;
  }
  return { target, child };
}

/** Checks the target does the real work once, then builds the measured loop for it. */
async function planFor(scenario: Scenario, target: Target): Promise<Plan> {
  switch (scenario) {
    case 'client_credentials': {
      const response = await postToken(target, serviceAuthorization, clientCredentialsBody);
      await checkAccessToken(target, response.access_token, serviceClient.clientId);
      return clientCredentialsPlan(target);
    }
    case 'client_credentials_dpop': {
      const signer = new DpopSigner();
      const htu = `${target.baseUrl}${target.tokenPath}`;
      const response = await postToken(target, serviceAuthorization, clientCredentialsBody, {
        dpop: signer.proof('POST', htu),
      });
      const payload = await checkAccessToken(target, response.access_token, serviceClient.clientId);
      checkDpopBinding(target, response, payload, signer.jkt);
      return clientCredentialsDpopPlan(target, signer);
    }
    case 'authorization_code': {
      // One logged-in session per connection, as many users would have.
      const sessions = await inBatches(settings.connections, 4, () => signIn(target));
      const first = sessions[0]!;
      const response = await postToken(target, webAuthorization, codeTokenBody(first.code, first.verifier));
      await checkAccessToken(target, response.access_token, webClient.clientId);
      if (response.id_token === undefined || response.refresh_token === undefined) {
        throw new Error(`${target.kind}: the code flow did not return an id_token and a refresh_token`);
      }
      return authorizationCodePlan(
        target,
        sessions.map((session) => session.cookie),
      );
    }
    case 'refresh_token': {
      const session = await signIn(target);
      const issued = await postToken(target, webAuthorization, codeTokenBody(session.code, session.verifier));
      if (issued.refresh_token === undefined)
        throw new Error(`${target.kind}: no refresh_token from the code flow`);
      const rotated = await postToken(target, webAuthorization, refreshTokenBody(issued.refresh_token));
      await checkAccessToken(target, rotated.access_token, webClient.clientId);
      if (rotated.refresh_token === undefined || rotated.refresh_token === issued.refresh_token) {
        throw new Error(`${target.kind}: the refresh token was not rotated`);
      }
      return refreshTokenPlan(target, session.cookie, settings.connections);
    }
    case 'login': {
      await signIn(target);
      return loginPlan(target);
    }
    case 'introspection':
      throw new Error('introspection is measured by lib/introspection.ts');
    case 'refresh_token_pg':
      throw new Error('refresh_token_pg is measured by lib/refresh-pg.ts');
    case 'startup':
      throw new Error('startup is measured by lib/startup.ts');
    case 'resource_jwt':
    case 'resource_jwt_cached':
      throw new Error(`${scenario} is measured by lib/resource-scenario.ts`);
  }
}

interface Slice {
  result: LoadResult;
  cpu: CpuShare | undefined;
}

/** One result from the slices of a run: counts add up, latency percentiles are the slices' medians. */
function combine(slices: Slice[]): { measured: LoadResult; cpu: CpuShare | undefined } {
  const seconds = slices.reduce((total, slice) => total + slice.result.seconds, 0);
  const ok = slices.reduce((total, slice) => total + slice.result.ok, 0);
  const failures = new Map<string, number>();
  for (const { result } of slices) {
    for (const [reason, count] of result.failures) failures.set(reason, (failures.get(reason) ?? 0) + count);
  }
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? Number.NaN;
  const weighted = (pick: (cpu: CpuShare) => number) =>
    slices.reduce((total, slice) => total + pick(slice.cpu!) * slice.result.seconds, 0) / seconds;
  const sampled = slices.every((slice) => slice.cpu !== undefined);
  return {
    measured: {
      rate: ok / seconds,
      ok,
      seconds,
      requests: slices.reduce((total, slice) => total + slice.result.requests, 0),
      errors: slices.reduce((total, slice) => total + slice.result.errors, 0),
      failures,
      latencyP50: median(slices.map((slice) => slice.result.latencyP50)),
      latencyP99: median(slices.map((slice) => slice.result.latencyP99)),
    },
    cpu: sampled
      ? {
          server: weighted((c) => c.server),
          harness: weighted((c) => c.harness),
          others: weighted((c) => c.others),
        }
      : undefined,
  };
}

/** One server under test during an interleaved measurement: a warm-up, then measured slices. */
interface Contestant {
  kind: ResourceKind;
  child: ChildServer;
  runDir: string;
  /** Runs load for `seconds`. */
  run(seconds: number): Promise<Slice>;
  slices: Slice[];
}

/** An HTTP server under autocannon load (see lib/scenarios.ts for the loops). */
async function httpContestant(scenario: Scenario, kind: TargetKind, runDir: string): Promise<Contestant> {
  const { target, child } = await startServer(kind, runDir);
  try {
    const plan = await planFor(scenario, target);
    return {
      kind,
      child,
      runDir,
      slices: [],
      run: async (seconds) => {
        await plan.prepare();
        const cpu = sampleCpu(child.pid);
        const result = await runLoad({
          baseUrl: target.baseUrl,
          connections: settings.connections,
          requests: plan.requests,
          tally: plan.tally,
          timeout: plan.timeout,
          duration: seconds,
        });
        return { result, cpu: cpu() };
      },
    };
  } catch (error) {
    await untrack(child);
    throw error;
  }
}

/** The login ceiling: bare argon2id verifications in a child process (see servers/argon2-ceiling.ts). */
async function argon2Contestant(runDir: string): Promise<Contestant> {
  const child = track(
    ChildServer.start({
      name: 'argon2',
      args: [...tsxArgs, join(benchDir, 'servers', 'argon2-ceiling.ts')],
      cwd: benchDir,
      env: { CONCURRENCY: String(settings.connections) },
      logFile: join(runDir, 'argon2.log'),
      ipc: true,
    }),
  );
  try {
    await child.request({ ping: true }, 60_000);
  } catch (error) {
    await untrack(child);
    throw error;
  }
  return {
    kind: 'ceiling',
    child,
    runDir,
    slices: [],
    run: async (seconds) => {
      const answer = await child.request<{ ok: number; failed: number; seconds: number; cpu?: CpuShare }>(
        { run: seconds },
        (seconds + 60) * 1000,
      );
      const failures = new Map<string, number>();
      if (answer.failed > 0) failures.set('verify returned false', answer.failed);
      return {
        result: {
          rate: answer.ok / answer.seconds,
          ok: answer.ok,
          seconds: answer.seconds,
          requests: answer.ok + answer.failed,
          errors: answer.failed,
          failures,
          latencyP50: Number.NaN,
          latencyP99: Number.NaN,
        },
        cpu: answer.cpu,
      };
    },
  };
}

/** Starts and checks one server of a scenario. */
async function contestantFor(scenario: Scenario, kind: ResourceKind, runDir: string): Promise<Contestant> {
  if (isResourceScenario(scenario)) return resourceContestant(scenario, kind, runDir, settings.connections);
  if (kind === 'floor' && !hasFloor(scenario)) throw new Error(`${scenario} has no floor`);
  if (scenario === 'login' && kind === 'ceiling') return argon2Contestant(runDir);
  if (scenario === 'introspection') {
    return introspectionContestant(kind, runDir, {
      connections: settings.connections,
      startGatehouse: (dir) => startServer('gatehouse', dir),
    });
  }
  return httpContestant(scenario, kind, runDir);
}

/**
 * Measures the servers of one scenario side by side: all of them are started, checked and warmed up,
 * then the measured duration is cut into slices and the servers take turns, one slice each, in a
 * rotating order. Only one server is loaded at a time, as in a sequential run, but a burst of load from
 * other processes on the machine now falls on all of them alike, which keeps the ratios honest on a busy
 * machine. After each run, the server is given time to finish the requests left in flight.
 */
async function measureInterleaved(
  scenario: Scenario,
  kinds: ResourceKind[],
  round: number,
): Promise<Map<ResourceKind, Outcome>> {
  const outcomes = new Map<ResourceKind, Outcome>();
  const live: Contestant[] = [];
  const label = (kind: ResourceKind) =>
    `${scenario} / ${kind}${settings.rounds > 1 ? ` (round ${round})` : ''}`;
  const slices = settings.slices;
  // Requests a load left in flight keep the server busy for a while (seconds, for queued logins): the
  // next run starts once it is idle again.
  const settle = async (entry: Contestant) => {
    if (!(await waitIdle(entry.child.pid, 10_000)))
      progress(`${label(entry.kind)}: still busy 10 s after a run`);
  };
  try {
    for (const kind of kinds) {
      const runDir = join(workDir, `${scenario}-${kind}-${round}`);
      mkdirSync(runDir, { recursive: true });
      progress(`${label(kind)}: starting and checking ...`);
      try {
        live.push(await contestantFor(scenario, kind, runDir));
      } catch (error) {
        outcomes.set(kind, { unavailable: (error as Error).message });
      }
    }
    for (const entry of live) {
      if (settings.warmup <= 0) continue;
      progress(`${label(entry.kind)}: warming up`);
      await entry.run(settings.warmup);
      await settle(entry);
    }
    progress(`${scenario}: measuring ${live.map((entry) => entry.kind).join(', ')} in ${slices} slices`);
    for (let slice = 0; slice < slices; slice++) {
      for (let turn = 0; turn < live.length; turn++) {
        const entry = live[(slice + turn) % live.length]!;
        const measured = await entry.run(settings.duration / slices);
        entry.slices.push(measured);
        await settle(entry);
      }
    }
    for (const entry of live) outcomes.set(entry.kind, combine(entry.slices));
  } catch (error) {
    for (const entry of live) outcomes.set(entry.kind, { unavailable: (error as Error).message });
  } finally {
    for (const entry of live) {
      await untrack(entry.child);
      removeDatabases(entry.runDir);
    }
  }
  return outcomes;
}

function removeDatabases(runDir: string): void {
  for (const name of readdirSync(runDir)) {
    if (/\.db(-wal|-shm)?$/.test(name)) rmSync(join(runDir, name), { force: true });
  }
}

/** Above this share of one core used by other processes, a run is flagged as disturbed. */
const contentionPercent = 15;

const formatRate = (rate: number): string => (rate >= 100 ? rate.toFixed(0) : rate.toFixed(1));
const formatMs = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(1) : '-');

function rateOf(outcome: Outcome | undefined): number | undefined {
  return outcome !== undefined && 'measured' in outcome ? outcome.measured.rate : undefined;
}

function ratio(numerator: number | undefined, denominator: number | undefined): string {
  if (numerator === undefined || denominator === undefined || denominator <= 0) return '-';
  return (numerator / denominator).toFixed(2);
}

function pad(cells: string[], widths: number[]): string {
  return cells
    .map((cell, index) => cell.padEnd(widths[index]!))
    .join('  ')
    .trimEnd();
}

async function main(): Promise<void> {
  const stop = () => {
    killAllTrackedSync();
    process.exit(130);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Children run in their own process groups; never leave one behind, whatever ends the harness.
  process.on('exit', killAllTrackedSync);

  progress(
    `node ${process.version}, ${cpus().length} CPUs (1-min load average ${loadavg()[0]!.toFixed(2)}), ` +
      `${settings.connections} connections, ${settings.warmup} s warm-up + ${settings.duration} s measured per run; ` +
      `logs in ${workDir}`,
  );
  const runs = new Map<Scenario, Map<ResourceKind, Outcome[]>>();
  const ownReports: string[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    for (const scenario of settings.scenarios) {
      if (scenario === 'startup') {
        // Gatehouse and the peer started again and again (lib/startup.ts); once, whatever the rounds.
        if (round > 1) continue;
        const runDir = join(workDir, scenario);
        mkdirSync(runDir, { recursive: true });
        try {
          ownReports.push(
            ...(await measureStartup({
              gatehouseBin,
              gatehouseConfig: settings.gatehouseConfig,
              benchDir,
              repoRoot,
              runDir,
              progress,
            })),
          );
        } catch (error) {
          progress(`startup: unavailable: ${(error as Error).message}`);
          ownReports.push('RESULT startup unavailable', 'RESULT idle_rss unavailable');
        }
        continue;
      }
      if (scenario === 'refresh_token_pg') {
        // Gatehouse alone, one node against three on PostgreSQL (lib/refresh-pg.ts); once, whatever the rounds.
        if (round > 1) continue;
        const runDir = join(workDir, scenario);
        mkdirSync(runDir, { recursive: true });
        try {
          ownReports.push(
            ...(await measureRefreshPg({
              gatehouseBin,
              gatehouseConfig: settings.gatehouseConfig,
              repoRoot,
              runDir,
              connections: settings.connections,
              warmup: settings.warmup,
              duration: settings.duration,
              progress,
            })),
          );
        } catch (error) {
          progress(`refresh_token_pg: unavailable: ${(error as Error).message}`);
          ownReports.push(
            `RESULT refresh_token_pg_1node unavailable`,
            `RESULT refresh_token_pg_3nodes unavailable`,
          );
        }
        continue;
      }
      let byTarget = runs.get(scenario);
      if (byTarget === undefined) {
        byTarget = new Map();
        runs.set(scenario, byTarget);
      }
      const kinds = settings.targets.filter(
        (kind) => !(scenario === 'login' && kind === 'peer') && (kind !== 'floor' || hasFloor(scenario)),
      );
      const record = (kind: ResourceKind, outcome: Outcome) => {
        const label = `${scenario} / ${kind}${settings.rounds > 1 ? ` (round ${round})` : ''}`;
        if ('measured' in outcome) {
          const { measured } = outcome;
          progress(`${label}: ${formatRate(measured.rate)} ${units[scenario]}, ${measured.errors} errors`);
          if (outcome.cpu !== undefined && outcome.cpu.others > contentionPercent) {
            progress(`  other processes used ${outcome.cpu.others.toFixed(0)}% of a core during this run`);
          }
        } else {
          progress(`${label}: unavailable: ${outcome.unavailable}`);
        }
        byTarget.set(kind, [...(byTarget.get(kind) ?? []), outcome]);
      };
      const outcomes = await measureInterleaved(scenario, kinds, round);
      for (const kind of kinds) record(kind, outcomes.get(kind)!);
    }
  }
  // Only the throughput scenarios have a table (startup and refresh_token_pg print their own lines).
  if (runs.size > 0) report(runs);
  for (const line of ownReports) console.log(line);
}

/** The run of median rate among the measured rounds (the first failure when none was measured). */
function median(outcomes: Outcome[]): Outcome {
  const measured = outcomes
    .filter((outcome): outcome is Extract<Outcome, { measured: LoadResult }> => 'measured' in outcome)
    .sort((a, b) => a.measured.rate - b.measured.rate);
  return measured[Math.floor((measured.length - 1) / 2)] ?? outcomes[0]!;
}

function report(runs: Map<Scenario, Map<ResourceKind, Outcome[]>>): void {
  const outcomes = new Map<Scenario, Map<ResourceKind, Outcome>>();
  const errorsByScenario = new Map<Scenario, number>();
  const details: string[] = [];
  for (const [scenario, byTarget] of runs) {
    const chosen = new Map<ResourceKind, Outcome>();
    let errors = 0;
    for (const [kind, rounds] of byTarget) {
      chosen.set(kind, median(rounds));
      rounds.forEach((outcome, index) => {
        const label = `  ${scenario} / ${kind}${rounds.length > 1 ? ` (round ${index + 1})` : ''}`;
        if ('measured' in outcome) {
          errors += outcome.measured.errors;
          if (outcome.measured.failures.size > 0) {
            const reasons = [...outcome.measured.failures].map(([reason, count]) => `${reason} x${count}`);
            details.push(`${label}: ${reasons.join(', ')}`);
          }
        } else {
          details.push(`${label}: not measured: ${outcome.unavailable}`);
        }
      });
    }
    outcomes.set(scenario, chosen);
    errorsByScenario.set(scenario, errors);
  }

  const headers = ['scenario', 'server', 'rate', 'unit', 'ok', 'errors', 'p50 ms', 'p99 ms', 'srv cpu'];
  headers.push('bench cpu', 'other cpu');
  const widths = [24, 9, 7, 11, 7, 6, 7, 7, 7, 9, 9];
  const lines = [
    pad(headers, widths),
    pad(
      headers.map((cell) => '-'.repeat(cell.length)),
      widths,
    ),
  ];
  const percent = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(0)}%`);
  let disturbed = false;
  for (const [scenario, byTarget] of outcomes) {
    for (const [kind, outcome] of byTarget) {
      if ('measured' in outcome) {
        const m = outcome.measured;
        if (outcome.cpu !== undefined && outcome.cpu.others > contentionPercent) disturbed = true;
        lines.push(
          pad(
            [
              scenario,
              kind,
              formatRate(m.rate),
              units[scenario],
              String(m.ok),
              String(m.errors),
              formatMs(m.latencyP50),
              formatMs(m.latencyP99),
              percent(outcome.cpu?.server),
              percent(outcome.cpu?.harness),
              percent(outcome.cpu?.others),
            ],
            widths,
          ),
        );
      } else {
        lines.push(pad([scenario, kind, '-', units[scenario], '-', '-', '-', '-', '-', '-', '-'], widths));
      }
    }
  }
  console.log('');
  console.log(lines.join('\n'));
  if (details.length > 0) console.log(`\nerrors and unavailable runs:\n${details.join('\n')}`);
  if (settings.rounds > 1)
    console.log(`(each row is the median of ${settings.rounds} rounds; errors count every round)`);
  console.log(
    '(latency is per HTTP request; cpu is % of one core: the server process, this harness (the load\n' +
      ' generator), and all other processes; for the login ceiling, srv cpu is the argon2 process)',
  );
  if (disturbed) {
    console.log(
      `WARNING: other processes used more than ${contentionPercent}% of a core during some runs; ` +
        'those numbers measured contention too.',
    );
  }
  console.log('');

  for (const [scenario, byTarget] of outcomes) {
    const gatehouse = rateOf(byTarget.get('gatehouse'));
    const peer = scenario === 'login' ? undefined : rateOf(byTarget.get('peer'));
    const ceiling = rateOf(byTarget.get('ceiling'));
    const errors = errorsByScenario.get(scenario) ?? 0;
    const show = (rate: number | undefined) => (rate === undefined ? '-' : formatRate(rate));
    // Scenarios with a framework floor report it last.
    const floor = hasFloor(scenario) ? ` floor=${show(rateOf(byTarget.get('floor')))}` : '';
    console.log(
      `RESULT ${scenario} gatehouse=${show(gatehouse)} peer=${show(peer)} ceiling=${show(ceiling)} ` +
        `ratio_peer=${ratio(gatehouse, peer)} ratio_ceiling=${ratio(gatehouse, ceiling)} errors=${errors}${floor}`,
    );
  }
}

await main();
