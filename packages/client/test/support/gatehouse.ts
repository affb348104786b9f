/**
 * A real Gatehouse server on a real loopback port for the client's tests, with the server's test
 * configuration, plus a counter of requests per "METHOD path" taken in a Fastify onRequest hook: the
 * server itself says how many token requests it received.
 */
import { buildServer, type GatehouseServer, parseConfig } from '@gatehouse/server';
import { type TestClock, testConfig } from '../../../server/test/helpers.ts';
import { decideDeviceCode, FetchBrowser, freePort } from '../../../server/test/interop-helpers.ts';

export {
  password,
  serviceSecret,
  type TestClock,
  testClock,
  webRedirect,
  webSecret,
} from '../../../server/test/helpers.ts';
export { FetchBrowser };

export interface RunningGatehouse {
  server: GatehouseServer;
  issuer: string;
  /** Requests received so far for `METHOD /path`. */
  count(route: string): number;
  close(): Promise<void>;
}

export async function startGatehouse(overrides: Record<string, unknown> = {}): Promise<RunningGatehouse> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = parseConfig(testConfig({ issuer, server: { host: '127.0.0.1', port }, ...overrides }));
  const server = await buildServer(config);
  const counts = new Map<string, number>();
  server.app.addHook('onRequest', (request, _reply, done) => {
    const route = `${request.method} ${request.url.split('?')[0]}`;
    counts.set(route, (counts.get(route) ?? 0) + 1);
    done();
  });
  await server.listen();
  return { server, issuer, count: (route) => counts.get(route) ?? 0, close: () => server.close() };
}

/**
 * A device-flow `sleep` for `pollDeviceAuthorization`: records each wait in `waits`, moves `clock` by it,
 * and lets the user decide (`approve`) during the `polls`-th wait.
 */
export function approvingSleep(
  clock: TestClock,
  waits: number[],
  polls: number,
  approve: () => Promise<void>,
): (milliseconds: number) => Promise<void> {
  return async (milliseconds) => {
    waits.push(milliseconds);
    clock.advance(milliseconds / 1000);
    if (waits.length === polls) await approve();
  };
}

/** A user approves (or denies) a device code on Gatehouse's verification pages over HTTP. */
export async function approveGatehouseDevice(
  issuer: string,
  verificationUriComplete: string,
  decision: 'approve' | 'deny' = 'approve',
): Promise<void> {
  await decideDeviceCode(new FetchBrowser(issuer), verificationUriComplete, decision);
}
