/**
 * Fetching what the verifier needs from the authorization server: metadata (RFC 8414 §3, OpenID Connect
 * Discovery 1.0 §4) and the JWKS (RFC 7517 §5). Only URLs from the configuration, or from the configured
 * issuer's own metadata, are ever fetched (RFC 8725 §3.10): nothing a request carries becomes a URL.
 * Responses are bounded in time and size, and redirects are not followed.
 */

/** The fetch function used for every outbound request (the global fetch by default). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

const maxResponseBytes = 512 * 1024;

export class RemoteError extends Error {
  override readonly name = 'RemoteError';
}

/** GET (or POST) a JSON object; throws RemoteError on any failure. */
export async function fetchJsonObject(
  fetcher: FetchLike,
  url: string,
  init: RequestInit & { timeoutMs: number },
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetcher(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(init.timeoutMs),
      headers: { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) },
    });
  } catch (error) {
    throw new RemoteError(`${url}: ${(error as Error).message}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new RemoteError(`${url} answered ${response.status}`);
  }
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > maxResponseBytes) {
    await response.body?.cancel();
    throw new RemoteError(`${url}: response too large`);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new RemoteError(`${url}: ${(error as Error).message}`);
  }
  if (text.length > maxResponseBytes) throw new RemoteError(`${url}: response too large`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RemoteError(`${url}: not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RemoteError(`${url}: not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The metadata URLs of an issuer: RFC 8414 §3.1 (well-known inserted before the path), then OIDC. */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
  ];
}

/**
 * Fetches the issuer's metadata and checks that its `issuer` is exactly the configured one (RFC 8414
 * §3.3), so a metadata document cannot point the verifier at another issuer's keys.
 */
export async function discoverMetadata(
  fetcher: FetchLike,
  issuer: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const failures: string[] = [];
  for (const url of metadataUrls(issuer)) {
    try {
      const metadata = await fetchJsonObject(fetcher, url, { method: 'GET', timeoutMs });
      if (metadata.issuer !== issuer) {
        failures.push(`${url}: issuer ${JSON.stringify(metadata.issuer)} is not ${issuer}`);
        continue;
      }
      return metadata;
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  throw new RemoteError(`no metadata for ${issuer}: ${failures.join('; ')}`);
}

/** A metadata endpoint URL, required to be http(s) and, for an https issuer, https. */
export function endpointFrom(metadata: Record<string, unknown>, field: string, issuer: string): string {
  const value = metadata[field];
  if (typeof value !== 'string') throw new RemoteError(`the metadata of ${issuer} has no ${field}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RemoteError(`${field} ${value} is not a URL`);
  }
  const secureIssuer = issuer.startsWith('https:');
  if (url.protocol !== 'https:' && (secureIssuer || url.protocol !== 'http:')) {
    throw new RemoteError(`${field} ${value} must use https`);
  }
  return url.href;
}

/**
 * The issuer's metadata, fetched on first need and kept; after a failed fetch the getter rejects until
 * `cooldown` seconds have passed, then fetches again.
 */
export function issuerMetadata(
  fetcher: FetchLike,
  issuer: string,
  timeoutMs: number,
  now: () => number,
  cooldown: number,
): () => Promise<Record<string, unknown>> {
  let metadata: Promise<Record<string, unknown>> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (metadata === undefined) {
      if (now() - failedAt < cooldown) {
        return Promise.reject(new RemoteError('issuer metadata unavailable; waiting for the cooldown'));
      }
      metadata = discoverMetadata(fetcher, issuer, timeoutMs);
      metadata.catch(() => {
        metadata = undefined;
        failedAt = now();
      });
    }
    return metadata;
  };
}
