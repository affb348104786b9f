/**
 * A store that cannot write: the SQLite file on a small tmpfs (mounted for this test; root only) filled
 * until writes fail answers 503 `temporarily_unavailable` with Retry-After (JSON on APIs, the HTML page on
 * pages), logs the real cause once per failed request, and /readyz reports not ready until writes succeed
 * again, without a restart. Start-up errors about the database name its path. PostgreSQL refusing
 * connections (its port closed behind a TCP relay) is 503 too, and recovers the same way.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../src/storage/index.ts';
import { dropSchema, postgresUrl, uniqueName } from './backends.ts';
import {
  buildServer,
  codeRequest,
  form,
  type GatehouseServer,
  logCapture,
  minimalPushedParams,
  parseConfig,
  pkcePair,
  testConfig,
  webAppAuth,
} from './helpers.ts';

const parBody = () => form(minimalPushedParams());

function pushAuthorization(server: GatehouseServer) {
  return server.app.inject({
    method: 'POST',
    url: '/par',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: webAppAuth,
    },
    payload: parBody(),
  });
}

/** Mounts a tmpfs of `size` at a new directory; the reason it cannot when it cannot. */
function mountTmpfs(size: string): { dir: string } | { reason: string } {
  if (process.getuid?.() !== 0) return { reason: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `mount -t tmpfs failed: ${(error as Error).message}` };
  }
}

describe('a full disk (an 8 MiB tmpfs)', () => {
  let mounted: { dir: string } | { reason: string } = { reason: 'not mounted yet' };
  let dir = '';
  let filler = '';
  const log = logCapture();
  let server: GatehouseServer | undefined;

  beforeAll(async () => {
    mounted = mountTmpfs('8m');
    if (!('dir' in mounted)) return;
    dir = mounted.dir;
    filler = join(dir, 'filler');
    server = await buildServer(
      parseConfig(
        testConfig({ storage: { path: join(dir, 'data', 'gatehouse.db') }, logging: { level: 'info' } }),
      ),
      { logStream: log.stream },
    );
  });
  afterAll(async () => {
    await server?.close();
    if (dir === '') return;
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Fills the file system: a file grown until the disk refuses another byte. */
  function fillDisk(): void {
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      closeSync(fd);
    }
  }

  it('answers 503 with Retry-After while writes fail, logs the cause, and recovers once space is freed', async (context) => {
    if ('reason' in mounted) context.skip(`no tmpfs: ${mounted.reason}`);
    const running = server as GatehouseServer;
    expect((await pushAuthorization(running)).statusCode).toBe(201);
    expect((await running.app.inject({ url: '/readyz' })).statusCode).toBe(200);

    fillDisk();
    // Writes that fit in pages SQLite already holds may still succeed: push until one does not.
    let failed: Awaited<ReturnType<typeof pushAuthorization>> | undefined;
    for (let attempt = 0; attempt < 5000 && failed === undefined; attempt++) {
      const answer = await pushAuthorization(running);
      if (answer.statusCode !== 201) failed = answer;
    }
    expect(failed, 'a write failed on the full disk').toBeDefined();
    expect(failed!.statusCode).toBe(503);
    expect(failed!.headers['retry-after']).toBeDefined();
    expect(JSON.parse(failed!.body)).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the service is temporarily unavailable; try again later',
    });
    // A page answers with the HTML error page.
    const page = await running.app.inject({ url: codeRequest(pkcePair()) });
    expect(page.statusCode).toBe(503);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['retry-after']).toBeDefined();

    const readiness = await running.app.inject({ url: '/readyz' });
    expect(readiness.statusCode).toBe(503);
    expect(readiness.headers['retry-after']).toBeDefined();

    const entries = log.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const errors = entries.filter((entry) => (entry.level as number) >= 50);
    expect(errors.length).toBeGreaterThan(0);
    expect(log.lines.join('\n')).not.toContain('cannot rollback');
    for (const entry of errors) {
      expect((entry.err as { code?: string }).code).toMatch(/^SQLITE_(FULL|IOERR)/);
    }
    // One error line per failed request: the request ids of the error lines are all different.
    const ids = errors.map((entry) => entry.request_id);
    expect(new Set(ids).size).toBe(ids.length);

    rmSync(filler);
    const recovered = await running.app.inject({ url: '/readyz' });
    expect(recovered.statusCode).toBe(200);
    expect((await pushAuthorization(running)).statusCode).toBe(201);
    expect((await running.app.inject({ url: codeRequest(pkcePair()) })).statusCode).toBe(303);
  });
});

describe('start-up errors about the database', () => {
  it('name the database file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bad-'));
    const path = join(dir, 'not-a-database.db');
    writeFileSync(path, 'this is not an SQLite database, it is plain text '.repeat(200));
    await expect(openStorage({ type: 'sqlite', path })).rejects.toThrow(path);
    const directory = join(dir, 'a-directory.db');
    mkdirSync(directory);
    await expect(buildServer(parseConfig(testConfig({ storage: { path: directory } })))).rejects.toThrow(
      directory,
    );
  });

  it('name the PostgreSQL server without its password', async () => {
    const closed = await closedPort();
    const url = `postgres://gatehouse:s3cret-pw@127.0.0.1:${closed}/gatehouse`;
    const failure = openStorage({ type: 'postgres', url, pool: { connectionTimeout: 5 } });
    await expect(failure).rejects.toThrow(`127.0.0.1:${closed}/gatehouse`);
    await expect(failure).rejects.not.toThrow('s3cret-pw');
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A TCP relay to PostgreSQL that can be shut (connections cut, port closed) and opened again on its port. */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async open(): Promise<void> {
    const target = new URL(postgresUrl);
    this.server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async shut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

describe('PostgreSQL refusing connections', () => {
  const relay = new Relay();
  const schema = uniqueName('gh_outage');
  let server: GatehouseServer;

  beforeAll(async () => {
    await relay.open();
    const url = new URL(postgresUrl);
    url.host = `127.0.0.1:${relay.port}`;
    server = await buildServer(
      parseConfig(
        testConfig({
          storage: { type: 'postgres', url: url.toString(), schema, pool: { connectionTimeout: 5 } },
        }),
      ),
    );
  });
  afterAll(async () => {
    await server?.close();
    await dropSchema(schema);
  });

  it('answers 503 while the database is unreachable and recovers when it is back', async () => {
    expect((await pushAuthorization(server)).statusCode).toBe(201);
    await relay.shut();
    const refused = await pushAuthorization(server);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'temporarily_unavailable' });
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    await relay.open();
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await pushAuthorization(server)).statusCode).toBe(201);
  });
});
