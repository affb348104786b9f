/**
 * Policies (RFC 6750 §3.1 insufficient_scope with the scope parameter, RFC 9068 §2.2.3.1 roles) over
 * verified tokens, the in-memory DPoP replay store, and random garbage through the verifier: refused,
 * never thrown.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allOf,
  anyOf,
  createVerifier,
  MemoryReplayStore,
  requireAcr,
  requireAnyRole,
  requireAnyScope,
  requireAuthTime,
  requireClaims,
  requireRoles,
  requireScopes,
  type Verifier,
} from '../src/index.ts';
import { apiOptions, b64, TestIssuer, testClock } from './support.ts';

const clock = testClock();
let issuer: TestIssuer;
let verifier: Verifier;

beforeAll(async () => {
  issuer = await TestIssuer.start();
  verifier = createVerifier(apiOptions(issuer.issuer, { now: clock }));
});

afterAll(async () => {
  await issuer.close();
});

async function decide(
  claims: Record<string, unknown>,
  ...policies: Parameters<Verifier['authenticate']>[1][]
) {
  const result = await verifier.authenticate(
    { method: 'GET', path: '/', headers: { authorization: `Bearer ${issuer.token(clock(), claims)}` } },
    ...policies,
  );
  return result.ok ? 'allowed' : `${result.status} ${result.headers['www-authenticate']}`;
}

describe('policies', () => {
  it('all-of and any-of scopes, with the scope parameter on refusal', async () => {
    const claims = { scope: 'orders.read orders.write' };
    expect(await decide(claims, requireScopes('orders.read', 'orders.write'))).toBe('allowed');
    expect(await decide(claims, requireScopes('orders.read', 'orders.cancel'))).toContain(
      'scope="orders.read orders.cancel"',
    );
    expect(await decide(claims, requireAnyScope('orders.admin', 'orders.write'))).toBe('allowed');
    expect(await decide(claims, requireAnyScope('orders.admin', 'orders.cancel'))).toMatch(
      /^403 .*insufficient_scope/,
    );
  });

  it('reads scp arrays too, and never a scope that is only a substring', async () => {
    expect(await decide({ scope: undefined, scp: ['orders.read'] }, requireScopes('orders.read'))).toBe(
      'allowed',
    );
    expect(await decide({ scope: 'orders.readonly' }, requireScopes('orders.read'))).toMatch(/^403/);
  });

  it('reads scp as a space-separated string (Microsoft Entra ID) and the union of scope and scp', async () => {
    const entra = { scope: undefined, scp: 'orders.read orders.write' };
    expect(await decide(entra, requireScopes('orders.read', 'orders.write'))).toBe('allowed');
    expect(await decide(entra, requireScopes('orders.cancel'))).toMatch(/^403 .*insufficient_scope/);
    const both = { scope: 'orders.read', scp: ['orders.write'] };
    expect(await decide(both, requireScopes('orders.read', 'orders.write'))).toBe('allowed');
    expect(await decide({ scope: undefined, scp: [42, 'orders.read'] }, requireScopes('orders.read'))).toBe(
      'allowed',
    );
    expect(await decide({ scope: undefined, scp: 'orders.readonly' }, requireScopes('orders.read'))).toMatch(
      /^403/,
    );
  });

  it('roles: all-of, any-of, and only string entries of an array', async () => {
    expect(await decide({ roles: ['OrderAdmin', 'Viewer'] }, requireRoles('OrderAdmin', 'Viewer'))).toBe(
      'allowed',
    );
    expect(await decide({ roles: ['Viewer'] }, requireAnyRole('OrderAdmin', 'Viewer'))).toBe('allowed');
    expect(await decide({ roles: 'OrderAdmin' }, requireRoles('OrderAdmin'))).toMatch(/^403/);
    expect(await decide({ roles: [{ name: 'OrderAdmin' }] }, requireRoles('OrderAdmin'))).toMatch(/^403/);
  });

  it('custom predicates, combined; a throwing predicate refuses', async () => {
    const tenant = requireClaims((claims) => claims.tenant === 'acme', 'the tenant is not acme');
    expect(await decide({ tenant: 'acme' }, tenant)).toBe('allowed');
    expect(await decide({ tenant: 'evil' }, tenant)).toBe(
      '403 Bearer realm="orders-api", error="insufficient_scope", error_description="the tenant is not acme", DPoP algs="ES256 ES384 EdDSA RS256 PS256"',
    );
    const throwing = requireClaims(() => {
      throw new Error('boom');
    });
    expect(await decide({}, throwing)).toMatch(/^403/);
    const either = anyOf(requireRoles('OrderAdmin'), allOf(requireScopes('orders.admin'), tenant));
    expect(await decide({ scope: 'orders.admin', tenant: 'acme' }, either)).toBe('allowed');
    expect(await decide({ scope: 'orders.admin', tenant: 'evil' }, either)).toContain(
      'the role OrderAdmin is required',
    );
    expect(await decide({ roles: ['OrderAdmin'] }, either)).toBe('allowed');
  });
});

describe('MemoryReplayStore', () => {
  it('accepts a key once until it expires, and refuses when full of live keys', () => {
    const store = new MemoryReplayStore(2);
    expect(store.claim('a', 110, 100)).toBe(true);
    expect(store.claim('a', 110, 105)).toBe(false);
    expect(store.claim('b', 120, 105)).toBe(true);
    expect(store.claim('c', 120, 105)).toBe(false);
    expect(store.claim('a', 130, 110)).toBe(true);
    expect(store.claim('c', 130, 121)).toBe(true);
  });
});

describe('garbage never throws', () => {
  it('refuses random input in every part of the token with 400 or 401', async () => {
    const good = issuer.token(clock()).split('.');
    const pieces = () => {
      const kind = randomBytes(1)[0]! % 4;
      if (kind === 0) return randomBytes(1 + (randomBytes(1)[0]! % 40)).toString('base64url');
      if (kind === 1)
        return b64(JSON.parse(JSON.stringify({ alg: randomBytes(2).toString('hex'), kid: [1], crit: 'x' })));
      if (kind === 2) return Buffer.from(randomBytes(20)).toString('base64url');
      return good[randomBytes(1)[0]! % 3]!;
    };
    for (let i = 0; i < 300; i++) {
      const token = [pieces(), pieces(), pieces()].join('.');
      const result = await verifier.authenticate({
        method: 'GET',
        path: '/',
        headers: { authorization: `Bearer ${token}` },
      });
      if (result.ok) continue;
      expect([400, 401]).toContain(result.status);
    }
    const headers = ['Bearer \u0000', `Bearer ${'a'.repeat(100_000)}`, 'DPoP', 'Bearer a.b.c', ' Bearer x'];
    for (const authorization of headers) {
      const result = await verifier.authenticate({ method: 'GET', path: '/', headers: { authorization } });
      expect(result.ok).toBe(false);
      expect([400, 401]).toContain(!result.ok && result.status);
    }
  });
});

describe('RFC 9470 step-up policies', () => {
  const mfa = 'urn:gatehouse:acr:mfa';

  async function refusal(claims: Record<string, unknown>, policy: ReturnType<typeof requireAcr>) {
    const result = await verifier.authenticate(
      { method: 'GET', path: '/', headers: { authorization: `Bearer ${issuer.token(clock(), claims)}` } },
      policy,
    );
    return result;
  }

  it('requireAcr: allows a listed acr, and answers 401 insufficient_user_authentication with acr_values', async () => {
    expect(await decide({ acr: mfa }, requireAcr(mfa))).toBe('allowed');
    for (const claims of [{ acr: 'urn:gatehouse:acr:pwd' }, {}, { acr: ['urn:gatehouse:acr:mfa'] }]) {
      const result = await refusal(claims, requireAcr(mfa, 'urn:example:gold'));
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.status).toBe(401);
      expect(result.headers['www-authenticate']).toMatch(
        /^Bearer realm="[^"]*", error="insufficient_user_authentication", error_description="[^"]+", acr_values="urn:gatehouse:acr:mfa urn:example:gold"(, DPoP algs="[^"]+")?$/,
      );
      expect(result.body).toMatchObject({
        error: 'insufficient_user_authentication',
        acr_values: 'urn:gatehouse:acr:mfa urn:example:gold',
      });
    }
    expect(() => requireAcr()).toThrow(TypeError);
  });

  it('requireAuthTime: allows a recent auth_time, and answers with max_age for an old or missing one', async () => {
    const now = () => clock();
    expect(await decide({ auth_time: clock() - 300 }, requireAuthTime(300, { now }))).toBe('allowed');
    for (const claims of [{ auth_time: clock() - 301 }, {}, { auth_time: 'yesterday' }]) {
      const result = await refusal(claims, requireAuthTime(300, { now }));
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.status).toBe(401);
      expect(result.headers['www-authenticate']).toContain('error="insufficient_user_authentication"');
      expect(result.headers['www-authenticate']).toMatch(/, max_age=300(, DPoP algs="[^"]+")?$/);
      expect(result.body).toMatchObject({ max_age: 300 });
    }
    expect(() => requireAuthTime(-1)).toThrow(TypeError);
  });

  it('both at once: the first refusal names what it needs', async () => {
    const both = allOf(requireAcr(mfa), requireAuthTime(60, { now: () => clock() }));
    expect(await decide({ acr: mfa, auth_time: clock() }, both)).toBe('allowed');
    expect(await decide({ acr: mfa, auth_time: clock() - 61 }, both)).toMatch(/^401 .*max_age=60/);
  });
});
