/**
 * The packages as a user gets them: built, packed with `npm pack`, installed from the tarballs into a
 * fresh project outside the repository, then used from plain JavaScript (ESM), from CommonJS through
 * `require()` (Node 20.19+ loads ESM that way) and from TypeScript (`module: nodenext`, `strict`,
 * `skipLibCheck: false`), every entry point of every package; and the packed server, started with
 * `npx gatehouse serve` on a fresh SQLite file, issues a token that the packed resource library verifies.
 *
 * Needs npm and the registry (or npm's cache: installs prefer it). The one native dependency,
 * better-sqlite3, is not compiled again when the repository holds a build of the same version for this
 * Node: its compiled module is copied (same version, same Node binary, same machine).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryPointSources, entryPoints } from './entry-points.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const packages = ['jose-rules', 'client', 'resource', 'bff', 'server'] as const;
/** What a TypeScript user of the framework adapters and stores installs beside them. */
const companions = [
  'express',
  'fastify',
  '@types/node',
  '@types/express',
  '@types/better-sqlite3',
  '@types/pg',
];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a command that is not installed fails with a message naming it. */
function run(command: string, args: string[], cwd: string, timeout = 600_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`the packaging test needs \`${command}\` on the PATH; it was not found`));
          return;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a command that must succeed. */
async function succeed(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.code}):\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

function version(name: string): string {
  const file = join(repoRoot, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

interface PackedFile {
  path: string;
}
interface Packed {
  name: string;
  filename: string;
  files: PackedFile[];
}

let workDir: string;
let project: string;
let packed: Packed[];
const children: ChildProcess[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'gatehouse-packaging-'));
  project = join(workDir, 'consumer');
  mkdirSync(project);
  await succeed('npm', ['run', 'build'], repoRoot);
  const workspaces = packages.flatMap((name) => ['--workspace', `@gatehouse/${name}`]);
  packed = JSON.parse(
    await succeed(
      'npm',
      ['pack', ...workspaces, '--pack-destination', workDir, '--json', '--ignore-scripts'],
      repoRoot,
    ),
  ) as Packed[];
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  // Scripts are skipped: the only install script among the dependencies is better-sqlite3's build.
  await succeed(
    'npm',
    [
      'install',
      ...packed.map((pack) => join(workDir, pack.filename)),
      ...companions.map((name) => `${name}@${version(name)}`),
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
    ],
    project,
  );
  const nativeModule = 'build/Release/better_sqlite3.node';
  const installed = join(project, 'node_modules/better-sqlite3');
  const built = join(repoRoot, 'node_modules/better-sqlite3', nativeModule);
  if (
    version('better-sqlite3') === JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version
  ) {
    mkdirSync(join(installed, 'build/Release'), { recursive: true });
    copyFileSync(built, join(installed, nativeModule));
  } else {
    await succeed('npm', ['rebuild', 'better-sqlite3'], project);
  }
}, 900_000);

afterAll(async () => {
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // The group has already exited.
    }
  }
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

describe('the packed packages', { timeout: 300_000 }, () => {
  it('hold dist/, README.md, LICENSE and package.json, no sources, tests or build state', () => {
    expect(packed.map((pack) => pack.name).sort()).toEqual(
      packages.map((name) => `@gatehouse/${name}`).sort(),
    );
    for (const pack of packed) {
      const paths = pack.files.map((file) => file.path);
      expect(paths).toEqual(
        expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js']),
      );
      expect(
        paths.filter(
          (path) => !/^(dist\/|bin\/gatehouse\.js$|LICENSE$|README\.md$|package\.json$)/.test(path),
        ),
      ).toEqual([]);
      expect(paths.filter((path) => path.endsWith('.tsbuildinfo'))).toEqual([]);
      expect(paths.filter((path) => path.endsWith('.js') && path.startsWith('dist/')).length).toBeGreaterThan(
        0,
      );
      for (const js of paths.filter((path) => path.startsWith('dist/') && path.endsWith('.js'))) {
        // The server's CLI bundle (dist/bundle/, what bin/gatehouse.js runs) is no API: maps, no types.
        if (!js.startsWith('dist/bundle/')) expect(paths).toContain(js.replace(/\.js$/, '.d.ts'));
        expect(paths).toContain(`${js}.map`);
      }
      if (pack.name === '@gatehouse/server') expect(paths).toContain('dist/bundle/main.js');
    }
  });

  it('load from plain JavaScript (ESM) with the exports of their sources', async () => {
    const script = `${entryPoints.map((name, index) => `import * as m${index} from '${name}';`).join('\n')}
console.log(JSON.stringify([${entryPoints.map((_, index) => `Object.keys(m${index}).sort()`).join(', ')}]));\n`;
    writeFileSync(join(project, 'esm.mjs'), script);
    const names = JSON.parse(await succeed('node', ['esm.mjs'], project)) as string[][];
    expect(Object.fromEntries(entryPoints.map((name, index) => [name, names[index]]))).toEqual(
      await sourceExports(),
    );
  });

  it('load from CommonJS through require()', async () => {
    const script = `const names = ${JSON.stringify(entryPoints)};
console.log(JSON.stringify(names.map((name) => Object.keys(require(name)).sort())));\n`;
    writeFileSync(join(project, 'cjs.cjs'), script);
    const names = JSON.parse(await succeed('node', ['cjs.cjs'], project)) as string[][];
    expect(Object.fromEntries(entryPoints.map((name, index) => [name, names[index]]))).toEqual(
      await sourceExports(),
    );
  });

  it('name the driver to install when PostgreSQL or Redis is configured without it', async () => {
    expect(existsSync(join(project, 'node_modules/pg'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/ioredis'))).toBe(false);
    const base = { issuer: 'http://127.0.0.1:1', server: { host: '127.0.0.1', port: 0 } };
    writeFileSync(
      join(project, 'postgres.json'),
      JSON.stringify({
        ...base,
        storage: { type: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test' },
      }),
    );
    const postgres = await run(
      'npx',
      ['--no-install', 'gatehouse', 'migrate', '--config', 'postgres.json'],
      project,
    );
    expect(postgres.code).toBe(2);
    expect(postgres.stderr).toContain(
      'storage type postgres needs the package pg, which is not installed: npm install pg',
    );
    expect(postgres.stderr).not.toMatch(/\n\s+at /);

    writeFileSync(
      join(project, 'redis.json'),
      JSON.stringify({
        ...base,
        storage: { type: 'sqlite', path: join(workDir, 'data', 'redis-check.db') },
        redis: { url: 'redis://127.0.0.1:6379' },
      }),
    );
    const redis = await run('npx', ['--no-install', 'gatehouse', 'serve', '--config', 'redis.json'], project);
    expect(redis.code).toBe(2);
    expect(redis.stderr).toContain(
      'redis needs the package ioredis, which is not installed: npm install ioredis',
    );
  });

  it('type-check from TypeScript with module nodenext, strict and skipLibCheck false', async () => {
    // The BFF's PostgreSQL and Redis stores are typed against their drivers, which a user of those
    // stores installs; installed only now, after the test above needed them absent (tests run in order).
    await succeed(
      'npm',
      [
        'install',
        `pg@${version('pg')}`,
        `ioredis@${version('ioredis')}`,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
      ],
      project,
    );
    const source = `${entryPoints.map((name, index) => `import * as m${index} from '${name}';`).join('\n')}
import type { AuthInfo, Verifier } from '@gatehouse/resource';
import type { GatehouseConfig } from '@gatehouse/server';
const verifier: Verifier = m2.createVerifier({ issuer: 'https://id.example.com', audience: 'orders-api' });
export async function subject(token: string): Promise<string | undefined> {
  const info: AuthInfo = await verifier.verifyAccessToken(token);
  return info.subject;
}
export type Config = GatehouseConfig;
export const modules = [${entryPoints.map((_, index) => `m${index}`).join(', ')}];\n`;
    writeFileSync(join(project, 'check.ts'), source);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2023',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['check.ts'],
      }),
    );
    const result = await run('node', [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', '.'], project);
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.code).toBe(0);
  });

  it('run as `npx gatehouse`: --version, then serve a token that the packed resource library verifies', async () => {
    const { version: serverVersion } = JSON.parse(
      readFileSync(join(repoRoot, 'packages/server/package.json'), 'utf8'),
    ) as { version: string };
    expect(await succeed('npx', ['--no-install', 'gatehouse', '--version'], project)).toBe(
      `${serverVersion}\n`,
    );

    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const secret = 'service-a-packaging-secret-0123456789abcdefghij';
    writeFileSync(
      join(project, 'gatehouse.json'),
      JSON.stringify({
        issuer,
        server: { host: '127.0.0.1', port },
        // A port the system chooses: the default 9464 may be taken on the machine running the tests.
        management: { port: 0 },
        storage: { type: 'sqlite', path: join(workDir, 'data', 'gatehouse.db') },
        apiScopes: [{ name: 'orders.read', description: 'Read your orders' }],
        apiResources: [
          { id: 'orders-api', uris: ['https://api.example.com/orders'], scopes: ['orders.read'] },
        ],
        clients: [
          {
            clientId: 'service-a',
            name: 'Service A',
            secret,
            grantTypes: ['client_credentials'],
            scopes: ['orders.read'],
            requireConsent: false,
          },
        ],
      }),
    );
    // Its own process group: npx runs gatehouse as a child of its own, and both must stop with the test.
    const child = spawn('npx', ['--no-install', 'gatehouse', 'serve', '--config', 'gatehouse.json'], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
      detached: true,
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk) => {
      output += String(chunk);
    });
    child.stderr!.on('data', (chunk) => {
      output += String(chunk);
    });
    await waitForHealth(`${issuer}/healthz`, child, () => output);

    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`service-a:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=orders.read',
    });
    expect(response.status).toBe(200);
    const { access_token: token } = (await response.json()) as { access_token: string };

    writeFileSync(
      join(project, 'verify.mjs'),
      `import { createVerifier } from '@gatehouse/resource';
const verifier = createVerifier({ issuer: process.argv[2], audience: 'orders-api' });
const info = await verifier.verifyAccessToken(process.argv[3]);
console.log(JSON.stringify({ clientId: info.clientId, scopes: [...info.scopes], format: info.format, iss: info.claims.iss }));\n`,
    );
    const verified = JSON.parse(await succeed('node', ['verify.mjs', issuer, token], project));
    expect(verified).toEqual({ clientId: 'service-a', scopes: ['orders.read'], format: 'jwt', iss: issuer });

    // A forged token (the signature of another token's payload) is refused by the same library.
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ iss: issuer, aud: 'orders-api' })).toString('base64url')}.${signature}`;
    const refused = await run('node', ['verify.mjs', issuer, forged], project);
    expect(refused.code).not.toBe(0);
    process.kill(-child.pid!, 'SIGTERM');
  });
});

/** The export names of every entry point's TypeScript source, as the repository's tests import them. */
async function sourceExports(): Promise<Record<string, string[]>> {
  const entries = await Promise.all(
    Object.entries(entryPointSources).map(
      async ([name, source]) => [name, Object.keys(await source()).sort()] as const,
    ),
  );
  return Object.fromEntries(entries);
}

/** Polls `url` until it answers 200; fails with the server's output when it exits or takes too long. */
async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gatehouse serve exited (${child.exitCode}):\n${output()}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gatehouse serve did not answer ${url}:\n${output()}`);
}
