/**
 * Native apps (RFC 8252): the loopback interface redirect (§7.3). A listener on 127.0.0.1 with a port the
 * operating system picks receives exactly one callback on its path and closes; the authorization request
 * opens in the system browser (§6, never an embedded web view, §8.12); PKCE protects the code (§8.1).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthorizationRequestOptions } from './authorization-code.ts';
import { GatehouseClientError } from './errors.ts';
import type { OAuthClient } from './oauth-client.ts';
import type { TokenSet } from './token-endpoint.ts';

export interface LoopbackListener {
  /** `http://127.0.0.1:<port><path>`: register `http://127.0.0.1<path>` with the server. */
  redirectUri: string;
  /** The full callback URL, once the browser arrives. */
  callback: Promise<URL>;
  /** Stops listening (also done after the callback). */
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** Path of the redirect URI; default `/callback`. */
  path?: string;
  /** Milliseconds to wait for the browser; default 300 000. */
  timeout?: number;
  signal?: AbortSignal;
  /** The page shown in the browser after the callback. */
  successPage?: string;
}

const defaultPage =
  '<!doctype html><meta charset="utf-8"><title>Signed in</title><p>You can close this window and return to the app.</p>';

/** Listens on 127.0.0.1 (ephemeral port) for one authorization response. */
export async function startLoopbackListener(options: LoopbackOptions = {}): Promise<LoopbackListener> {
  const path = options.path ?? '/callback';
  let resolve!: (url: URL) => void;
  let reject!: (error: Error) => void;
  const callback = new Promise<URL>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  callback.catch(() => {});
  let received = false;
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (received || request.method !== 'GET' || url.pathname !== path) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    received = true;
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'close',
    });
    response.end(options.successPage ?? defaultPage, () => {
      void close();
    });
    resolve(new URL(`${redirectUri}${url.search}`));
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    closed ??= new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
    return closed;
  };
  const onAbort = () => {
    reject(new GatehouseClientError('aborted', 'the loopback sign-in was cancelled'));
    void close();
  };
  const timeout = options.timeout ?? 300_000;
  const timer = setTimeout(() => {
    reject(new GatehouseClientError('timeout', `no browser callback within ${timeout} ms`));
    void close();
  }, timeout);
  timer.unref();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const { port } = server.address() as AddressInfo;
  const redirectUri = `http://127.0.0.1:${port}${path}`;
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  return { redirectUri, callback, close };
}

/** Opens `url` in the system browser. */
export function openSystemBrowser(url: string): Promise<void> {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args as string[], { stdio: 'ignore', detached: true });
    child.once('error', (error) =>
      reject(new GatehouseClientError('unsupported', `could not open a browser: ${error.message}`)),
    );
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

/**
 * The whole native sign-in: listen on loopback, open the authorization URL in the browser, wait for the
 * one callback, exchange the code. `openBrowser` defaults to the system browser.
 */
export async function authorizeWithLoopback(
  client: OAuthClient,
  options: Omit<AuthorizationRequestOptions, 'redirectUri'> &
    LoopbackOptions & { openBrowser?: (url: string) => Promise<void> | void } = {},
): Promise<TokenSet> {
  const listener = await startLoopbackListener(options);
  try {
    const pending = await client.authorizationRequest({ ...options, redirectUri: listener.redirectUri });
    await (options.openBrowser ?? openSystemBrowser)(pending.url.href);
    const callback = await listener.callback;
    return await client.handleCallback(callback, pending, options.signal ? { signal: options.signal } : {});
  } finally {
    await listener.close();
  }
}
