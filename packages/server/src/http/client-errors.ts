/**
 * Client errors Node's HTTP parser raises before any request exists (`clientError`: headers too large,
 * a malformed request line or header, a request timeout). Answered on the raw socket in the same shapes as
 * every other error: the error format of the route the request line names (JSON for APIs, the HTML page
 * for pages), never echoing the request, then the connection is closed (RFC 9112 §9.6).
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { OAuthError } from '../protocol/errors.ts';
import {
  clientErrorOf,
  type ErrorFormat,
  type ErrorRendering,
  type ErrorRenderOptions,
  renderError,
} from './error-handler.ts';

/** Node's HTTP status for each parser error code (as its default `clientError` answer). */
function statusOf(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/** The path of the request line at the start of what the client sent, when there is one. */
function requestPath(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return '';
  const line = /^[^ \r\n]* (\/[^ \r\n]*) HTTP\//.exec(rawPacket.subarray(0, 8192).toString('latin1'));
  return line?.[1] ?? '';
}

function serialize(rendering: ErrorRendering): string {
  const lines = [`HTTP/1.1 ${rendering.status} ${STATUS_CODES[rendering.status] ?? 'Error'}`];
  for (const [name, value] of Object.entries(rendering.headers)) {
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${item}`);
  }
  lines.push(`content-length: ${Buffer.byteLength(rendering.body)}`, 'connection: close');
  return `${lines.join('\r\n')}\r\n\r\n${rendering.body}`;
}

export function makeClientErrorHandler(
  options: ErrorRenderOptions,
  formatOf: (url: string) => ErrorFormat,
  log: FastifyBaseLogger,
) {
  return function clientErrorHandler(error: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Duplex) {
    // A client that reset or closed the connection mid-request leaves nobody to answer (a request that
    // was under way logs its own line, http/error-handler.ts).
    if (error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE' || socket.destroyed) {
      log.debug({ err: error }, 'connection closed by the client');
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    const oauthError = clientErrorOf(error.code, statusOf(error.code)) as OAuthError;
    // Logged through the error allow-list (logging.ts): never the raw packet, which holds the request.
    log.info({ request_id: requestId, err: error, status: oauthError.status }, 'client error');
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const rendering = renderError(oauthError, formatOf(requestPath(error.rawPacket)), options, {
      requestId,
    });
    socket.end(serialize(rendering), () => socket.destroy());
  };
}
