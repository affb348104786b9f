/**
 * Cookies (RFC 6265bis). Every cookie we set is `__Host-` prefixed (so Secure, Path=/ and no Domain are
 * enforced by the browser), HttpOnly and SameSite. The login session cookie is SameSite=Lax because the
 * relying party sends the browser to /authorize by a cross-site top-level navigation. The browser cookie is a
 * random id that binds pending interactions to the browser that started them; it is one per browser (not
 * one per interaction) so that sign-ins started in several tabs do not overwrite each other.
 */
import { readCookie as readCookieValue, serializeCookie } from '@gatehouse/jose-rules';

export { clearCookie, serializeCookie } from '@gatehouse/jose-rules';

export const sessionCookie = '__Host-gh-session';
export const browserCookie = '__Host-gh-browser';

const cookieToken = /^[A-Za-z0-9_-]{1,128}$/;

/** The value of cookie `name` when it is a token of at most 128 base64url characters. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  return readCookieValue(header, name, cookieToken);
}

/**
 * The browser value of a request, or a new one set on `reply` (SameSite=Lax, 400 days): pages a link opens
 * (the device and CIBA approval pages) bind their forms to it.
 */
export function browserIdFor(
  cookieHeader: string | undefined,
  reply: { header(name: string, value: string): unknown },
  newId: () => string,
): string {
  const existing = readCookie(cookieHeader, browserCookie);
  if (existing !== undefined) return existing;
  const browserId = newId();
  reply.header(
    'set-cookie',
    serializeCookie(browserCookie, browserId, { sameSite: 'Lax', maxAge: 400 * 86400 }),
  );
  return browserId;
}

/**
 * Sets the login session cookie (SameSite=Lax, see above) to a session value that startSession or a step-up
 * just issued; it lives as long as the session (`login.sessionTtl`).
 */
export function setSessionCookie(
  reply: { header(name: string, value: string): unknown },
  sessionValue: string,
  sessionTtl: number,
): void {
  reply.header(
    'set-cookie',
    serializeCookie(sessionCookie, sessionValue, { sameSite: 'Lax', maxAge: sessionTtl }),
  );
}
