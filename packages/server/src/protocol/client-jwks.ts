/**
 * The public keys of a client registered by `jwks_uri` (RFC 7591 §2), for `private_key_jwt` (RFC 7523)
 * and `self_signed_tls_client_auth` (RFC 8705 §2.2). The URL is the client's, so the fetch is fenced in
 * (outbound-fetch.ts): https (http on loopback), non-public addresses refused unless configured, also on
 * redirects, two redirects, a timeout and a size cap. Sets are cached for `cacheTtl`; an unknown key id
 * or a failed fetch refetches at most once per `minRefreshInterval`, so made-up key ids cannot make the
 * server hammer the client's host.
 */
import { jwksSchema } from '../config/clients.ts';
import { guardedGet, type OutboundFetchOptions } from './outbound-fetch.ts';

export interface JwksFetchOptions extends OutboundFetchOptions {
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

/** Fetches and validates a client's JWKS; throws JwksFetchError (or BlockedAddressError) on any failure. */
export async function fetchClientJwks(uri: string, options: JwksFetchOptions): Promise<JsonWebKeySet> {
  const response = await guardedGet(uri, options, {
    accept: 'application/jwk-set+json, application/json',
    maxRedirects,
    fail: (message) => new JwksFetchError(message),
    what: 'jwks_uri',
  });
  if (response.status !== 200) throw new JwksFetchError(`jwks_uri answered ${response.status}`);
  let document: unknown;
  try {
    document = JSON.parse(response.body.toString('utf8'));
  } catch {
    throw new JwksFetchError('jwks_uri document is not JSON');
  }
  const parsed = jwksSchema.safeParse(document);
  if (!parsed.success) throw new JwksFetchError('jwks_uri document is not a set of public keys');
  return parsed.data as JsonWebKeySet;
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
