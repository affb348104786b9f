/**
 * CSRF tokens of the pages a user reaches without an interaction record (the device verification pages,
 * the CIBA approval page): SHA-256 over the page's label, the browser value (a random 256-bit HttpOnly
 * cookie) and the session's sid. Stateless; a form rendered for one signed-in user is refused after
 * another signs in on the same browser, and a token for one page is no token for another.
 */
import { constantTimeEqual } from '@gatehouse/jose-rules';
import { sha256Base64Url } from './secrets.ts';

export function browserCsrfToken(label: string, browserId: string, sid: string | undefined): string {
  return sha256Base64Url(`${label}\u0000${browserId}\u0000${sid ?? ''}`);
}

/** True when `submitted` is the token for this page, browser and session (compared in constant time). */
export function browserCsrfMatches(
  label: string,
  browserId: string | undefined,
  sid: string | undefined,
  submitted: string | undefined,
): browserId is string {
  return (
    browserId !== undefined &&
    submitted !== undefined &&
    constantTimeEqual(submitted, browserCsrfToken(label, browserId, sid))
  );
}
