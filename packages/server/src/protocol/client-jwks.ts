/**
 * The public keys of a client registered by `jwks_uri` (RFC 7591 §2), for `private_key_jwt` (RFC 7523)
 * and `self_signed_tls_client_auth` (RFC 8705 §2.2). The URL is the client's, so the fetch is fenced in:
 * https (http on loopback), non-public addresses refused unless configured (outbound-address.ts, also on
 * redirects), two redirects, a timeout and a size cap. Sets are cached for `cacheTtl`; an unknown key id
 * or a failed fetch refetches at most once per `minRefreshInterval`, so made-up key ids cannot make the
 * server hammer the client's host.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { jwksSchema } from '../config/clients.ts';
import { BlockedAddressError, guardedLookup, refuseNonPublicLiteral } from './outbound-address.ts';

export interface JwksFetchOptions {
  allowPrivateAddresses: boolean;
  /** Milliseconds for the whole fetch, redirects included. */
  timeout: number;
  maxBytes: number;
  /** Seconds a fetched document is reused. */
  cacheTtl: number;
}

export interface JsonWebKeySet {
  keys: Record<string, unknown>[];
}

export class JwksFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksFetchError';
  }
}

const maxRedirects = 2;
const loopbackHosts = ['localhost', '127.0.0.1', '[::1]'];

function checkUrl(url: URL, options: JwksFetchOptions): void {
  const loopbackHttp = url.protocol === 'http:' && loopbackHosts.includes(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) throw new JwksFetchError('jwks_uri must use https');
  if (url.username !== '' || url.password !== '')
    throw new JwksFetchError('jwks_uri must not carry credentials');
  if (!options.allowPrivateAddresses) refuseNonPublicLiteral(url);
}

function get(url: URL, options: JwksFetchOptions, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
      signal,
      agent: false,
      ...(options.allowPrivateAddresses ? {} : { lookup: guardedLookup }),
    });
    request.once('response', resolve);
    request.once('error', reject);
    request.end();
  });
}

function readBody(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      response.destroy();
      reject(new JwksFetchError('jwks_uri document is too large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        response.destroy();
        reject(new JwksFetchError('jwks_uri document is too large'));
        return;
      }
      chunks.push(chunk);
    });
    response.once('end', () => resolve(Buffer.concat(chunks)));
    response.once('error', reject);
    response.once('aborted', () => reject(new JwksFetchError('jwks_uri response was cut off')));
  });
}

/** Fetches and validates a client's JWKS; throws JwksFetchError (or BlockedAddressError) on any failure. */
export async function fetchClientJwks(uri: string, options: JwksFetchOptions): Promise<JsonWebKeySet> {
  const signal = AbortSignal.timeout(options.timeout);
  let url = new URL(uri);
  try {
    for (let redirects = 0; ; redirects++) {
      checkUrl(url, options);
      const response = await get(url, options, signal);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location !== undefined) {
        response.resume();
        if (redirects >= maxRedirects) throw new JwksFetchError('jwks_uri redirects too often');
        url = new URL(response.headers.location, url);
        continue;
      }
      if (status !== 200) {
        response.resume();
        throw new JwksFetchError(`jwks_uri answered ${status}`);
      }
      const body = await readBody(response, options.maxBytes);
      let document: unknown;
      try {
        document = JSON.parse(body.toString('utf8'));
      } catch {
        throw new JwksFetchError('jwks_uri document is not JSON');
      }
      const parsed = jwksSchema.safeParse(document);
      if (!parsed.success) throw new JwksFetchError('jwks_uri document is not a set of public keys');
      return parsed.data as JsonWebKeySet;
    }
  } catch (error) {
    if (error instanceof JwksFetchError || error instanceof BlockedAddressError) throw error;
    if (signal.aborted) throw new JwksFetchError('jwks_uri fetch timed out');
    if ((error as Error).cause instanceof BlockedAddressError) throw (error as Error).cause;
    throw new JwksFetchError(`jwks_uri fetch failed: ${(error as Error).message}`);
  }
}

interface CachedJwks {
  jwks: JsonWebKeySet;
  fetchedAt: number;
}

/** Fetched JWKS documents by URI, with one fetch in flight per URI. */
export class ClientJwksCache {
  private readonly documents = new Map<string, CachedJwks>();
  private readonly inFlight = new Map<string, Promise<CachedJwks>>();
  /** When each URI last failed: a failing host is not asked again for `minRefreshInterval` seconds. */
  private readonly failures = new Map<string, { at: number; error: unknown }>();

  constructor(
    private readonly options: JwksFetchOptions,
    private readonly now: () => number,
    private readonly minRefreshInterval = 30,
  ) {}

  /**
   * The key set at `uri`. `refresh` asks for a newer copy than the cached one (a key id was not found);
   * it is honoured only when the cached copy is older than the minimum refresh interval.
   */
  async get(uri: string, refresh = false): Promise<{ jwks: JsonWebKeySet; fresh: boolean }> {
    const now = this.now();
    const cached = this.documents.get(uri);
    if (cached !== undefined && now >= cached.fetchedAt) {
      const age = now - cached.fetchedAt;
      if (age < this.options.cacheTtl && (!refresh || age < this.minRefreshInterval))
        return { jwks: cached.jwks, fresh: false };
    }
    const failure = this.failures.get(uri);
    if (failure !== undefined && now >= failure.at && now - failure.at < this.minRefreshInterval)
      throw failure.error;
    let pending = this.inFlight.get(uri);
    if (pending === undefined) {
      pending = fetchClientJwks(uri, this.options).then((jwks) => ({ jwks, fetchedAt: this.now() }));
      this.inFlight.set(uri, pending);
      pending.then(
        (entry) => {
          this.inFlight.delete(uri);
          this.failures.delete(uri);
          if (this.documents.size >= 1000) this.documents.clear();
          this.documents.set(uri, entry);
        },
        (error: unknown) => {
          this.inFlight.delete(uri);
          if (this.failures.size >= 1000) this.failures.clear();
          this.failures.set(uri, { at: this.now(), error });
        },
      );
    }
    return { jwks: (await pending).jwks, fresh: true };
  }
}
