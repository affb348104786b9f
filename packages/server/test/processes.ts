/**
 * The `gatehouse` executable in child processes: `serve` as a long-running server (one node of a
 * deployment), and one-shot commands (`migrate`, `client`, `user`, `keys`) with their output and exit code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The installed command (the compiled CLI), for files that name it, such as the systemd unit. */
export const gatehouseBin = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));

/**
 * `node` arguments that run the `gatehouse` command from its TypeScript sources (tsx, with `@gatehouse/*`
 * resolved to their sources), so tests never run a stale `dist/`; the compiled command is tested by
 * test/packaging.test.ts.
 */
export const gatehouseCommand = [
  '--conditions=@gatehouse/source',
  '--import',
  'tsx',
  fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)),
];

/** One `gatehouse serve` process. */
export class ServerProcess {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  /** Starts `gatehouse serve --config FILE` (with `env` added to this process's environment). */
  static async start(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
    const child = spawn(process.execPath, [...gatehouseCommand, 'serve', '--config', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node did not start: ${output}`)), 45_000);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /is listening on (http:\/\/[^\s]+?)\.? Issuer/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`node exited with ${code}: ${output}`));
      });
    });
    return new ServerProcess(url, child, exited);
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `gatehouse ...args` with `input` on stdin (closed at once when there is none). */
export function runGatehouse(args: string[], input = '', env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...gatehouseCommand, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
