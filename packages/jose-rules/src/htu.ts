/**
 * The `htu` of a DPoP proof (RFC 9449 §4.2, §4.3 point 9): the target URI without query and fragment,
 * compared after RFC 3986 §6.2.2 normalisation (scheme and host case, percent-encoding case, unreserved
 * characters decoded, dot segments) and §6.2.3 (default port, empty path). An `htu` that carries a query
 * or fragment is refused, since §4.2 defines it without them, and so is one with user credentials.
 */

const unreserved = /^[A-Za-z0-9\-._~]$/;

/**
 * An http(s) URI normalised per RFC 3986 §6.2.2-§6.2.3, without query and fragment; undefined when it is
 * not an absolute http(s) URI or carries credentials.
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '')
    return undefined;
  const path = url.pathname.replace(/%[0-9A-Fa-f]{2}/g, (encoded) => {
    const character = String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
    return unreserved.test(character) ? character : encoded.toUpperCase();
  });
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * Compares a proof's `htu` with the URL of the request it came with (whose query is ignored): `query` when
 * the `htu` has a query or fragment, `mismatch` when it is not the same URI, undefined when it matches.
 */
export function checkHtu(htu: string, requestUrl: string): 'query' | 'mismatch' | undefined {
  if (htu.includes('?') || htu.includes('#')) return 'query';
  const normalized = normalizeHtu(htu);
  return normalized !== undefined && normalized === normalizeHtu(requestUrl) ? undefined : 'mismatch';
}
