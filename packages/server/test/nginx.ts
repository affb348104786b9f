/**
 * nginx (Debian's `nginx` package) in a child process for a test: in the foreground, on loopback ports,
 * with its own prefix folder for the configuration, files, pid, logs and temporary files. Run as root, it
 * is started as `nobody`, so it never holds privileges; it only needs high ports.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The nginx executable, or an error saying how to install it. */
export function nginxExecutable(): string {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const folder of folders) {
    const candidate = join(folder, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  throw new Error(
    "nginx is not installed: the deployment test runs Debian's nginx (apt-get install -y nginx; .ci/run installs it)",
  );
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The uid and gid of `nobody`, when this process runs as root. */
function unprivileged(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export class Nginx {
  private constructor(
    readonly prefix: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  /**
   * Writes `files` (name -> content) into a fresh prefix folder, wraps `http` (the contents of the http
   * block: upstreams and servers) in a main configuration of its own, and starts nginx; resolves once
   * `port` accepts connections. Requests are logged to `access.log` as `<upstream addresses> <status>`.
   */
  static async start(
    http: (prefix: string) => string,
    port: number,
    files: Record<string, string>,
  ): Promise<Nginx> {
    const executable = nginxExecutable();
    const prefix = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(prefix, name), content);
    const main = [
      'daemon off;',
      'worker_processes 1;',
      `pid ${prefix}/nginx.pid;`,
      `error_log ${prefix}/error.log warn;`,
      'events { worker_connections 128; }',
      'http {',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (kind) => `  ${kind}_temp_path ${prefix}/${kind}_temp;`,
      ),
      "  log_format upstreams '$upstream_addr $status';",
      `  access_log ${prefix}/access.log upstreams;`,
      http(prefix),
      '}',
    ].join('\n');
    writeFileSync(join(prefix, 'nginx.conf'), main);
    const user = unprivileged();
    if (user !== undefined) {
      chownSync(prefix, user.uid, user.gid);
      for (const name of readdirSync(prefix)) chownSync(join(prefix, name), user.uid, user.gid);
    }
    const child = spawn(
      executable,
      ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(user ?? {}),
      },
    );
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const nginx = new Nginx(prefix, child, exited);
    for (let attempt = 0; attempt < 200; attempt++) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `nginx exited with ${child.exitCode ?? child.signalCode}: ${output}${nginx.errorLog()}`,
        );
      }
      if (await accepts(port)) return nginx;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const log = nginx.errorLog();
    await nginx.stop();
    throw new Error(`nginx did not listen on port ${port}: ${output}${log}`);
  }

  private read(name: string): string {
    try {
      return readFileSync(join(this.prefix, name), 'utf8');
    } catch {
      return '';
    }
  }

  errorLog(): string {
    return this.read('error.log');
  }

  /** The ports of the upstream servers the logged requests went to (nginx writes a line per request). */
  upstreamPorts(): Set<number> {
    return new Set(
      [...this.read('access.log').matchAll(/127\.0\.0\.1:(\d+)/g)].map((match) => Number(match[1])),
    );
  }

  /** Fast shutdown (SIGTERM), waits for the master process to exit, and removes the prefix folder. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    rmSync(this.prefix, { recursive: true, force: true });
  }
}
