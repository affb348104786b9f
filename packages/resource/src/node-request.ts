/**
 * The `AuthRequest` of a request served by Node's http or https server, for the Express and Fastify
 * adapters: the protocol and the DER client certificate (RFC 8705 §3) come from the TLS socket.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AuthRequest } from './model.ts';

export function nodeAuthRequest(
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: unknown,
  socket: Socket,
): AuthRequest {
  const tls = socket as TLSSocket;
  const encrypted = tls.encrypted === true;
  return {
    method,
    path,
    headers,
    host: headers.host,
    protocol: encrypted ? 'https' : 'http',
    body,
    clientCertificate: encrypted ? tls.getPeerCertificate()?.raw : undefined,
    remoteAddress: tls.remoteAddress,
  };
}
