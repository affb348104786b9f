/** The RFC 8252 loopback listener: one callback, then closed; 404 elsewhere; timeout and abort. */
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GatehouseClientError, openSystemBrowser, startLoopbackListener } from '../src/index.ts';

describe('loopback listener', () => {
  it('listens on 127.0.0.1 with an ephemeral port, takes exactly one callback and closes', async () => {
    const listener = await startLoopbackListener({ path: '/cb' });
    expect(listener.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/cb$/);
    const other = await fetch(listener.redirectUri.replace('/cb', '/favicon.ico'));
    expect(other.status).toBe(404);
    await other.text();
    const page = await fetch(`${listener.redirectUri}?code=abc&state=xyz`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('close this window');
    const callback = await listener.callback;
    expect(callback.searchParams.get('code')).toBe('abc');
    expect(callback.href).toBe(`${listener.redirectUri}?code=abc&state=xyz`);
    await listener.close();
    await expect(fetch(`${listener.redirectUri}?code=again`)).rejects.toThrow();
  });

  it('gives up after its timeout', async () => {
    const listener = await startLoopbackListener({ timeout: 50 });
    const error = await listener.callback.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatehouseClientError);
    expect((error as GatehouseClientError).code).toBe('timeout');
    await expect(fetch(listener.redirectUri)).rejects.toThrow();
  });

  it('is cancelled by an AbortSignal', async () => {
    const controller = new AbortController();
    const listener = await startLoopbackListener({ signal: controller.signal });
    controller.abort();
    await expect(listener.callback).rejects.toMatchObject({ code: 'aborted' });
  });
});

describe.runIf(process.platform === 'linux')('system browser', () => {
  it('hands the URL to xdg-open as a single argument', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-browser-'));
    const script = join(dir, 'xdg-open');
    await writeFile(
      script,
      `#!/bin/sh\nprintf '%s|%s' "$#" "$1" > "${dir}/opened.tmp" && mv "${dir}/opened.tmp" "${dir}/opened"\n`,
    );
    await chmod(script, 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      const url = 'http://127.0.0.1:3000/authorize?a=1&b=two words;$(id)';
      await openSystemBrowser(url);
      let opened: string | undefined;
      for (let attempt = 0; attempt < 100 && opened === undefined; attempt++) {
        opened = await readFile(join(dir, 'opened'), 'utf8').catch(() => undefined);
        if (opened === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(opened).toBe(`1|${url}`);
    } finally {
      process.env.PATH = path;
    }
  });
});
