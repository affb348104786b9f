/**
 * ID Token validation (OpenID Connect Core §3.1.3.7) against a local authorization server that signs
 * the tokens the test asks for with a real key and serves its JWKS (counting the fetches): the claims
 * checks, key rotation, and the JWKS maximum age (a removed key stops verifying; one fetch for
 * concurrent lookups; a failed refresh refuses the token).
 */
import { createHash } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { OAuthClient, type PendingAuthorization } from '../src/index.ts';
import { testClock } from './support/gatehouse.ts';
import { closeLocalServers, json, startLocalServer } from './support/local-server.ts';

afterEach(closeLocalServers);

const accessToken = 'access-token-value';

function atHash(token: string): string {
  return createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url');
}

/** How the JWKS endpoint answers: the published keys, or one way of failing. */
type JwksAnswer = 'keys' | 'unavailable' | 'not-json' | 'not-a-jwk-set' | 'reset' | 'silent';

async function setup(options: { jwksMaxAge?: number; timeout?: number } = {}) {
  const keys = [await generateKeyPair('ES256'), await generateKeyPair('ES256')];
  let published = [0];
  let signWith = 0;
  let claims: (issuer: string, now: number) => JWTPayload = () => ({});
  let jwksFetches = 0;
  let jwksAnswer: JwksAnswer = 'keys';
  const clock = testClock();
  const server = await startLocalServer(async (request, _body, response) => {
    if (request.url === '/jwks') {
      jwksFetches += 1;
      if (jwksAnswer === 'unavailable') return json(response, 503, { message: 'down for maintenance' });
      if (jwksAnswer === 'not-json') return void response.writeHead(200).end('<html>gateway</html>');
      if (jwksAnswer === 'not-a-jwk-set') return json(response, 200, { keys: 'none' });
      if (jwksAnswer === 'reset') return void response.socket?.destroy();
      if (jwksAnswer === 'silent') return;
      const jwks = await Promise.all(
        published.map(async (index) => ({
          ...(await exportJWK(keys[index]!.publicKey)),
          kid: `k${index}`,
          alg: 'ES256',
        })),
      );
      return json(response, 200, { keys: jwks });
    }
    const idToken = await new SignJWT(claims(server.url, clock()))
      .setProtectedHeader({ alg: 'ES256', kid: `k${signWith}` })
      .sign(keys[signWith]!.privateKey);
    json(response, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 300,
      id_token: idToken,
    });
  });
  const url = server.url;
  const client = new OAuthClient({
    issuer: url,
    clientId: 'rp',
    clientAuthentication: { method: 'client_secret_basic', clientSecret: 'secret' },
    metadata: {
      issuer: url,
      token_endpoint: `${url}/token`,
      jwks_uri: `${url}/jwks`,
      authorization_endpoint: `${url}/authorize`,
    },
    clock,
    ...(options.jwksMaxAge === undefined ? {} : { jwksMaxAge: options.jwksMaxAge }),
    ...(options.timeout === undefined ? {} : { http: { timeout: options.timeout } }),
  });
  const pending: PendingAuthorization = {
    url: new URL(`${url}/authorize`),
    state: 'state-1',
    nonce: 'nonce-1',
    codeVerifier: 'v'.repeat(43),
    redirectUri: 'https://rp.example.com/cb',
  };
  const good = (issuer: string, now: number): JWTPayload => ({
    iss: issuer,
    sub: 'alice',
    aud: 'rp',
    iat: now,
    exp: now + 300,
    nonce: 'nonce-1',
    at_hash: atHash(accessToken),
  });
  return {
    client,
    clock,
    url,
    callback: (maxAge?: number) =>
      client.handleCallback(
        'https://rp.example.com/cb?code=c&state=state-1',
        maxAge === undefined ? pending : { ...pending, maxAge },
      ),
    use(make: (issuer: string, now: number) => JWTPayload) {
      claims = make;
    },
    good,
    rotate() {
      published = [0, 1];
      signWith = 1;
    },
    /** The issuer publishes these keys (by index) from now on. */
    publish(indices: number[]) {
      published = indices;
    },
    /** Tokens are signed with this key (by index) from now on. */
    signWith(index: number) {
      signWith = index;
    },
    answerJwks(answer: JwksAnswer) {
      jwksAnswer = answer;
    },
    jwksFetches: () => jwksFetches,
  };
}

describe('id_token validation', () => {
  it('accepts a valid token and returns its claims', async () => {
    const test = await setup();
    test.use(test.good);
    const tokens = await test.callback();
    expect(tokens.claims).toMatchObject({ sub: 'alice', nonce: 'nonce-1', aud: 'rp' });
  });

  const cases: Array<[string, (claims: JWTPayload, issuer: string, now: number) => JWTPayload]> = [
    ['another issuer', (claims) => ({ ...claims, iss: 'https://other.example.com' })],
    ['another audience', (claims) => ({ ...claims, aud: 'someone-else' })],
    ['several audiences without azp', (claims) => ({ ...claims, aud: ['rp', 'api'] })],
    ['an azp of another client', (claims) => ({ ...claims, aud: ['rp', 'api'], azp: 'api' })],
    ['an expired token', (claims, _issuer, now) => ({ ...claims, iat: now - 400, exp: now - 100 })],
    ['an iat in the future', (claims, _issuer, now) => ({ ...claims, iat: now + 600, exp: now + 900 })],
    ['another nonce', (claims) => ({ ...claims, nonce: 'replayed' })],
    ['no nonce', (claims) => ({ ...claims, nonce: undefined })],
    ['an at_hash of another token', (claims) => ({ ...claims, at_hash: atHash('another-token') })],
    ['no sub', (claims) => ({ ...claims, sub: undefined })],
  ];
  for (const [name, change] of cases) {
    it(`rejects ${name}`, async () => {
      const test = await setup();
      test.use((issuer, now) => change(test.good(issuer, now), issuer, now));
      await expect(test.callback()).rejects.toMatchObject({ code: 'id_token_invalid' });
    });
  }

  it('accepts several audiences with azp = the client, and skew within the tolerance', async () => {
    const test = await setup();
    test.use((issuer, now) => ({ ...test.good(issuer, now), aud: ['rp', 'api'], azp: 'rp', iat: now + 20 }));
    expect((await test.callback()).claims?.azp).toBe('rp');
  });

  it('checks auth_time against max_age when max_age was sent', async () => {
    const test = await setup();
    test.use((issuer, now) => ({ ...test.good(issuer, now), auth_time: now - 100 }));
    expect((await test.callback(300)).claims?.auth_time).toBe(test.clock() - 100);
    await expect(test.callback(60)).rejects.toMatchObject({ code: 'id_token_invalid' });
    test.use(test.good);
    await expect(test.callback(300)).rejects.toMatchObject({ code: 'id_token_invalid' });
    expect((await test.callback()).claims?.sub).toBe('alice');
  });

  it('fetches the JWKS again when a new key signs (rotation)', async () => {
    const test = await setup();
    test.use(test.good);
    await test.callback();
    expect(test.jwksFetches()).toBe(1);
    test.rotate();
    test.clock.advance(60);
    await test.callback();
    expect(test.jwksFetches()).toBe(2);
  });

  it('refuses tokens signed by a key the issuer removed once the JWKS is older than its max age (default 600 s)', async () => {
    const test = await setup();
    test.use(test.good);
    test.publish([0, 1]);
    expect((await test.callback()).claims?.sub).toBe('alice');
    test.publish([1]);
    test.clock.advance(599);
    expect((await test.callback()).claims?.sub).toBe('alice');
    expect(test.jwksFetches()).toBe(1);
    test.clock.advance(1);
    await expect(test.callback()).rejects.toMatchObject({ code: 'id_token_invalid' });
    expect(test.jwksFetches()).toBe(2);
    await expect(test.client.issuerKey({ alg: 'ES256', kid: 'k0' })).rejects.toThrow();
    test.signWith(1);
    expect((await test.callback()).claims?.sub).toBe('alice');
    expect(test.jwksFetches()).toBe(2);
  });

  it('does not fetch the JWKS again within its max age, however many tokens are checked', async () => {
    const test = await setup({ jwksMaxAge: 120 });
    test.use(test.good);
    for (let second = 0; second < 120; second += 20) {
      expect((await test.callback()).claims?.sub).toBe('alice');
      await test.client.issuerKey({ alg: 'ES256', kid: 'k0' });
      test.clock.advance(20);
    }
    expect(test.jwksFetches()).toBe(1);
    expect((await test.callback()).claims?.sub).toBe('alice');
    expect(test.jwksFetches()).toBe(2);
  });

  it('fetches an expired JWKS once for many concurrent lookups', async () => {
    const test = await setup({ jwksMaxAge: 60 });
    test.use(test.good);
    await test.callback();
    expect(test.jwksFetches()).toBe(1);
    test.clock.advance(60);
    test.publish([1]);
    const lookups = await Promise.allSettled([
      ...Array.from({ length: 10 }, () => test.client.issuerKey({ alg: 'ES256', kid: 'k0' })),
      ...Array.from({ length: 5 }, () => test.callback()),
    ]);
    const reasons = lookups.map((lookup) => (lookup.status === 'rejected' ? lookup.reason : lookup.value));
    expect(reasons.slice(0, 10).map((reason) => reason.code)).toEqual(
      Array(10).fill('ERR_JWKS_NO_MATCHING_KEY'),
    );
    expect(reasons.slice(10).map((reason) => reason.code)).toEqual(Array(5).fill('id_token_invalid'));
    expect(test.jwksFetches()).toBe(2);
    test.signWith(1);
    const fresh = await Promise.all(Array.from({ length: 5 }, () => test.callback()));
    expect(fresh.map((tokens) => tokens.claims?.sub)).toEqual(Array(5).fill('alice'));
    expect(test.jwksFetches()).toBe(2);
  });

  const failures: Array<[JwksAnswer, string]> = [
    ['unavailable', 'http_error'],
    ['not-json', 'invalid_response'],
    ['not-a-jwk-set', 'invalid_response'],
    ['reset', 'network_error'],
    ['silent', 'timeout'],
  ];
  for (const [answer, code] of failures) {
    it(`refuses the token (${code}) when the JWKS cannot be fetched again after its max age (${answer}), and recovers`, async () => {
      const test = await setup({ jwksMaxAge: 60, timeout: 300 });
      test.use(test.good);
      await test.callback();
      test.answerJwks(answer);
      test.clock.advance(59);
      expect((await test.callback()).claims?.sub).toBe('alice');
      test.clock.advance(1);
      await expect(test.callback()).rejects.toMatchObject({ code });
      await expect(test.client.issuerKey({ alg: 'ES256', kid: 'k0' })).rejects.toMatchObject({ code });
      expect(test.jwksFetches()).toBe(3);
      test.answerJwks('keys');
      expect((await test.callback()).claims?.sub).toBe('alice');
      expect(test.jwksFetches()).toBe(4);
    });
  }

  it('refuses a jwksMaxAge that is not a positive number of seconds', () => {
    for (const jwksMaxAge of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new OAuthClient({ issuer: 'https://as.example.com', clientId: 'rp', jwksMaxAge })).toThrow(
        /jwksMaxAge/,
      );
    }
  });

  it('requires an id_token when openid was requested', async () => {
    const server = await startLocalServer((_request, _body, response) =>
      json(response, 200, { access_token: 'a', token_type: 'Bearer' }),
    );
    const url = server.url;
    const client = new OAuthClient({
      issuer: url,
      clientId: 'rp',
      metadata: { issuer: url, token_endpoint: `${url}/token` },
    });
    const pending = {
      url: new URL(url),
      state: 's',
      nonce: 'n',
      codeVerifier: 'v'.repeat(43),
      redirectUri: 'https://rp/cb',
    };
    await expect(client.handleCallback('https://rp/cb?code=c&state=s', pending)).rejects.toMatchObject({
      code: 'id_token_invalid',
    });
  });
});
