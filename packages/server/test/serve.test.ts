/**
 * `gatehouse serve` as a person or a log collector sees it, run as the real executable in a child process:
 * log lines arrive when they happen on a quiet server (no later requests push them out), a terminal-style
 * readable format on request, and a start banner whose sign-in URL and curl commands work as printed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceAuth, testConfig, webSecret } from './helpers.ts';
import { FetchBrowser, freePort } from './interop-helpers.ts';
import { gatehouseCommand } from './processes.ts';

/** An upper bound for a line to arrive, far above the one-second flush: a fresh tsx compile on a busy machine. */
const arrival = 90_000;

/** A `gatehouse serve` child whose standard output is read line by line. */
class Serving {
  readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  private errors = '';
  private constructor(private readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.errors += chunk;
    });
  }

  static start(configFile: string, ...args: string[]): Serving {
    const child = spawn(process.execPath, [...gatehouseCommand, 'serve', '--config', configFile, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Serving(child);
  }

  /** The first line (in order) that satisfies `matches`, waiting for it without sending anything. */
  async line(matches: (line: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + arrival;
    for (;;) {
      const found = this.lines.find(matches);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) {
        throw new Error(`no ${what} line arrived; output so far:\n${this.lines.join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** JSON log records seen so far (the banner lines are plain text). */
  records(): Array<Record<string, unknown>> {
    return this.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
  }

  /** SIGTERM, then waits until the process has exited and its output has been read to the end. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const closed = new Promise((resolve) => this.child.once('close', resolve));
    this.child.kill('SIGTERM');
    await closed;
  }

  /** Resolves with the exit code once the process has ended by itself. */
  exitCode(): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  stderr(): string {
    return this.errors;
  }
}

async function configFile(
  overrides: Record<string, unknown> = {},
): Promise<{ file: string; issuer: string }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-serve-')), 'gatehouse.json');
  writeFileSync(
    file,
    JSON.stringify(
      testConfig({ issuer, server: { host: '127.0.0.1', port }, logging: { level: 'info' }, ...overrides }),
    ),
  );
  return { file, issuer };
}

function shell(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}

const running: Serving[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((serving) => serving.stop()));
});

describe('gatehouse serve', { timeout: 240_000 }, () => {
  it('writes log lines when they happen, without later requests to push them out', async () => {
    const { file, issuer } = await configFile();
    const serving = Serving.start(file);
    running.push(serving);
    const listening = await serving.line(
      (line) => line.startsWith('{') && line.includes(`Server listening at ${issuer}`),
      'Server listening',
    );
    expect(JSON.parse(listening)).toMatchObject({ level: 30, msg: `Server listening at ${issuer}` });

    // One request, then silence: its audit record must still arrive.
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: serviceAuth,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(200);
    const audit = await serving.line((line) => line.includes('"audit":"token_issued"'), 'token_issued audit');
    expect(JSON.parse(audit)).toMatchObject({
      audit: 'token_issued',
      client_id: 'service-a',
      grant_type: 'client_credentials',
    });
    expect(serving.records().some((record) => record.msg === 'request')).toBe(true);

    // Lines logged while shutting down are written out before the process exits.
    await serving.stop();
    expect(serving.records()).toContainEqual(expect.objectContaining({ msg: 'shutting down' }));
  });

  it('refuses an unknown --log-format, naming the option', async () => {
    const { file } = await configFile();
    const serving = Serving.start(file, '--log-format', 'xml');
    running.push(serving);
    expect(await serving.exitCode()).toBe(2);
    expect(serving.stderr()).toContain('--log-format must be one of auto, json, pretty');
  });

  it('writes readable lines instead of JSON with --log-format pretty', async () => {
    const { file, issuer } = await configFile();
    const serving = Serving.start(file, '--log-format', 'pretty');
    running.push(serving);
    const listening = await serving.line(
      (line) => line.includes(`Server listening at ${issuer}`),
      'Server listening',
    );
    expect(listening.startsWith('{')).toBe(false);
    expect(listening).toMatch(/INFO.*Server listening at/);
  });

  it('prints a sign-in URL and curl commands that work as printed, and the management address', async () => {
    const { file, issuer } = await configFile();
    const serving = Serving.start(file, '--show-demo-credentials');
    running.push(serving);
    await serving.line((line) => line.startsWith('  A token for a service: '), 'token hint');
    const banner = serving.lines.join('\n');
    const signIn = /^ {2}Sign in: (\S+)$/m.exec(banner)?.[1];
    const exchange = /^ {2}(curl .*grant_type=authorization_code.*)$/m.exec(banner)?.[1];
    const tokenCurl = /^ {2}A token for a service: (curl .*)$/m.exec(banner)?.[1];
    const management = /^Management \(metrics, health\): (\S+)$/m.exec(banner)?.[1];
    expect(signIn).toBeDefined();
    expect(exchange).toContain(`web-app:${webSecret}`);
    // The test configuration's first client-credentials client is post-app (client_secret_post).
    expect(tokenCurl).toContain(`-d client_id=post-app -d client_secret=${webSecret}`);

    // The URL leads through the sign-in and consent pages back to the client with a code.
    const { location } = await new FetchBrowser(issuer).walk(signIn!);
    const code = new URL(location).searchParams.get('code');
    expect(code).toBeTruthy();
    const tokens = JSON.parse(await shell(exchange!.replace('code=CODE', `code=${code}`)));
    expect(tokens).toMatchObject({ token_type: 'Bearer' });
    expect(tokens.id_token).toEqual(expect.any(String));
    expect(JSON.parse(await shell(tokenCurl!))).toMatchObject({ token_type: 'Bearer' });

    // Metrics on the management listener; the issuer's port does not serve them.
    const metrics = await fetch(management!);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('gatehouse_tokens_issued_total');
    expect((await fetch(`${issuer}/metrics`)).status).toBe(404);
  });

  it('prints a placeholder, not the secrets, without --show-demo-credentials', async () => {
    const { file } = await configFile();
    const serving = Serving.start(file);
    running.push(serving);
    await serving.line((line) => line.startsWith('  A token for a service: '), 'token hint');
    const banner = serving.lines.join('\n');
    expect(banner).toContain('-u web-app:CLIENT_SECRET');
    expect(banner).toContain('-d client_id=post-app -d client_secret=CLIENT_SECRET');
    expect(banner).not.toContain(webSecret);
  });
});
