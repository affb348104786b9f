/**
 * The services some tests need (PostgreSQL, Redis, Chromium): where they are, and one check per service
 * that fails with a message naming the missing service and how to start it, instead of a bare
 * `ECONNREFUSED` deep inside a test. Call it in the `beforeAll` of the suite that needs the service.
 * GATEHOUSE_TEST_POSTGRES, GATEHOUSE_TEST_REDIS and CHROMIUM_PATH point elsewhere.
 */
import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { type Browser, chromium } from 'playwright-core';

export const postgresUrl = process.env.GATEHOUSE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const redisUrl = process.env.GATEHOUSE_TEST_REDIS ?? 'redis://127.0.0.1:6379';
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const howToStart = {
  postgres:
    'start it (Debian: `pg_ctlcluster <version> main start`; `.ci/run` starts it), or set GATEHOUSE_TEST_POSTGRES to the URL of a database with trust authentication',
  redis:
    'start it (`redis-server --daemonize yes --port 6379`; `.ci/run` starts it), or set GATEHOUSE_TEST_REDIS to a redis:// URL',
} as const;

/** Resolves when something accepts TCP connections at `host:port`; rejects with the socket's error. */
function probe(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** Fails, naming the service and how to start it, when nothing listens where `url` says. */
export async function requireService(
  service: 'postgres' | 'redis',
  url = service === 'postgres' ? postgresUrl : redisUrl,
  timeoutMs = 5000,
): Promise<void> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port || (service === 'postgres' ? 5432 : 6379));
  const name = service === 'postgres' ? 'PostgreSQL' : 'Redis';
  try {
    await probe(host, port, timeoutMs);
  } catch (error) {
    throw new Error(
      `This test needs ${name} at ${target.host}, which does not answer (${(error as Error).message}): ${howToStart[service]}.`,
    );
  }
}

/** The Chromium executable for playwright-core; fails, saying how to install it, when it is missing. */
export function requireChromium(path = chromiumPath): string {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(
      `This test needs Chromium at ${path}, which is not there: install it (\`apt-get install chromium\`; \`.ci/run\` does), or set CHROMIUM_PATH to a Chromium or Chrome executable.`,
    );
  }
}

/** Headless Chromium for browser tests: no sandbox (containers), no background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: requireChromium(),
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run'],
  });
}
