/**
 * Compact JWS signing (RFC 7515 §7.1) on the hot path with node:crypto KeyObjects imported once, on the
 * thread pool (see `signature`), by the algorithm rules of @gatehouse/jose-rules (RFC 7518 §3.3-§3.5,
 * RFC 8037 §3.1). Signing here rather than with jose avoids its per-call key import.
 */
import { type KeyObject, sign } from 'node:crypto';
import { algorithmSpecs, keyWithOptions } from '@gatehouse/jose-rules';
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
    sign(algorithmSpecs[key.alg].hash, data, keyWithOptions(key.alg, key.privateKey), (error, result) => {
      if (error) reject(error);
      else resolve(result);
    });
  });
}

/** Signs `payload` as a compact JWS with header `{ alg, typ, kid }`. */
export async function signJwt(key: SigningKey, typ: string, payload: object): Promise<string> {
  const signingInput = `${encodedHeader(key, typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${signingInput}.${(await signature(key, Buffer.from(signingInput))).toString('base64url')}`;
}
