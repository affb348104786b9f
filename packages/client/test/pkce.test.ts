/** PKCE (RFC 7636) and the random values of an authorization request. */
import { describe, expect, it } from 'vitest';
import { codeChallengeS256, generateCodeVerifier, generatePkcePair, randomToken } from '../src/index.ts';

describe('PKCE', () => {
  it('computes the S256 challenge of RFC 7636 Appendix B', () => {
    expect(codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('generates verifiers of 43 to 128 unreserved characters', () => {
    for (const length of [43, 64, 100, 128]) {
      expect(generateCodeVerifier(length)).toMatch(new RegExp(`^[A-Za-z0-9._~-]{${length}}$`));
    }
    expect(() => generateCodeVerifier(42)).toThrow(RangeError);
    expect(() => generateCodeVerifier(129)).toThrow(RangeError);
  });

  it('pairs a fresh verifier with its challenge, method S256', () => {
    const first = generatePkcePair();
    const second = generatePkcePair();
    expect(first.codeChallengeMethod).toBe('S256');
    expect(first.codeChallenge).toBe(codeChallengeS256(first.codeVerifier));
    expect(first.codeVerifier).not.toBe(second.codeVerifier);
    expect(randomToken()).not.toBe(randomToken());
  });
});
