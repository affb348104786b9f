/**
 * Redirect URI rules: exact string match (OAuth 2.1 §2.3.1, RFC 9700 §2.1), with the one exception of
 * RFC 8252 §7.3: a loopback IP literal redirect matches on any port. `http` is only ever allowed for
 * loopback hosts; fragments are never allowed (RFC 6749 §3.1.2).
 */
const loopbackIpHosts = new Set(['127.0.0.1', '[::1]']);
const loopbackHosts = new Set(['localhost', ...loopbackIpHosts]);

function parse(uri: string): URL | undefined {
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}

/** Why a URI cannot be registered as a redirect URI, or undefined when it can. */
export function redirectUriProblem(uri: string): string | undefined {
  const url = parse(uri);
  if (url === undefined) return 'is not an absolute URI';
  if (uri.includes('#')) return 'must not contain a fragment';
  if (url.protocol === 'http:' && !loopbackHosts.has(url.hostname))
    return 'may use http only on a loopback host';
  if (url.protocol === 'javascript:' || url.protocol === 'data:' || url.protocol === 'file:')
    return 'uses a forbidden scheme';
  return undefined;
}

/**
 * A loopback IP literal redirect URI split textually into everything but the port. No URL parsing here:
 * the WHATWG parser would turn `127.1`, `2130706433`, `[0:0:0:0:0:0:0:1]`, `HTTP:` or `/x/../callback`
 * into the registered form and so widen the match beyond the port.
 */
const loopbackRedirectPattern = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::\d{1,5})?([/?][^#]*)?$/;

function withoutLoopbackPort(uri: string): string | undefined {
  const match = loopbackRedirectPattern.exec(uri);
  return match ? `http://${match[1]}${match[2] ?? ''}` : undefined;
}

/** True when `requested` matches one of the registered redirect URIs. */
export function matchesRegisteredRedirectUri(requested: string, registered: readonly string[]): boolean {
  if (registered.includes(requested)) return true;
  const requestedWithoutPort = withoutLoopbackPort(requested);
  if (requestedWithoutPort === undefined || parse(requested) === undefined) return false;
  return registered.some((candidate) => withoutLoopbackPort(candidate) === requestedWithoutPort);
}

/** The redirect URI with response parameters added to its query (RFC 6749 §3.1.2, §4.1.2, §4.1.2.1). */
export function createRedirectUrl(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value);
  }
  return url.toString();
}
