/**
 * Client assertions for private_key_jwt (RFC 7523 §2.2, §3) made with jose: issuer and subject the client,
 * audience the issuer, a fresh jti, valid for 60 s from `now`; every claim open to override or removal so
 * each check of §3 can be broken on its own.
 */
import { randomUUID } from 'node:crypto';
import { type CryptoKey, SignJWT } from 'jose';
import { issuer } from './helpers.ts';

export const assertionType = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface AssertionOptions {
  /** The `kid` header member. */
  kid: string;
  /** The `alg` header member (ES256 unless given). */
  alg?: string;
  /** The `aud` claim (the test issuer unless given). */
  audience?: string;
  /** Extra or replaced claims. */
  claims?: Record<string, unknown>;
  /** Claims to leave out. */
  omit?: string[];
}

export function clientAssertion(
  clientId: string,
  privateKey: CryptoKey,
  now: number,
  options: AssertionOptions,
): Promise<string> {
  const claims: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: options.audience ?? issuer,
    jti: randomUUID(),
    iat: now,
    exp: now + 60,
    ...options.claims,
  };
  for (const name of options.omit ?? []) delete claims[name];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'ES256', kid: options.kid })
    .sign(privateKey);
}
