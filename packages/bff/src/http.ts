/**
 * The small HTTP vocabulary the BFF core speaks on plain Node request/response objects, so that Express
 * and Fastify (and bare node:http) share one implementation: JSON answers that are never cached
 * (RFC 6749 §5.1 style `Cache-Control: no-store`), cookies (RFC 6265bis), bounded body reading, and the
 * hashing used for secrets.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

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

/** The value of cookie `name`, if the Cookie header has it once with a token-shaped value. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator === -1) continue;
    if (part.slice(0, separator).trim() === name) {
      const value = part.slice(separator + 1).trim();
      return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
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

export interface CookieAttributes {
  sameSite: 'Strict' | 'Lax';
  /** Seconds; 0 deletes the cookie. Omitted: a browser-session cookie. */
  maxAge?: number;
}

/** `__Host-` cookies must be Secure, Path=/ and have no Domain (RFC 6265bis §4.1.3.2); all of ours are. */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  const maxAge = attributes.maxAge === undefined ? '' : `; Max-Age=${attributes.maxAge}`;
  return `${name}=${value}; Path=/${maxAge}; HttpOnly; Secure; SameSite=${attributes.sameSite}`;
}

export function clearCookie(name: string, sameSite: 'Strict' | 'Lax'): string {
  return serializeCookie(name, '', { sameSite, maxAge: 0 });
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
