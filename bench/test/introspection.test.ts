/**
 * Keeps the introspection scenario honest without running it: each target (Gatehouse with the bench
 * config, the oidc-provider peer, the bare ceiling) must pass the harness's pre-measurement check
 * (active for a valid token, inactive for a tampered one, 401 for a wrong secret), and the measured loop
 * must complete introspections against it without errors. Nothing here looks at how fast anything is.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ordersApi, serviceClient } from '../fixtures.ts';
import { ChildServer, freePort, tsxArgs } from '../lib/children.ts';
import { checkIntrospection, introspectionCaller, introspectionRequests } from '../lib/introspection.ts';
import { runLoad, Tally } from '../lib/load.ts';
import { clientCredentialsBody, postToken, serviceAuthorization, type Target } from '../lib/oauth.ts';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-test-'));
const children: ChildServer[] = [];

afterAll(async () => {
  await Promise.all(children.map((child) => child.stop()));
});

async function start(name: string, args: string[], env: Record<string, string>, readyPath: string) {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = ChildServer.start({
    name,
    args,
    cwd: benchDir,
    env: { PORT: String(port), ...env },
    logFile: join(workDir, `${name}.log`),
  });
  children.push(child);
  await child.waitReady(`${baseUrl}${readyPath}`);
  return baseUrl;
}

function target(kind: Target['kind'], baseUrl: string): Target {
  return { kind, baseUrl, authorizePath: '', tokenPath: '/token', jwksPath: '/jwks', sessionCookies: [] };
}

/** Checks the target, then runs the measured loop for a second with a few tokens. */
async function exercise(kind: Target['kind'], baseUrl: string, path: string, tokens: string[]) {
  await checkIntrospection(kind, `${baseUrl}${path}`, tokens[0]!);
  const tally = new Tally();
  const bodies = tokens.map((token) => new URLSearchParams({ token }).toString());
  const result = await runLoad({
    baseUrl,
    connections: 4,
    duration: 1,
    requests: introspectionRequests(path, { bodies }, tally),
    tally,
    timeout: 10,
  });
  expect(Object.fromEntries(result.failures)).toEqual({});
  expect(result.ok).toBeGreaterThan(0);
}

async function mint(server: Target, count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await postToken(server, serviceAuthorization, clientCredentialsBody);
    tokens.push(response.access_token!);
  }
  return tokens;
}

describe('introspection targets', () => {
  it('Gatehouse (bench config) introspects its own access tokens for orders-api', async () => {
    const config = parseYaml(readFileSync(join(benchDir, 'gatehouse.bench.yaml'), 'utf8')) as {
      issuer: string;
      server: { port: number };
      storage: { path: string };
    };
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    config.issuer = baseUrl;
    config.server.port = port;
    config.storage.path = join(workDir, 'gatehouse.db');
    const configFile = join(workDir, 'gatehouse.json');
    writeFileSync(configFile, JSON.stringify(config));
    const child = ChildServer.start({
      name: 'gatehouse',
      args: [
        ...tsxArgs,
        join(benchDir, '../packages/server/src/cli/main.ts'),
        'serve',
        '--config',
        configFile,
      ],
      cwd: join(benchDir, '..'),
      logFile: join(workDir, 'gatehouse.log'),
    });
    children.push(child);
    await child.waitReady(`${baseUrl}/.well-known/openid-configuration`);
    await exercise('gatehouse', baseUrl, '/introspect', await mint(target('gatehouse', baseUrl), 4));
  });

  it('the peer (oidc-provider) introspects its own opaque access tokens', async () => {
    const baseUrl = await start(
      'introspection-peer',
      [...tsxArgs, join(benchDir, 'servers', 'introspection-peer.ts')],
      { RESOURCE_SECRET: introspectionCaller.secret },
      '/.well-known/openid-configuration',
    );
    const tokens = await mint(target('peer', baseUrl), 4);
    expect(tokens[0]).not.toContain('.');
    await exercise('peer', baseUrl, '/token/introspection', tokens);
  });

  it('the ceiling verifies ES256 at+jwt tokens against the JWKS it was given', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = 'test-key';
    const issuer = 'http://127.0.0.1:1';
    const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256' }] });
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const token = (claims: Record<string, unknown> = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const input = `${encode({ alg: 'ES256', typ: 'at+jwt', kid })}.${encode({
        iss: issuer,
        sub: serviceClient.clientId,
        aud: ordersApi.audience,
        client_id: serviceClient.clientId,
        scope: serviceClient.scope,
        jti: randomBytes(12).toString('base64url'),
        iat: now,
        exp: now + 600,
        ...claims,
      })}`;
      const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      return `${input}.${signature.toString('base64url')}`;
    };
    const baseUrl = await start(
      'introspection-ceiling',
      [...tsxArgs, join(benchDir, 'servers', 'introspection-ceiling.ts')],
      {
        ISSUER: issuer,
        JWKS: jwks,
        RESOURCE_ID: introspectionCaller.id,
        RESOURCE_SECRET: introspectionCaller.secret,
      },
      '/introspect',
    );
    await exercise('ceiling', baseUrl, '/introspect', [token(), token(), token()]);
    const inactive = async (value: string) => {
      const response = await fetch(`${baseUrl}/introspect`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${introspectionCaller.id}:${introspectionCaller.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token: value }).toString(),
      });
      return (await response.json()) as { active: boolean };
    };
    expect(await inactive(token({ aud: 'another-api' }))).toEqual({ active: false });
    expect(await inactive(token({ exp: Math.floor(Date.now() / 1000) - 1 }))).toEqual({ active: false });
    expect(await inactive(token({ iss: 'http://elsewhere.invalid' }))).toEqual({ active: false });
  });
});
