/**
 * The startup scenario: how long a server takes from the spawn of its `node` process to its first
 * answer, and how much memory it holds once idle, Gatehouse against the peer. Both are started and
 * measured the same way: plain `node` on compiled JavaScript (no tsx), a free loopback port, output to a
 * log file; the clock starts just before the spawn and stops at the first answer of a poll repeated every
 * few milliseconds; then, after the server has been left idle for a while, its resident set size
 * (VmRSS) is read from /proc. Gatehouse is `gatehouse serve` (packages/server/bin/gatehouse.js, built
 * by `npm run bench`) with the bench config and a fresh SQLite file, timed to its first 200 from
 * /healthz; the peer is servers/peer.ts compiled by tsc into bench/dist/, timed to its first 200 from
 * its discovery document (oidc-provider has no health route; discovery is its first real answer). The
 * runs alternate between the two and the medians are reported.
 *
 * Environment: BENCH_STARTUP_RUNS (default 5), BENCH_STARTUP_IDLE (seconds before reading RSS, default 3).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { ChildServer, freePort, track, untrack } from './children.ts';

export interface StartupSettings {
  gatehouseBin: string;
  gatehouseConfig: string;
  benchDir: string;
  repoRoot: string;
  runDir: string;
  progress(message: string): void;
}

interface Sample {
  /** Milliseconds from the spawn to the first answer. */
  startup: number;
  /** Resident set size once idle, MB. */
  rss: number;
}

type Kind = 'gatehouse' | 'peer';

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] || fallback);
  if (!Number.isFinite(value) || value < 1) throw new Error(`${name} must be a number >= 1`);
  return value;
}

/** Compiles servers/peer.ts (and what it imports) to JavaScript in bench/dist/, without type checking. */
function compilePeer(settings: StartupSettings): string {
  const outDir = join(settings.benchDir, 'dist');
  execFileSync(
    process.execPath,
    [
      join(settings.repoRoot, 'node_modules/typescript/bin/tsc'),
      '--outDir',
      outDir,
      '--rootDir',
      settings.benchDir,
      '--module',
      'nodenext',
      '--target',
      'es2023',
      '--rewriteRelativeImportExtensions',
      '--noCheck',
      '--skipLibCheck',
      join(settings.benchDir, 'servers/peer.ts'),
    ],
    { stdio: 'pipe' },
  );
  return join(outDir, 'servers/peer.js');
}

/** Resident set size of a process, MB (Linux /proc). */
function residentMegabytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** Polls `url` every few milliseconds until it answers 200; fails when the child exits or after 60 s. */
async function firstAnswer(url: string, child: ChildServer): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    child.assertRunning();
    await delay(5);
  }
  throw new Error(`${child.name} did not answer ${url} within 60 s; see ${child.logFile}`);
}

async function measureOnce(
  kind: Kind,
  run: number,
  settings: StartupSettings,
  peerScript: string,
  idleSeconds: number,
): Promise<Sample> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const dir = join(settings.runDir, `${kind}-${run}`);
  mkdirSync(dir, { recursive: true });
  let args: string[];
  let env: Record<string, string> = {};
  let url: string;
  if (kind === 'gatehouse') {
    const config = parseYaml(readFileSync(settings.gatehouseConfig, 'utf8')) as {
      issuer: string;
      server: { port: number };
      storage: { path: string };
    };
    config.issuer = baseUrl;
    config.server.port = port;
    config.storage.path = join(dir, 'gatehouse.db');
    const configFile = join(dir, 'gatehouse.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    args = [settings.gatehouseBin, 'serve', '--config', configFile];
    url = `${baseUrl}/healthz`;
  } else {
    args = [peerScript];
    env = { PORT: String(port) };
    url = `${baseUrl}/.well-known/openid-configuration`;
  }
  const started = performance.now();
  const child = track(
    ChildServer.start({ name: kind, args, env, cwd: settings.repoRoot, logFile: join(dir, `${kind}.log`) }),
  );
  try {
    await firstAnswer(url, child);
    const startup = performance.now() - started;
    await delay(idleSeconds * 1000);
    return { startup, rss: residentMegabytes(child.pid!) };
  } finally {
    await untrack(child);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Runs the scenario and returns its two RESULT lines. */
export async function measureStartup(settings: StartupSettings): Promise<string[]> {
  const runs = Math.round(envNumber('BENCH_STARTUP_RUNS', 5));
  const idleSeconds = envNumber('BENCH_STARTUP_IDLE', 3);
  const peerScript = compilePeer(settings);
  const samples: Record<Kind, Sample[]> = { gatehouse: [], peer: [] };
  for (let run = 1; run <= runs; run++) {
    // Alternate which goes first, so a slow moment on the machine falls on both alike.
    const order: Kind[] = run % 2 === 1 ? ['gatehouse', 'peer'] : ['peer', 'gatehouse'];
    for (const kind of order) {
      const sample = await measureOnce(kind, run, settings, peerScript, idleSeconds);
      samples[kind].push(sample);
      settings.progress(
        `startup / ${kind} (run ${run}): ${sample.startup.toFixed(0)} ms, idle RSS ${sample.rss.toFixed(1)} MB`,
      );
    }
  }
  const startup = (kind: Kind) => median(samples[kind].map((sample) => sample.startup));
  const rss = (kind: Kind) => median(samples[kind].map((sample) => sample.rss));
  return [
    `RESULT startup gatehouse=${startup('gatehouse').toFixed(0)} peer=${startup('peer').toFixed(0)} ` +
      `ratio_peer=${(startup('gatehouse') / startup('peer')).toFixed(2)} runs=${runs}`,
    `RESULT idle_rss gatehouse=${rss('gatehouse').toFixed(1)} peer=${rss('peer').toFixed(1)} ` +
      `ratio_peer=${(rss('gatehouse') / rss('peer')).toFixed(2)} runs=${runs}`,
  ];
}
