/**
 * Authorization server metadata: OpenID Connect Discovery 1.0 §4 (`/.well-known/openid-configuration`
 * appended to the issuer) and, when that is absent, RFC 8414 §3 (`/.well-known/oauth-authorization-server`
 * inserted before the issuer's path). The `issuer` in the document must equal the one asked for
 * (RFC 8414 §3.3). Documents are cached per issuer.
 */
import { GatehouseClientError } from './errors.ts';
import { type HttpOptions, httpRequest, parseJsonObject } from './http.ts';

/** The metadata fields this client reads; others are kept as they came. */
export interface ServerMetadata {
  issuer: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  jwks_uri?: string;
  userinfo_endpoint?: string;
  revocation_endpoint?: string;
  introspection_endpoint?: string;
  device_authorization_endpoint?: string;
  /** OpenID Connect CIBA Core §4. */
  backchannel_authentication_endpoint?: string;
  pushed_authorization_request_endpoint?: string;
  require_pushed_authorization_requests?: boolean;
  end_session_endpoint?: string;
  code_challenge_methods_supported?: string[];
  authorization_response_iss_parameter_supported?: boolean;
  dpop_signing_alg_values_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  grant_types_supported?: string[];
  [field: string]: unknown;
}

const cache = new Map<string, { expiresAt: number; metadata: Promise<ServerMetadata> }>();

/** Seconds a discovered document is reused; default one hour. */
const defaultMaxAge = 3600;

function wellKnownUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

async function fetchMetadata(issuer: string, http: HttpOptions, named: string): Promise<ServerMetadata> {
  let lastStatus = 0;
  for (const url of wellKnownUrls(issuer)) {
    const response = await httpRequest(url, { method: 'GET', headers: { accept: 'application/json' } }, http);
    if (response.status === 404) {
      lastStatus = 404;
      continue;
    }
    if (response.status !== 200) {
      throw new GatehouseClientError('http_error', `${url} answered HTTP ${response.status}`);
    }
    const document = parseJsonObject(response, url);
    if (document.issuer !== named) {
      throw new GatehouseClientError(
        'issuer_mismatch',
        `${url} names issuer ${String(document.issuer)}, expected ${named}`,
      );
    }
    return document as ServerMetadata;
  }
  throw new GatehouseClientError('http_error', `no metadata for ${issuer} (HTTP ${lastStatus})`);
}

/**
 * The server's metadata, fetched once and reused for `maxAge` seconds (by `now`, seconds since the
 * epoch). A failed discovery is not cached. The document must name `issuer`, or `documentIssuer` when
 * given (a multi-tenant server whose document names an issuer template, see `OAuthClientOptions.issuerRule`).
 */
export function discover(
  issuer: string,
  options: { http?: HttpOptions; maxAge?: number; now?: () => number; documentIssuer?: string } = {},
): Promise<ServerMetadata> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  // A document accepted for a template issuer is not one accepted for the issuer itself.
  const key = options.documentIssuer === undefined ? issuer : `${issuer} ${options.documentIssuer}`;
  const cached = cache.get(key);
  if (cached !== undefined && cached.expiresAt > now()) return cached.metadata;
  const metadata = fetchMetadata(issuer, options.http ?? {}, options.documentIssuer ?? issuer);
  const entry = { expiresAt: now() + (options.maxAge ?? defaultMaxAge), metadata };
  cache.set(key, entry);
  metadata.catch(() => {
    if (cache.get(key) === entry) cache.delete(key);
  });
  return metadata;
}

/** Forgets cached metadata (one issuer, or all). */
export function clearDiscoveryCache(issuer?: string): void {
  if (issuer === undefined) cache.clear();
  else for (const key of cache.keys()) if (key === issuer || key.startsWith(`${issuer} `)) cache.delete(key);
}
