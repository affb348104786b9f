/**
 * The small HTTP vocabulary the BFF core speaks on plain Node request/response objects, so that Express
 * and Fastify (and bare node:http) share one implementation: JSON answers that are never cached
 * (RFC 6749 §5.1 style `Cache-Control: no-store`), cookies (RFC 6265bis), bounded body reading, and the
 * hashing used for secrets.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readCookie as readCookieValue } from '@gatehouse/jose-rules';

export { type CookieAttributes, clearCookie, serializeCookie } from '@gatehouse/jose-rules';

/** Writes a JSON body with `Cache-Control: no-store`; the response is never cached or sniffed. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(payload);
}

/** An error in the RFC 6749 §5.2 shape: `{ error, error_description }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string | string[]> = {},
): void {
  sendJson(res, status, { error, error_description: description }, headers);
}

/** A redirect for browser navigations (login, callback, logout). */
export function sendRedirect(res: ServerResponse, location: string, cookies: string[] = []): void {
  const headers: Record<string, string | string[]> = { location, 'cache-control': 'no-store' };
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  res.writeHead(302, headers);
  res.end();
}

const cookieToken = /^[A-Za-z0-9_-]{16,128}$/;

/** The value of cookie `name` when it is a token of 16 to 128 base64url characters. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  return readCookieValue(req.headers.cookie, name, cookieToken);
}

/** Names of the cookies the browser sent (values never leave this function). */
export function cookieNames(req: IncomingMessage): string[] {
  const header = req.headers.cookie;
  if (header === undefined) return [];
  return header
    .split(';')
    .map((part) => part.split('=')[0]?.trim() ?? '')
    .filter((name) => name !== '');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Reads a request body up to `limit` bytes; undefined when larger (the rest is discarded). */
export async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
