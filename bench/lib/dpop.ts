/**
 * DPoP proofs (RFC 9449 §4.2) made by the load generator: one ES256 key pair per run, and a fresh proof
 * (new `jti`, current `iat`) for every request, signed synchronously with node:crypto so it can be built
 * inside autocannon's request setup. Also the checks the harness runs once per target: the token response
 * says `token_type: DPoP` and the access token's `cnf.jkt` is this key's RFC 7638 thumbprint.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';

export class DpopSigner {
  readonly jkt: string;
  readonly #privateKey: KeyObject;
  readonly #header: string;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const publicJwk = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
    this.#privateKey = privateKey;
    // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
    this.jkt = createHash('sha256').update(JSON.stringify(publicJwk)).digest('base64url');
    this.#header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: publicJwk })).toString(
      'base64url',
    );
  }

  /** A new proof for `htm` at `htu` (the endpoint URL without query). */
  proof(htm: string, htu: string): string {
    const payload = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000) };
    const input = `${this.#header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: this.#privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${signature.toString('base64url')}`;
  }
}
