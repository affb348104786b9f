/**
 * The cookies the server and the BFF set (RFC 6265bis): `__Host-` names, so Secure, Path=/ and no Domain
 * (§4.1.3.2), always HttpOnly and SameSite (§4.1.2.7); and the lookup of one cookie in a `Cookie` header
 * (§5.6): the first pair with that name, its value only when it has the caller's token shape.
 */

export interface CookieAttributes {
  sameSite: 'Strict' | 'Lax';
  /** Seconds; 0 deletes the cookie. Omitted: a browser-session cookie. */
  maxAge?: number;
}

export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  const maxAge = attributes.maxAge === undefined ? '' : `; Max-Age=${attributes.maxAge}`;
  return `${name}=${value}; Path=/${maxAge}; HttpOnly; Secure; SameSite=${attributes.sameSite}`;
}

/** A `Set-Cookie` value that deletes cookie `name`. */
export function clearCookie(name: string, sameSite: 'Strict' | 'Lax'): string {
  return serializeCookie(name, '', { sameSite, maxAge: 0 });
}

/** The value of cookie `name` in a `Cookie` header when it matches `shape`; undefined otherwise. */
export function readCookie(header: string | undefined, name: string, shape: RegExp): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator === -1) continue;
    if (part.slice(0, separator).trim() === name) {
      const value = part.slice(separator + 1).trim();
      return shape.test(value) ? value : undefined;
    }
  }
  return undefined;
}
