/**
 * Compact JWS signing (RFC 7515 §7.1) on the hot path with node:crypto KeyObjects imported once.
 * jose is used elsewhere for verification and JWK work; signing here avoids its per-call key import.
 */
import { type KeyObject, sign, verify } from 'node:crypto';
import type { SigningAlgorithm } from '../config/schema.ts';

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
}

const headerCache = new Map<string, string>();

function encodedHeader(key: SigningKey, typ: string): string {
  const cacheKey = `${key.kid}\u0000${key.alg}\u0000${typ}`;
  let header = headerCache.get(cacheKey);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: key.alg, typ, kid: key.kid })).toString('base64url');
    headerCache.set(cacheKey, header);
  }
  return header;
}

function signature(key: SigningKey, data: Buffer): Buffer {
  switch (key.alg) {
    case 'ES256':
      return sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    case 'RS256':
      return sign('sha256', data, key.privateKey);
    case 'PS256':
      return sign('sha256', data, {
        key: key.privateKey,
        padding: 6 /* RSA_PKCS1_PSS_PADDING */,
        saltLength: 32,
      });
    case 'EdDSA':
      return sign(null, data, key.privateKey);
  }
}

/** Signs `payload` as a compact JWS with header `{ alg, typ, kid }`. */
export function signJwt(key: SigningKey, typ: string, payload: object): string {
  const signingInput = `${encodedHeader(key, typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${signingInput}.${signature(key, Buffer.from(signingInput)).toString('base64url')}`;
}

/** Verifies a JWS signature made by `signJwt` with the public half of a key of algorithm `alg`. */
export function verifyJwsSignature(
  alg: SigningAlgorithm,
  publicKey: KeyObject,
  signingInput: string,
  signature: Buffer,
): boolean {
  const data = Buffer.from(signingInput);
  switch (alg) {
    case 'ES256':
      return verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    case 'RS256':
      return verify('sha256', data, publicKey, signature);
    case 'PS256':
      return verify('sha256', data, { key: publicKey, padding: 6, saltLength: 32 }, signature);
    case 'EdDSA':
      return verify(null, data, publicKey, signature);
  }
}
