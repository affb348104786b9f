/** Compact JWS segments and signature verification (jws.ts: RFC 7515 §2, §5.2, §7.1; RFC 7518 §3). */
import { constants, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  algorithmSpecs,
  decodeBase64Url,
  decodeJsonObject,
  type JwsAlgorithm,
  jwsAlgorithms,
  keyWithOptions,
  splitCompactJws,
  verifySignature,
  verifySignatureAsync,
} from '../src/index.ts';

function keyPair(alg: JwsAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  const spec = algorithmSpecs[alg];
  if (spec.kty === 'RSA') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (spec.kty === 'OKP') return generateKeyPairSync('ed25519');
  return generateKeyPairSync('ec', { namedCurve: spec.crv! });
}

function signFor(alg: JwsAlgorithm, privateKey: KeyObject, data: Buffer): Buffer {
  const spec = algorithmSpecs[alg];
  if (spec.kty === 'EC') return sign(spec.hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  if (spec.pss !== undefined)
    return sign(spec.hash, data, {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: spec.pss,
    });
  return sign(spec.hash, data, privateKey);
}

describe('base64url and JSON segments', () => {
  it('decodes strict base64url only (RFC 7515 §2)', () => {
    expect(decodeBase64Url('aGk')?.toString()).toBe('hi');
    expect(decodeBase64Url('')?.length).toBe(0);
    for (const segment of ['aGk=', 'a+b/', 'a', 'a b', 'aGk.'])
      expect(decodeBase64Url(segment), segment).toBeUndefined();
    expect(decodeJsonObject(Buffer.from('{"a":1}').toString('base64url'))).toEqual({ a: 1 });
    for (const json of ['[1]', 'null', '"x"', '{'])
      expect(decodeJsonObject(Buffer.from(json).toString('base64url'))).toBeUndefined();
  });

  it('splits exactly three segments with a non-empty header (RFC 7515 §7.1)', () => {
    expect(splitCompactJws('a.b.c')).toEqual({
      header: 'a',
      payload: 'b',
      signature: 'c',
      signingInput: 'a.b',
    });
    expect(splitCompactJws('a.b.')).toEqual({
      header: 'a',
      payload: 'b',
      signature: '',
      signingInput: 'a.b',
    });
    for (const token of ['a.b', 'a.b.c.d', '.b.c', 'abc', ''])
      expect(splitCompactJws(token), token).toBeUndefined();
  });
});

describe('verifySignature', () => {
  it('verifies every algorithm of the list with its key, sync and on the thread pool', async () => {
    const data = Buffer.from('header.payload');
    for (const alg of jwsAlgorithms) {
      const { privateKey, publicKey } = keyPair(alg);
      const signature = signFor(alg, privateKey, data);
      expect(verifySignature(alg, publicKey, data, signature), alg).toBe(true);
      expect(await verifySignatureAsync(alg, publicKey, data, signature), alg).toBe(true);
      expect(verifySignature(alg, publicKey, Buffer.from('header.other'), signature), alg).toBe(false);
    }
  });

  it('answers false, never throws, for a wrong key, a truncated signature or a key of another type', async () => {
    const data = Buffer.from('header.payload');
    const ec = keyPair('ES256');
    const other = keyPair('ES256');
    const signature = signFor('ES256', ec.privateKey, data);
    expect(verifySignature('ES256', other.publicKey, data, signature)).toBe(false);
    expect(verifySignature('ES256', ec.publicKey, data, signature.subarray(1))).toBe(false);
    expect(verifySignature('RS256', ec.publicKey, data, signature)).toBe(false);
    expect(await verifySignatureAsync('ES256', ec.publicKey, data, signature.subarray(1))).toBe(false);
  });
});

describe('keyWithOptions', () => {
  it('signs every algorithm as RFC 7518 §3.3-§3.5 say: R || S for ECDSA, a PSS salt of the hash size', () => {
    const data = Buffer.from('header.payload');
    const ecdsaLength: Record<string, number> = { 'P-256': 64, 'P-384': 96, 'P-521': 132 };
    for (const alg of jwsAlgorithms) {
      const { privateKey, publicKey } = keyPair(alg);
      const spec = algorithmSpecs[alg];
      const signature = sign(spec.hash, data, keyWithOptions(alg, privateKey));
      if (spec.kty === 'EC') expect(signature.length, alg).toBe(ecdsaLength[spec.crv!]);
      const options =
        spec.kty === 'EC'
          ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
          : spec.pss !== undefined
            ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.pss }
            : publicKey;
      expect(verify(spec.hash, data, options, signature), alg).toBe(true);
    }
  });
});
