/**
 * Session records at rest: AES-256-GCM under a key derived from the configured secret, bound to the
 * record's store key. Anything but the exact record sealed by this secret for this key fails to open.
 */
import { describe, expect, it } from 'vitest';
import { Sealer } from '../src/seal.ts';

const secret = 'a-test-secret-of-at-least-32-characters!';

describe('sealed session records', () => {
  it('opens what it sealed, and hides the plain text', () => {
    const sealer = new Sealer(secret);
    const sealed = sealer.seal({ accessToken: 'token-value' }, 'session:key');
    expect(sealed).not.toContain('token-value');
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain('token-value');
    expect(sealer.open(sealed, 'session:key')).toEqual({ accessToken: 'token-value' });
    expect(sealer.seal({ a: 1 }, 'k')).not.toBe(sealer.seal({ a: 1 }, 'k'));
  });

  it('refuses a record moved to another key, sealed with another secret, altered or truncated', () => {
    const sealer = new Sealer(secret);
    const sealed = sealer.seal({ a: 1 }, 'session:one');
    expect(sealer.open(sealed, 'session:two')).toBeUndefined();
    expect(new Sealer(`${secret}-other`).open(sealed, 'session:one')).toBeUndefined();
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    expect(sealer.open(bytes.toString('base64url'), 'session:one')).toBeUndefined();
    expect(sealer.open(sealed.slice(0, 20), 'session:one')).toBeUndefined();
    expect(sealer.open('', 'session:one')).toBeUndefined();
    expect(sealer.open('%%%not base64%%%', 'session:one')).toBeUndefined();
  });

  it('needs a secret of at least 32 characters', () => {
    expect(() => new Sealer('short')).toThrow(/at least 32/);
  });
});
