/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a `client_id` that is
 * an https URL names a JSON document of RFC 7591 client metadata, fetched when the client is used (§4).
 *
 * The URL (§3) is https with a path, without fragment, credentials or dot segments. The document is fetched
 * through the guarded GET of client-given URLs (outbound-fetch.ts): no private addresses unless configured,
 * a timeout, a size cap, and no redirects at all (the document is the URL's, §4.1). It must be a JSON
 * object whose `client_id` is the URL, character for character (§4.1), with no `client_secret` and no
 * secret authentication method (§4.1: the document is public): the client is public (`none`, the default)
 * or `private_key_jwt`. Its metadata goes through the registration checks (protocol/registration.ts) and
 * policy, so a document describes no more than a registration could. Documents are cached for the lifetime
 * the answer's Cache-Control `max-age` (or Expires) gives, within configured bounds (§4.2); a failure is
 * remembered for the shortest of them, so a failing host is not asked on every request. One fetch per URL
 * is in flight at a time, and the cache holds a bounded number of documents.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { GatehouseConfig } from '../config/schema.ts';
import type { Audit } from '../context.ts';
import type { Client } from '../model.ts';
import { OAuthError } from './errors.ts';
import { BlockedAddressError } from './outbound-address.ts';
import { guardedGet } from './outbound-fetch.ts';
import { clientOfMetadataDocument, type MetadataRules } from './registration.ts';

type Settings = GatehouseConfig['clientIdMetadataDocuments'];

class DocumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientMetadataDocumentError';
  }
}

const loopbackHosts = ['localhost', '127.0.0.1', '[::1]'];

/**
 * True when `clientId` names a metadata document (§3): https (or, with private addresses allowed for
 * tests, http on a loopback host) with a path other than `/`.
 */
export function isClientIdUrl(clientId: string, settings: Pick<Settings, 'allowPrivateAddresses'>): boolean {
  if (!clientId.startsWith('https://') && !clientId.startsWith('http://')) return false;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return false;
  }
  if (url.protocol === 'http:' && !(settings.allowPrivateAddresses && loopbackHosts.includes(url.hostname)))
    return false;
  return true;
}

/** §3: why a client ID URL cannot name a document, or undefined. */
function clientIdUrlProblem(clientId: string): string | undefined {
  const url = new URL(clientId);
  if (clientId.includes('#')) return 'must not have a fragment';
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  if (url.pathname === '/' || url.pathname === '') return 'must have a path';
  // The WHATWG parser removes dot segments: a URL that changes when parsed had some (or odd spelling).
  if (url.href !== clientId) return 'must be in normal form (no dot segments, lower-case scheme and host)';
  return undefined;
}

/** Seconds the answer may be reused, from Cache-Control `max-age` (or Expires), within the bounds. */
export function documentLifetime(
  headers: IncomingHttpHeaders,
  settings: Settings,
  nowSeconds: number,
): number {
  const cacheControl = String(headers['cache-control'] ?? '').toLowerCase();
  let lifetime = settings.cacheTtl;
  if (/(^|,)\s*(no-store|no-cache)\s*(,|$)/.test(cacheControl)) lifetime = 0;
  else {
    const maxAge = /(^|,)\s*max-age\s*=\s*"?(\d+)"?/.exec(cacheControl)?.[2];
    if (maxAge !== undefined) lifetime = Number(maxAge);
    else if (typeof headers.expires === 'string') {
      const expires = Date.parse(headers.expires);
      if (Number.isFinite(expires)) lifetime = Math.floor(expires / 1000) - nowSeconds;
    }
  }
  return Math.min(settings.maxCacheTtl, Math.max(settings.minCacheTtl, lifetime));
}

interface Cached {
  client: Client;
  until: number;
}

export class ClientMetadataDocuments {
  private readonly documents = new Map<string, Cached>();
  private readonly failures = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Client | undefined>>();

  constructor(
    private readonly rules: MetadataRules,
    private readonly now: () => number,
    private readonly audit: Audit,
  ) {}

  private get settings(): Settings {
    return this.rules.config.clientIdMetadataDocuments;
  }

  /** True when `clientId` is a URL this resolver answers for (documents on, and a client ID URL). */
  handles(clientId: string): boolean {
    return this.settings.enabled && isClientIdUrl(clientId, this.settings);
  }

  /**
   * The client the document at `clientId` describes, or undefined when it cannot be had (refused or
   * unreachable: the reason is audited, never shown to the caller beyond "not known").
   */
  async find(clientId: string): Promise<Client | undefined> {
    const now = this.now();
    const cached = this.documents.get(clientId);
    if (cached !== undefined && now < cached.until) return cached.client;
    const failedUntil = this.failures.get(clientId);
    if (failedUntil !== undefined && now < failedUntil) return undefined;
    let pending = this.inFlight.get(clientId);
    if (pending === undefined) {
      pending = this.load(clientId).finally(() => this.inFlight.delete(clientId));
      this.inFlight.set(clientId, pending);
    }
    return pending;
  }

  private async load(clientId: string): Promise<Client | undefined> {
    const settings = this.settings;
    try {
      const problem = clientIdUrlProblem(clientId);
      if (problem !== undefined) throw new DocumentError(`the client ID URL ${problem}`);
      const response = await guardedGet(clientId, settings, {
        accept: 'application/json',
        maxRedirects: 0,
        fail: (message) => new DocumentError(message),
        what: 'the client metadata document',
      });
      if (response.status !== 200)
        throw new DocumentError(`the client metadata document answered ${response.status}`);
      const client = this.clientOf(clientId, response.body);
      const now = this.now();
      this.remember(this.documents, clientId, {
        client,
        until: now + documentLifetime(response.headers, settings, now),
      });
      this.failures.delete(clientId);
      return client;
    } catch (error) {
      const known = error instanceof DocumentError || error instanceof BlockedAddressError;
      const reason =
        error instanceof OAuthError ? error.description : known ? (error as Error).message : 'fetch failed';
      this.audit('client_metadata_document_refused', { client_id: clientId, reason });
      this.documents.delete(clientId);
      this.remember(this.failures, clientId, this.now() + settings.minCacheTtl);
      return undefined;
    }
  }

  /** §4.1: the document's client, checked; throws DocumentError or the registration's OAuthError. */
  private clientOf(clientId: string, body: Buffer): Client {
    let document: unknown;
    try {
      document = JSON.parse(body.toString('utf8'));
    } catch {
      throw new DocumentError('the client metadata document is not JSON');
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document))
      throw new DocumentError('the client metadata document is not a JSON object');
    const metadata = document as Record<string, unknown>;
    if (metadata.client_id !== clientId)
      throw new DocumentError('the document client_id is not the URL it was fetched from');
    if (metadata.client_secret !== undefined || metadata.client_secret_expires_at !== undefined)
      throw new DocumentError('a client metadata document must not contain a client secret');
    const method = metadata.token_endpoint_auth_method ?? 'none';
    if (method !== 'none' && method !== 'private_key_jwt')
      throw new DocumentError('a client metadata document client uses none or private_key_jwt');
    return clientOfMetadataDocument(
      this.rules,
      clientId,
      { ...metadata, token_endpoint_auth_method: method },
      this.now(),
    );
  }

  /** Sets an entry, dropping the oldest when the cache is full. */
  private remember<T>(map: Map<string, T>, key: string, value: T): void {
    map.delete(key);
    if (map.size >= this.settings.maxCachedDocuments) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(key, value);
  }
}
