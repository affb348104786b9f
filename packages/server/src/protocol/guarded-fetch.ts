/**
 * A `fetch` for calls to hosts named in configuration or metadata (an upstream provider's discovery
 * document, JWKS and token endpoint): https only (http on loopback), no credentials in the URL, redirects
 * not followed, and non-public addresses refused unless allowed (outbound-address.ts, RFC 9700 §4.16),
 * checked in the connection's own DNS lookup. @gatehouse/client adds the timeout and the size cap.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { BlockedAddressError, guardedLookup, isNonPublicAddress } from './outbound-address.ts';

const loopbackHosts = ['localhost', '127.0.0.1', '[::1]'];

function checkUrl(url: URL, allowPrivateAddresses: boolean): void {
  const loopbackHttp = url.protocol === 'http:' && loopbackHosts.includes(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) throw new TypeError(`${url.origin} must use https`);
  if (url.username !== '' || url.password !== '') throw new TypeError('the URL must not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A literal address skips DNS (and so the guarded lookup): check it here.
  if (!allowPrivateAddresses && isIP(host) !== 0 && isNonPublicAddress(host))
    throw new BlockedAddressError(host);
}

function headersOf(response: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

/** A fetch that connects only where the guard allows; `allowPrivateAddresses` is for tests. */
export function guardedFetch(allowPrivateAddresses: boolean): typeof fetch {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      checkUrl(url, allowPrivateAddresses);
      const headers = new Headers(init.headers);
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(headers.entries()),
        signal: init.signal ?? undefined,
        agent: false,
        ...(allowPrivateAddresses ? {} : { lookup: guardedLookup }),
      });
      request.once('response', (response) => {
        const status = response.statusCode ?? 0;
        const body = status === 204 || status === 304 ? null : (Readable.toWeb(response) as ReadableStream);
        resolve(new Response(body, { status, headers: headersOf(response) }));
      });
      request.once('error', (error) =>
        reject(error.cause instanceof BlockedAddressError ? error.cause : error),
      );
      request.end(typeof init.body === 'string' ? init.body : undefined);
    });
}
