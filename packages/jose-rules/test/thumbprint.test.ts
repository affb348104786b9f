/** RFC 7638 JWK thumbprints (thumbprint.ts). */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jwkThumbprint, thumbprintMembers } from '../src/index.ts';

describe('jwkThumbprint', () => {
  it('matches the RFC 8037 Appendix A.3 example (an Ed25519 key)', () => {
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    expect(jwkThumbprint(jwk)).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('hashes only the required members, in lexicographic order (RFC 7638 §3.2-§3.3)', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    expect(Object.keys(thumbprintMembers(ec)!)).toEqual(['crv', 'kty', 'x', 'y']);
    expect(Object.keys(thumbprintMembers(rsa)!)).toEqual(['e', 'kty', 'n']);
    expect(jwkThumbprint({ ...ec, kid: 'k1', alg: 'ES256', use: 'sig' })).toBe(jwkThumbprint(ec));
    expect(jwkThumbprint({ y: ec.y, x: ec.x, kty: 'EC', crv: ec.crv })).toBe(jwkThumbprint(ec));
    expect(jwkThumbprint(ec)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('has no thumbprint for an unknown key type or a missing or non-string member', () => {
    expect(jwkThumbprint({ kty: 'oct', k: 'c2VjcmV0' })).toBeUndefined();
    expect(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'AA' })).toBeUndefined();
    expect(jwkThumbprint({ kty: 'RSA', e: 65537, n: 'AA' })).toBeUndefined();
    expect(jwkThumbprint({})).toBeUndefined();
  });
});
