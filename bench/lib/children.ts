/**
 * Child processes for the servers under test. Each server runs in its own process so the load generator
 * (autocannon, in the harness process) never shares an event loop with it. A child gets a free loopback
 * port, its output goes to a log file (printed on failure), readiness is an HTTP poll, and stopping kills
 * the child's own process group so nothing it spawned outlives the run.
 *
 * With BENCH_CPU_PROFILE=<dir>, every child runs with node's --cpu-prof and writes its profile when it
 * exits into <dir>/<child name>/ (the harness process itself is not profiled).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * `node` arguments that run a TypeScript file through tsx, with `@gatehouse/*` imports resolved to their
 * sources (the `@gatehouse/source` export condition) rather than to a possibly stale `dist/`.
 */
export const tsxArgs = ['--conditions=@gatehouse/source', '--import', 'tsx'];

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it; the child binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}

export interface StartOptions {
  name: string;
  /** Arguments after `node`. */
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  logFile: string;
  /** Opens an IPC channel (process.send in the child), for children driven by messages. */
  ipc?: boolean;
}

export class ChildServer {
  private exited = false;
  private exitCode: number | string | null = null;

  private constructor(
    readonly name: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.exitCode = code ?? signal;
    });
  }

  static start(options: StartOptions): ChildServer {
    const log = openSync(options.logFile, 'a');
    const profileDir = process.env.BENCH_CPU_PROFILE;
    const args = [...options.args];
    if (profileDir !== undefined && profileDir !== '') {
      const dir = join(profileDir, options.name);
      mkdirSync(dir, { recursive: true });
      args.unshift('--cpu-prof', `--cpu-prof-dir=${dir}`);
    }
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: options.ipc ? ['ignore', log, log, 'ipc'] : ['ignore', log, log],
      detached: true,
    });
    return new ChildServer(options.name, options.logFile, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends `message` over IPC and resolves with the child's next message (see StartOptions.ipc). */
  request<T>(message: object, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} did not answer within ${timeoutMs} ms; see ${this.logFile}`));
      }, timeoutMs);
      const onMessage = (reply: unknown) => {
        cleanup();
        resolve(reply as T);
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`${this.name} exited (${String(this.exitCode)}); see ${this.logFile}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
      if (this.exited) onExit();
      else this.child.send(message);
    });
  }

  /** Throws when the child has exited (for callers polling it themselves). */
  assertRunning(): void {
    if (this.exited) throw new Error(`${this.name} exited (${String(this.exitCode)}); see ${this.logFile}`);
  }

  /** Polls `url` until it answers (any HTTP status below 500) or the child exits or time runs out. */
  async waitReady(url: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited)
        throw new Error(
          `${this.name} exited (${String(this.exitCode)}) before it was ready; see ${this.logFile}`,
        );
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.status < 500) return;
      } catch {
        // not listening yet
      }
      await delay(100);
    }
    throw new Error(`${this.name} was not ready at ${url} within ${timeoutMs} ms; see ${this.logFile}`);
  }

  /** Waits for the child to exit by itself (for one-shot children) and returns its exit code. */
  async waitExit(timeoutMs: number): Promise<number | string | null> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exited && Date.now() < deadline) await delay(50);
    if (!this.exited) {
      await this.stop();
      throw new Error(`${this.name} did not finish within ${timeoutMs} ms; see ${this.logFile}`);
    }
    return this.exitCode;
  }

  /** SIGTERM to the child's process group, SIGKILL after a grace period. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const group = -this.child.pid;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(group, name);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (!this.exited && Date.now() < deadline) await delay(50);
    if (!this.exited) signal('SIGKILL');
    while (!this.exited) await delay(20);
  }
}

/** Stops every child still running when the harness is interrupted. */
const running = new Set<ChildServer>();

export function track(child: ChildServer): ChildServer {
  running.add(child);
  return child;
}

export async function untrack(child: ChildServer): Promise<void> {
  running.delete(child);
  await child.stop();
}

export function killAllTrackedSync(): void {
  for (const child of running) {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  running.clear();
}
