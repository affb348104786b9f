/** The shared check for the services tests need: a missing one is named, with how to start it. */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { requireChromium, requireService } from '../test-services.ts';

/** A loopback port nothing listens on (opened, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('requireService', () => {
  it('names PostgreSQL, its address and how to start it when nothing answers', async () => {
    const port = await closedPort();
    await expect(requireService('postgres', `postgres://postgres@127.0.0.1:${port}/test`)).rejects.toThrow(
      new RegExp(
        `needs PostgreSQL at 127\\.0\\.0\\.1:${port}.*ECONNREFUSED.*pg_ctlcluster.*GATEHOUSE_TEST_POSTGRES`,
      ),
    );
  });

  it('names Redis and how to start it when nothing answers', async () => {
    const port = await closedPort();
    await expect(requireService('redis', `redis://127.0.0.1:${port}`)).rejects.toThrow(
      /needs Redis at 127\.0\.0\.1:\d+.*redis-server.*GATEHOUSE_TEST_REDIS/,
    );
  });

  it('resolves when the service listens', async () => {
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      await expect(requireService('redis', `redis://127.0.0.1:${port}`)).resolves.toBeUndefined();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('requireChromium', () => {
  it('names Chromium, the path tried and CHROMIUM_PATH when the executable is missing', () => {
    expect(() => requireChromium('/nonexistent/chromium')).toThrow(
      /needs Chromium at \/nonexistent\/chromium.*apt-get install chromium.*CHROMIUM_PATH/,
    );
  });

  it('returns the path of an executable', () => {
    expect(requireChromium(process.execPath)).toBe(process.execPath);
  });
});
