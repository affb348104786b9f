/**
 * One POST to a URL outside the server: the CIBA notifier's webhook and a client's ping endpoint (CIBA
 * Core §10.2). A client-registered URL is fenced in like a jwks_uri (outbound-fetch.ts `checkUrl`, the
 * guarded lookup of outbound-address.ts; RFC 9700 §4.16): https (http on loopback), no credentials,
 * non-public addresses refused unless allowed, no redirects followed, a timeout.
 * The answer's body is never read beyond being drained.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockedAddressError, guardedLookup } from './outbound-address.ts';
import { checkUrl } from './outbound-fetch.ts';

export interface OutboundPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds for the whole exchange. */
  timeout: number;
  allowPrivateAddresses: boolean;
}

export class OutboundPostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundPostError';
  }
}

/** Sends the POST and resolves with the answer's status; throws OutboundPostError or BlockedAddressError. */
export function postOutbound(post: OutboundPost): Promise<number> {
  const url = new URL(post.url);
  try {
    checkUrl(url, post, { what: 'the URL', fail: (message) => new OutboundPostError(message) });
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      headers: { ...post.headers, 'content-length': String(Buffer.byteLength(post.body)) },
      signal: AbortSignal.timeout(post.timeout),
      agent: false,
      ...(post.allowPrivateAddresses ? {} : { lookup: guardedLookup }),
    });
    request.once('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once('error', (error: Error) => {
      if (error.cause instanceof BlockedAddressError) reject(error.cause);
      else if (error instanceof BlockedAddressError) reject(error);
      else reject(new OutboundPostError(error.name === 'AbortError' ? 'timed out' : error.message));
    });
    request.end(post.body);
  });
}
