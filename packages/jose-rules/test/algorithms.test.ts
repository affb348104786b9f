/** JWS algorithm allow-lists (algorithms.ts, RFC 8725 §3.1-§3.2, RFC 7518 §3, RFC 8037 §3.1). */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isJwsAlgorithm, jwsAlgorithms, keyFitsAlgorithm } from '../src/index.ts';

describe('jwsAlgorithms', () => {
  it('holds the asymmetric algorithms only: never none, never an HMAC', () => {
    expect([...jwsAlgorithms].sort()).toEqual(
      ['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'].sort(),
    );
    for (const alg of jwsAlgorithms) expect(isJwsAlgorithm(alg)).toBe(true);
    for (const alg of ['none', 'HS256', 'HS384', 'HS512', 'es256', 'toString', '', undefined, 1])
      expect(isJwsAlgorithm(alg), String(alg)).toBe(false);
  });
});

describe('keyFitsAlgorithm', () => {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
  const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey;
  const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  const ed25519 = generateKeyPairSync('ed25519').publicKey;
  const ed448 = generateKeyPairSync('ed448').publicKey;

  it('pairs each algorithm with its curve, an RSA modulus of 2048 bits or more, or an Ed25519 key', () => {
    expect(keyFitsAlgorithm('ES256', p256)).toBe(true);
    expect(keyFitsAlgorithm('ES384', p384)).toBe(true);
    expect(keyFitsAlgorithm('ES512', p521)).toBe(true);
    expect(keyFitsAlgorithm('ES256', p384)).toBe(false);
    expect(keyFitsAlgorithm('ES384', p256)).toBe(false);
    for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const) {
      expect(keyFitsAlgorithm(alg, rsa2048), alg).toBe(true);
      expect(keyFitsAlgorithm(alg, rsa1024), alg).toBe(false);
      expect(keyFitsAlgorithm(alg, p256), alg).toBe(false);
    }
    expect(keyFitsAlgorithm('EdDSA', ed25519)).toBe(true);
    expect(keyFitsAlgorithm('EdDSA', ed448)).toBe(false);
    expect(keyFitsAlgorithm('EdDSA', p256)).toBe(false);
    expect(keyFitsAlgorithm('ES256', ed25519)).toBe(false);
  });
});
