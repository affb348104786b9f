/**
 * A node:http server on 127.0.0.1 with a handler of the test's choosing, for misbehaving-server tests.
 * A test file calls `afterEach(closeLocalServers)`, so a server a failed test left open is closed too.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuthClient, type OAuthClientOptions } from '../../src/index.ts';

export interface LocalServer {
  url: string;
  close(): Promise<void>;
}

export type Handler = (
  request: IncomingMessage,
  body: string,
  response: ServerResponse,
) => void | Promise<void>;

export async function startLocalServer(handler: Handler): Promise<LocalServer> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      Promise.resolve(handler(request, Buffer.concat(chunks).toString('utf8'), response)).catch((error) => {
        response.writeHead(599).end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const local: LocalServer = {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      open.delete(local);
      return closeServer(server);
    },
  };
  open.add(local);
  return local;
}

/** Servers started by `startLocalServer` and not closed yet. */
const open = new Set<LocalServer>();

/** Closes every local server still open (for `afterEach`). */
export async function closeLocalServers(): Promise<void> {
  await Promise.all([...open].map((server) => server.close()));
}

/** Stops `server` listening and ends its open (keep-alive) connections; resolves once it is closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * The confidential client `svc` (Basic secret `secret`) of the local token endpoint at `url`; `more`
 * adds or overrides options.
 */
export function serviceClient(url: string, more: Partial<OAuthClientOptions> = {}): OAuthClient {
  return new OAuthClient({
    issuer: url,
    clientId: 'svc',
    clientAuthentication: { method: 'client_secret_basic', clientSecret: 'secret' },
    metadata: { issuer: url, token_endpoint: `${url}/token` },
    ...more,
  });
}

export function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
