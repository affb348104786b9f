/**
 * Client secrets (RFC 6749 §2.3.1) that overlap while they are replaced: a client holds at most two
 * secrets, each stored as a SHA-256 hash with an optional expiry, so a new secret can be issued while the
 * old one keeps working until the client has been updated. A presented secret is compared with
 * every stored slot in constant time, matched or not, so the answer's timing does not say which one
 * matched or how many the client has.
 */
import { constantTimeEqual } from '@gatehouse/jose-rules';
import { type ClientSecret, maxClientSecrets } from '../model.ts';
import { sha256Base64Url } from './secrets.ts';

/** Compared with when a slot is empty (or the client unknown): the same work whatever is stored. */
const emptySlotHash = sha256Base64Url('no-client-secret-placeholder');

/**
 * How a presented secret compares with a client's secrets at `now`: `valid` when it equals one that has
 * not expired, `expired` when it equals only an expired one (refused like a wrong one; the audit says so),
 * `invalid` otherwise. Every slot is compared, whatever the earlier ones gave.
 */
export function checkClientSecret(
  presented: string,
  secrets: readonly ClientSecret[] | undefined,
  now: number,
): 'valid' | 'expired' | 'invalid' {
  const presentedHash = sha256Base64Url(presented);
  let valid = false;
  let expired = false;
  for (let slot = 0; slot < maxClientSecrets; slot++) {
    const secret = secrets?.[slot];
    const matches = constantTimeEqual(presentedHash, secret?.hash ?? emptySlotHash);
    if (matches && secret !== undefined) {
      if (secret.expiresAt === null || secret.expiresAt > now) valid = true;
      else expired = true;
    }
  }
  return valid ? 'valid' : expired ? 'expired' : 'invalid';
}

/**
 * The secrets after a rotation at `now`: the new one first, never expiring, then the newest previous one,
 * working for `overlap` more seconds (or until its own expiry, when earlier). An overlap of 0 drops every
 * previous secret; older ones and expired ones are dropped in any case, so at most two remain.
 */
export function rotateClientSecrets(
  current: readonly ClientSecret[],
  newHash: string,
  now: number,
  overlap: number,
): ClientSecret[] {
  const rotated: ClientSecret[] = [{ hash: newHash, expiresAt: null }];
  const previous = current.find((secret) => secret.expiresAt === null || secret.expiresAt > now);
  if (overlap > 0 && previous !== undefined) {
    const until = now + overlap;
    rotated.push({
      hash: previous.hash,
      expiresAt: previous.expiresAt === null ? until : Math.min(previous.expiresAt, until),
    });
  }
  return rotated;
}
