/**
 * Mutual TLS client authentication (RFC 8705 §2) and a certificate-bound token used at a resource
 * (§3): the certificate comes from an undici Agent given to the client; a local HTTPS server demands it,
 * checks the request shape and binds the token to the certificate's SHA-256 thumbprint.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates } from '../../server/test/certificates.ts';
import { authenticatedFetch, OAuthClient, OAuthResponseError, TokenManager } from '../src/index.ts';

const certificates = testCertificates('gatehouse-client-mtls-');
const file = certificates.pem;
let server: Server;
let url: string;
const issued = new Map<string, string>();

function thumbprintOf(socket: TLSSocket): string | undefined {
  const certificate = socket.getPeerX509Certificate();
  return certificate ? createHash('sha256').update(certificate.raw).digest('base64url') : undefined;
}

beforeAll(async () => {
  certificates.selfSigned('server', '/CN=server', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  certificates.selfSigned('client', '/CN=client');
  server = createServer(
    { key: file('server.key'), cert: file('server.crt'), requestCert: true, rejectUnauthorized: false },
    (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const thumbprint = thumbprintOf(request.socket as TLSSocket);
        const send = (status: number, body: unknown) =>
          response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (request.url === '/token') {
          const form = new URLSearchParams(Buffer.concat(chunks).toString());
          const shapeOk =
            form.get('client_id') === 'mtls-client' &&
            form.get('client_secret') === null &&
            form.get('client_assertion') === null &&
            request.headers.authorization === undefined;
          if (thumbprint === undefined || !shapeOk) return send(401, { error: 'invalid_client' });
          const token = `bound-${issued.size}`;
          issued.set(token, thumbprint);
          return send(200, { access_token: token, token_type: 'Bearer', expires_in: 300 });
        }
        const token = request.headers.authorization?.replace('Bearer ', '') ?? '';
        if (issued.get(token) === undefined || issued.get(token) !== thumbprint) {
          response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
          return;
        }
        send(200, { thumbprint });
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server?.close(() => resolve());
    server?.closeAllConnections();
  });
});

function client(withCertificate: boolean) {
  const dispatcher = new Agent({
    connect: {
      ca: file('server.crt'),
      ...(withCertificate ? { cert: file('client.crt'), key: file('client.key') } : {}),
    },
  });
  return {
    dispatcher,
    client: new OAuthClient({
      issuer: url,
      clientId: 'mtls-client',
      clientAuthentication: { method: 'tls_client_auth' },
      metadata: { issuer: url, token_endpoint: `${url}/token` },
      http: { fetch: undiciFetch as unknown as typeof fetch, dispatcher },
    }),
  };
}

describe('mutual TLS through a supplied agent', () => {
  it('authenticates with the client certificate and uses the bound token at a resource', async () => {
    const { client: oauth, dispatcher } = client(true);
    const manager = new TokenManager(oauth);
    const api = authenticatedFetch(manager.clientCredentials(), {
      fetch: undiciFetch as unknown as typeof fetch,
      dispatcher,
    });
    const response = await api(`${url}/resource`);
    expect(response.status).toBe(200);
    const expected = certificates.thumbprint('client');
    expect(await response.json()).toEqual({ thumbprint: expected });
    await dispatcher.close();
  });

  it('is refused without a certificate', async () => {
    const { client: oauth, dispatcher } = client(false);
    const error = await oauth.clientCredentials().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OAuthResponseError);
    expect((error as OAuthResponseError).error).toBe('invalid_client');
    await dispatcher.close();
  });
});
