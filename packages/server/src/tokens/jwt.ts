/**
 * Compact JWS signing (RFC 7515 §7.1) on the hot path with node:crypto KeyObjects imported once, on the
 * thread pool (see `signature`). jose is used elsewhere for verification and JWK work; signing here avoids
 * its per-call key import.
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

/**
 * Signs on libuv's thread pool (node:crypto's callback form), whose threads can use the cores the event
 * loop cannot; a signature is CPU-bound work of every token response. The event loop only
 * hands the work over and picks the result up. Callers sign outside database transactions, so no lock is
 * held while a signature is pending (tokens/user-tokens.ts).
 */
function signature(key: SigningKey, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, result: Buffer) => {
      if (error) reject(error);
      else resolve(result);
    };
    switch (key.alg) {
      case 'ES256':
        sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }, done);
        return;
      case 'RS256':
        sign('sha256', data, key.privateKey, done);
        return;
      case 'PS256':
        sign(
          'sha256',
          data,
          { key: key.privateKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 },
          done,
        );
        return;
      case 'EdDSA':
        sign(null, data, key.privateKey, done);
        return;
    }
  });
}

/** Signs `payload` as a compact JWS with header `{ alg, typ, kid }`. */
export async function signJwt(key: SigningKey, typ: string, payload: object): Promise<string> {
  const signingInput = `${encodedHeader(key, typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${signingInput}.${(await signature(key, Buffer.from(signingInput))).toString('base64url')}`;
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
