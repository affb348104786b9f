/**
 * The DPoP proof checker (dpop.ts, RFC 9449 §4.3): an accepted proof, then each check on its own with the
 * failure it reports, the injected nonce and replay checks, and the order that keeps a refused proof's jti.
 */
import { generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type DpopFailure,
  type DpopInput,
  type DpopProof,
  DpopProofChecker,
  type DpopRules,
  dpopAccessTokenHash,
  jwkThumbprint,
} from '../src/index.ts';

const now = 1_800_000_000;
const url = 'https://as.example.com/token';
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function ecKey(curve = 'P-256') {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const { crv, kty, x, y } = publicKey.export({ format: 'jwk' });
  return { privateKey, jwk: { crv, kty, x, y } as Record<string, unknown> };
}

const holder = ecKey();

interface ProofOptions {
  key?: { privateKey: KeyObject; jwk: Record<string, unknown> };
  /** Replaced header members (undefined removes one). */
  header?: Record<string, unknown>;
  /** Replaced claims (undefined removes one). */
  claims?: Record<string, unknown>;
}

function proof(options: ProofOptions = {}): string {
  const key = options.key ?? holder;
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk, ...options.header };
  const claims = { jti: randomUUID(), htm: 'POST', htu: url, iat: now, ...options.claims };
  const input = `${encode(header)}.${encode(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

function checker(rules: Partial<DpopRules> = {}) {
  const spent: DpopProof[] = [];
  const seen = new Set<string>();
  const instance = new DpopProofChecker({
    algorithms: ['ES256', 'EdDSA'],
    maxAge: 60,
    skew: 5,
    firstUse: (verified) => {
      spent.push(verified);
      if (seen.has(verified.jti)) return false;
      seen.add(verified.jti);
      return true;
    },
    ...rules,
  });
  return { instance, spent };
}

const request = (dpop: string | string[], extra: Partial<DpopInput> = {}): DpopInput => ({
  proofs: typeof dpop === 'string' ? [dpop] : dpop,
  method: 'POST',
  url,
  now,
  ...extra,
});

async function failure(
  dpop: string | string[],
  extra: Partial<DpopInput> = {},
  rules: Partial<DpopRules> = {},
) {
  const { instance, spent } = checker(rules);
  const result = await instance.check(request(dpop, extra));
  expect(spent, 'a refused proof does not spend its jti').toEqual([]);
  return result.ok ? undefined : result.failure;
}

describe('an accepted proof', () => {
  it('returns the key thumbprint, jti, iat and alg, and spends the jti once', async () => {
    const { instance, spent } = checker();
    const dpop = proof({ claims: { jti: 'j1', htu: 'HTTPS://AS.example.com:443/token' } });
    const result = await instance.check(request(dpop, { url: `${url}?ignored=1` }));
    expect(result).toEqual({
      ok: true,
      proof: { jkt: jwkThumbprint(holder.jwk), jti: 'j1', iat: now, alg: 'ES256' },
    });
    expect(spent).toHaveLength(1);
    expect(await instance.check(request(dpop))).toEqual({ ok: false, failure: 'replay' });
  });

  it('accepts ath with an access token and the bound key, and the edges of the iat window', async () => {
    const { instance } = checker();
    const accessToken = 'an-access-token';
    for (const iat of [now - 60, now + 5]) {
      const dpop = proof({ claims: { iat, ath: dpopAccessTokenHash(accessToken) } });
      const result = await instance.check(request(dpop, { accessToken, jkt: jwkThumbprint(holder.jwk) }));
      expect(result.ok, String(iat - now)).toBe(true);
    }
  });
});

describe('each check of RFC 9449 §4.3 on its own', () => {
  const [header, payload] = proof().split('.') as [string, string];
  const ed = generateKeyPairSync('ed25519');
  const edProof = (jwk: Record<string, unknown>) => {
    const input = `${encode({ typ: 'dpop+jwt', alg: 'EdDSA', jwk })}.${payload}`;
    return `${input}.${sign(null, Buffer.from(input), ed.privateKey).toString('base64url')}`;
  };
  const cases: [DpopFailure, () => string | string[], Partial<DpopInput>?][] = [
    ['missing', () => []],
    ['multiple', () => [proof(), proof()]],
    ['too_large', () => proof({ claims: { pad: 'x'.repeat(8192) } })],
    ['joined', () => `${proof()}, ${proof()}`],
    ['not_jws', () => 'not-a-jwt'],
    ['not_jws', () => `${header}.${payload}`],
    ['not_jws', () => `${header}=.${payload}.AA`],
    ['payload', () => `${header}.${encode([1])}.AA`],
    ['header', () => `${Buffer.from('{').toString('base64url')}.${payload}.AA`],
    ['typ', () => proof({ header: { typ: 'JWT' } })],
    ['typ', () => proof({ header: { typ: 'application/dpop+jwt' } })],
    ['typ', () => proof({ header: { typ: undefined } })],
    ['alg', () => `${encode({ typ: 'dpop+jwt', alg: 'none', jwk: holder.jwk })}.${payload}.`],
    [
      'alg',
      () => `${encode({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } })}.${payload}.AA`,
    ],
    ['alg', () => proof({ header: { alg: 'ES384' } })],
    ['crit', () => proof({ header: { crit: ['exp'] } })],
    ['jwk_missing', () => proof({ header: { jwk: undefined } })],
    ['jwk_missing', () => proof({ header: { jwk: [holder.jwk] } })],
    ['jwk_private', () => proof({ header: { jwk: holder.privateKey.export({ format: 'jwk' }) } })],
    ['jwk_private', () => proof({ header: { jwk: { ...holder.jwk, oth: [] } } })],
    ['jwk_unusable', () => proof({ header: { jwk: { ...holder.jwk, y: undefined } } })],
    ['jwk_unusable', () => proof({ header: { jwk: { ...holder.jwk, x: 'AAAA' } } })],
    ['jwk_alg_mismatch', () => proof({ key: ecKey('P-384'), header: { alg: 'ES256' } })],
    [
      'jwk_alg_mismatch',
      () => edProof({ ...generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' }) }),
    ],
    ['signature', () => proof({ header: { jwk: ecKey().jwk } })],
    ['signature', () => `${proof().slice(0, -4)}AAAA`],
    ['jti', () => proof({ claims: { jti: undefined } })],
    ['jti', () => proof({ claims: { jti: '' } })],
    ['jti', () => proof({ claims: { jti: 'x'.repeat(257) } })],
    ['htm_missing', () => proof({ claims: { htm: undefined } })],
    ['htu_missing', () => proof({ claims: { htu: undefined } })],
    ['iat_missing', () => proof({ claims: { iat: String(now) } })],
    ['htm', () => proof({ claims: { htm: 'GET' } })],
    ['htm', () => proof({ claims: { htm: 'post' } })],
    ['htu_query', () => proof({ claims: { htu: `${url}?a=b` } })],
    ['htu_query', () => proof({ claims: { htu: `${url}#a` } })],
    ['htu', () => proof({ claims: { htu: 'https://as.example.com/userinfo' } })],
    ['htu', () => proof({ claims: { htu: 'https://alice@as.example.com/token' } })],
    ['ath_missing', () => proof(), { accessToken: 'token' }],
    ['ath', () => proof({ claims: { ath: dpopAccessTokenHash('another') } }), { accessToken: 'token' }],
    ['iat_window', () => proof({ claims: { iat: now - 61 } })],
    ['iat_window', () => proof({ claims: { iat: now + 6 } })],
    ['binding', () => proof(), { jkt: jwkThumbprint(ecKey().jwk) }],
  ];

  for (const [expected, dpop, extra] of cases) {
    it(`${expected}: ${dpop.toString().slice(6, 90)}`, async () => {
      expect(await failure(dpop(), extra)).toBe(expected);
    });
  }

  it('accepts an Ed25519 key for EdDSA', async () => {
    const { instance } = checker();
    const result = await instance.check(request(edProof(ed.publicKey.export({ format: 'jwk' }))));
    expect(result.ok).toBe(true);
  });
});

describe('injected nonce and replay checks (RFC 9449 §9, §11.1)', () => {
  const nonces = { accepts: (nonce: string) => nonce === 'current' };

  it('asks for a nonce, refuses one that is not current, accepts the current one', async () => {
    expect(await failure(proof(), {}, { nonces })).toBe('nonce_missing');
    expect(await failure(proof({ claims: { nonce: 'stale' } }), {}, { nonces })).toBe('nonce_stale');
    expect(await failure(proof({ claims: { nonce: 7 } }), {}, { nonces })).toBe('nonce_stale');
    const { instance } = checker({ nonces });
    expect((await instance.check(request(proof({ claims: { nonce: 'current' } })))).ok).toBe(true);
  });

  it('spends the jti through the caller, last and only for a proof that passed every other check', async () => {
    const calls: [DpopProof, number][] = [];
    const { instance } = checker({
      firstUse: async (verified, at) => {
        calls.push([verified, at]);
        return false;
      },
    });
    expect(await instance.check(request(proof({ claims: { iat: now - 61 } })))).toEqual({
      ok: false,
      failure: 'iat_window',
    });
    expect(calls).toEqual([]);
    expect(await instance.check(request(proof({ claims: { jti: 'used' } })))).toEqual({
      ok: false,
      failure: 'replay',
    });
    expect(calls).toEqual([[{ jkt: jwkThumbprint(holder.jwk), jti: 'used', iat: now, alg: 'ES256' }, now]]);
  });
});
