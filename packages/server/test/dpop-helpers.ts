/**
 * DPoP test helpers: client key pairs and proofs (RFC 9449 §4.2) made with jose, with every header and claim
 * open to override so each check of §4.3 can be broken on its own.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export interface DpopKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  privateJwk: JWK;
  jkt: string;
}

export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return {
    alg,
    privateKey,
    publicJwk,
    privateJwk: await exportJWK(privateKey),
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
  };
}

export interface ProofOptions {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  accessToken?: string;
  nonce?: string;
  /** Extra or replaced claims (undefined removes one). */
  claims?: Record<string, unknown>;
  /** Replaced protected header members (undefined removes one). */
  header?: Record<string, unknown>;
}

export function ath(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

function withoutUndefined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

/** A DPoP proof for `options.htm` (POST) at `options.htu`, signed by `key`. */
export async function proof(
  key: DpopKey,
  options: ProofOptions & { htu: string; iat: number },
): Promise<string> {
  const claims = withoutUndefined({
    jti: options.jti ?? randomUUID(),
    htm: options.htm ?? 'POST',
    htu: options.htu,
    iat: options.iat,
    ath: options.accessToken === undefined ? undefined : ath(options.accessToken),
    nonce: options.nonce,
    ...options.claims,
  });
  const header = withoutUndefined({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...options.header });
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** An unsigned proof (`alg: none`), which no server may accept. */
export function unsignedProof(key: DpopKey, claims: Record<string, unknown>): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })}.${encode(claims)}.`;
}

/** A proof MACed with a shared secret (HS256) instead of signed with the jwk's private key. */
export function symmetricProof(key: DpopKey, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.publicJwk })
    .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
}
