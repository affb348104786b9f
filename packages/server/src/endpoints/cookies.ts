/**
 * Cookies (RFC 6265bis). Every cookie we set is `__Host-` prefixed (so Secure, Path=/ and no Domain are
 * enforced by the browser), HttpOnly and SameSite. The login session cookie is SameSite=Lax because the
 * relying party sends the browser to /authorize by a cross-site top-level navigation. The browser cookie is a
 * random id that binds pending interactions to the browser that started them; it is one per browser (not
 * one per interaction) so that sign-ins started in several tabs do not overwrite each other.
 */
export const sessionCookie = '__Host-gh-session';
export const browserCookie = '__Host-gh-browser';

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator === -1) continue;
    if (part.slice(0, separator).trim() === name) {
      const value = part.slice(separator + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

export function serializeCookie(
  name: string,
  value: string,
  options: { sameSite: 'Lax' | 'Strict'; maxAge: number },
): string {
  return `${name}=${value}; Path=/; Max-Age=${options.maxAge}; HttpOnly; Secure; SameSite=${options.sameSite}`;
}

export function clearCookie(name: string, sameSite: 'Lax' | 'Strict'): string {
  return serializeCookie(name, '', { sameSite, maxAge: 0 });
}
