/**
 * RFC 9728 OAuth 2.0 Protected Resource Metadata: the document that tells a client which authorization
 * servers issue tokens for this API and how to present them (§2), served at the well-known URL derived
 * from the resource identifier (§3.1: `/.well-known/oauth-protected-resource` inserted between the host
 * and the path), and named by every 401 challenge in `resource_metadata` (§5.1), so a client that meets
 * the API first (an MCP client, for one) can find where to get a token. Built once from the verifier's
 * options; the adapters serve it without authentication.
 */

export interface ResourceMetadataOptions {
  /**
   * The resource identifier (§2 `resource`): the https URL clients use for this API, without query or
   * fragment, e.g. `https://api.example.com/mcp`; also the RFC 8707 `resource` parameter clients send.
   */
  resource: string;
  /** §2 `authorization_servers`: issuer identifiers (default: the verifier's `issuer`). */
  authorizationServers?: string[];
  /** §2 `scopes_supported`: the scopes this API understands. */
  scopesSupported?: string[];
  /** §2 `resource_name`: a human-readable name. */
  resourceName?: string;
  /** §2 `resource_documentation`: a page for developers. */
  resourceDocumentation?: string;
}

/** The metadata as served: where (absolute URL and request path) and what (the JSON text). */
export interface ResourceMetadata {
  /** The absolute URL of the document, named in challenges. */
  url: string;
  /** The request path the document is served at. */
  path: string;
  /** The document (§2). */
  document: Readonly<Record<string, unknown>>;
  /** The document as JSON text, serialised once. */
  body: string;
}

/** The answer of the framework-free handler: status, headers and body, ready to write. */
export interface ResourceMetadataResponse {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: string;
}

/** §3.1: the well-known URL of a resource identifier's metadata. */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}

function checkedResource(resource: unknown): string {
  if (typeof resource !== 'string') throw new TypeError('resourceMetadata.resource is required');
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    throw new TypeError('resourceMetadata.resource must be an absolute URL');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new TypeError('resourceMetadata.resource must use https (http only on a loopback host)');
  if (url.search !== '' || url.hash !== '' || resource.includes('#'))
    throw new TypeError('resourceMetadata.resource must have no query or fragment (RFC 9728 §1.2)');
  return resource;
}

/** The document from the options and the verifier's settings (bearer methods, DPoP); throws a TypeError. */
export function resolveResourceMetadata(
  options: ResourceMetadataOptions | undefined,
  settings: {
    issuer: string;
    allowFormBodyToken: boolean;
    dpop: { algorithms: readonly string[]; required: boolean } | undefined;
  },
): ResourceMetadata | undefined {
  if (options === undefined) return undefined;
  const resource = checkedResource(options.resource);
  const authorizationServers = options.authorizationServers ?? [settings.issuer];
  if (authorizationServers.length === 0 || authorizationServers.some((server) => typeof server !== 'string'))
    throw new TypeError('resourceMetadata.authorizationServers must name at least one issuer');
  const document: Record<string, unknown> = {
    resource,
    authorization_servers: authorizationServers,
    ...(options.scopesSupported === undefined ? {} : { scopes_supported: options.scopesSupported }),
    // §2: how the access token may be presented (RFC 6750 §2.1 header; §2.2 form body when allowed).
    bearer_methods_supported: settings.allowFormBodyToken ? ['header', 'body'] : ['header'],
    ...(settings.dpop === undefined
      ? {}
      : {
          dpop_signing_alg_values_supported: settings.dpop.algorithms,
          dpop_bound_access_tokens_required: settings.dpop.required,
        }),
    ...(options.resourceName === undefined ? {} : { resource_name: options.resourceName }),
    ...(options.resourceDocumentation === undefined
      ? {}
      : { resource_documentation: options.resourceDocumentation }),
  };
  const url = resourceMetadataUrl(resource);
  return { url, path: new URL(url).pathname, document, body: JSON.stringify(document) };
}

/**
 * The framework-free handler: the metadata response for a GET (or HEAD) of its path, or undefined for any
 * other request (the caller goes on with its own routing). Public and cacheable for five minutes.
 */
export function resourceMetadataResponse(
  metadata: ResourceMetadata | undefined,
  method: string,
  path: string,
): ResourceMetadataResponse | undefined {
  if (metadata === undefined || (method !== 'GET' && method !== 'HEAD')) return undefined;
  const queryAt = path.indexOf('?');
  if ((queryAt >= 0 ? path.slice(0, queryAt) : path) !== metadata.path) return undefined;
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
    body: method === 'HEAD' ? '' : metadata.body,
  };
}
