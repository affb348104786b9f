/**
 * The admin CLI, run as the real `gatehouse` executable in a child process against a config file with
 * its own SQLite database, and checked through a server built in-process on the same database: what the
 * CLI writes must be what the server then accepts (and nothing secret may be stored or printed twice).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { sha256Base64Url } from '../src/protocol/secrets.ts';
import {
  authorizeThroughLogin,
  Browser,
  basic,
  buildServer,
  codeRequest,
  introspectToken,
  password,
  pkcePair,
  serviceSecret,
  type TestServer,
  testClock,
  testConfig,
  tokenRequest,
  webAppAuth,
  webSecret,
} from './helpers.ts';
import { type CliResult, runGatehouse as runCli } from './processes.ts';

/** Each CLI run is a fresh Node process compiling TypeScript through tsx: seconds each on a busy machine. */
const cliTimeout = 180_000;

interface Setup {
  raw: Record<string, unknown>;
  file: string;
  dbPath: string;
  cli(...args: string[]): Promise<CliResult>;
  cliWithInput(input: string, ...args: string[]): Promise<CliResult>;
}

/** A config file (JSON) in a fresh directory, with its own database. */
function setup(overrides: Record<string, unknown> = {}): Setup {
  const raw = testConfig(overrides);
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-cli-')), 'gatehouse.json');
  writeFileSync(file, JSON.stringify(raw));
  return {
    raw,
    file,
    dbPath: (raw.storage as { path: string }).path,
    cli: (...args) => runCli([...args, '--config', file]),
    cliWithInput: (input, ...args) => runCli([...args, '--config', file], input),
  };
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A server on the same database as the CLI, with a test clock. */
async function serverFor(env: Setup): Promise<TestServer> {
  const config = parseConfig(env.raw);
  const clock = testClock();
  const server = Object.assign(await buildServer(config, { clock }), { clock, config });
  servers.push(server);
  return server;
}

/** Builds and closes a server once, as `serve` would: config clients stored, first signing key made. */
async function initialiseDatabase(env: Setup): Promise<void> {
  await (await buildServer(parseConfig(env.raw))).close();
}

/** Every value in every table of the database, as one string. */
function databaseText(dbPath: string): string {
  const db = new SqliteDatabase(dbPath, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
      name: string;
    }>;
    return tables.map(({ name }) => JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all())).join('\n');
  } finally {
    db.close();
  }
}

function queryRow<T>(dbPath: string, sql: string, ...params: unknown[]): T | undefined {
  const db = new SqliteDatabase(dbPath, { readonly: true });
  try {
    return db.prepare(sql).get(...params) as T | undefined;
  } finally {
    db.close();
  }
}

const secretLine = /^[A-Za-z0-9_-]{43,}$/gm;

/** The one secret printed by add / rotate-secret. */
function printedSecret(stdout: string): string {
  const secrets = stdout.match(secretLine) ?? [];
  expect(secrets).toHaveLength(1);
  return secrets[0]!;
}

function expectCleanFailure(result: CliResult, code: number, message: RegExp): void {
  expect(result.code).toBe(code);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
}

const clientCredentials = (server: TestServer, clientId: string, secret: string) =>
  tokenRequest(server, { grant_type: 'client_credentials' }, basic(clientId, secret));

const addReporting = (env: Setup, ...extra: string[]) =>
  env.cli(
    'client',
    'add',
    '--id',
    'reporting',
    '--name',
    'Reporting job',
    '--grant',
    'client_credentials',
    '--scope',
    'orders.read',
    ...extra,
  );

/**
 * `client add` of a public code-flow client "spa" with `extra` arguments, its redirect URIs and scope
 * (https://spa.example.com/cb and openid offline_access unless given).
 */
const addSpa = (
  env: Setup,
  extra: string[] = [],
  { redirectUris = ['https://spa.example.com/cb'], scope = 'openid offline_access' } = {},
) =>
  env.cli(
    'client',
    'add',
    '--id',
    'spa',
    '--name',
    'SPA',
    '--public',
    '--grant',
    'authorization_code',
    ...redirectUris.flatMap((uri) => ['--redirect-uri', uri]),
    '--scope',
    scope,
    ...extra,
  );

describe('gatehouse client', { timeout: cliTimeout }, () => {
  it('add prints a 256-bit secret once, stores only its SHA-256 hash, and the client gets tokens', async () => {
    const env = setup();
    const result = await addReporting(env);
    expect(result.code).toBe(0);
    const secret = printedSecret(result.stdout);
    expect(result.stdout).toMatch(/store it now: it cannot be shown again/i);
    expect(result.stderr).toBe('');

    const stored = queryRow<{ secret_hash: string; source: string; token_endpoint_auth_method: string }>(
      env.dbPath,
      'SELECT secret_hash, source, token_endpoint_auth_method FROM clients WHERE client_id = ?',
      'reporting',
    );
    expect(stored).toEqual({
      secret_hash: sha256Base64Url(secret),
      source: 'cli',
      token_endpoint_auth_method: 'client_secret_basic',
    });
    expect(databaseText(env.dbPath)).not.toContain(secret);

    const server = await serverFor(env);
    const token = await clientCredentials(server, 'reporting', secret);
    expect(token.status).toBe(200);
    expect(decodeJwt(token.body.access_token as string)).toMatchObject({
      client_id: 'reporting',
      aud: 'orders-api',
      scope: 'orders.read',
    });
    const wrong = await clientCredentials(server, 'reporting', `${secret.slice(0, -1)}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
  });

  it('add of a public client prints no secret and stores none', async () => {
    const env = setup();
    const result = await env.cli(
      'client',
      'add',
      '--id',
      'spa',
      '--name',
      'Single page app',
      '--public',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      'https://spa.example.com/cb',
      '--scope',
      'openid profile',
    );
    expect(result.code).toBe(0);
    expect(result.stdout.match(secretLine)).toBeNull();
    expect(
      queryRow(
        env.dbPath,
        'SELECT secret_hash, token_endpoint_auth_method, scopes FROM clients WHERE client_id = ?',
        'spa',
      ),
    ).toEqual({ secret_hash: null, token_endpoint_auth_method: 'none', scopes: '["openid","profile"]' });
    expectCleanFailure(await env.cli('client', 'rotate-secret', 'spa'), 1, /public client and has no secret/);
  });

  it('list shows id, name, type, grants and source, never a secret or hash', async () => {
    const env = setup();
    const secret = printedSecret((await addReporting(env)).stdout);
    await initialiseDatabase(env);
    const hash = sha256Base64Url(secret);

    const table = await env.cli('client', 'list');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^reporting\s+Reporting job\s+confidential\s+client_credentials\s+cli$/m);
    expect(table.stdout).toMatch(
      /^native-app\s+Native App\s+public\s+authorization_code,refresh_token\s+config$/m,
    );

    const json = await env.cli('client', 'list', '--json');
    expect(json.code).toBe(0);
    const clients = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(clients.find((client) => client.clientId === 'reporting')).toMatchObject({
      name: 'Reporting job',
      type: 'confidential',
      grantTypes: ['client_credentials'],
      source: 'cli',
    });
    for (const output of [table.stdout, json.stdout]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(hash);
      expect(output).not.toContain(sha256Base64Url(webSecret));
      expect(output).not.toMatch(/secret_?hash/i);
    }
  });

  it('rotate-secret makes the old secret fail at once and the new one work', async () => {
    const env = setup();
    const oldSecret = printedSecret((await addReporting(env)).stdout);
    const server = await serverFor(env);
    expect((await clientCredentials(server, 'reporting', oldSecret)).status).toBe(200);

    const rotated = await env.cli('client', 'rotate-secret', 'reporting');
    expect(rotated.code).toBe(0);
    const newSecret = printedSecret(rotated.stdout);
    expect(newSecret).not.toBe(oldSecret);
    expect(rotated.stdout).toMatch(/cannot be shown again/);
    expect(rotated.stdout).toMatch(/previous secret stopped working/i);

    const old = await clientCredentials(server, 'reporting', oldSecret);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_client');
    expect((await clientCredentials(server, 'reporting', newSecret)).status).toBe(200);
    expect(databaseText(env.dbPath)).not.toContain(newSecret);
  });

  it('rotate-secret --overlap keeps the previous secret working until then, and drops an older one', async () => {
    const env = setup();
    const first = printedSecret((await addReporting(env)).stdout);
    const server = await serverFor(env);

    const rotated = await env.cli('client', 'rotate-secret', 'reporting', '--overlap', '1h');
    expect(rotated.code).toBe(0);
    const second = printedSecret(rotated.stdout);
    expect(rotated.stdout).toMatch(/previous secret keeps working until \d{4}-\d\d-\d\dT[\d:]+Z/);
    expect((await clientCredentials(server, 'reporting', first)).status).toBe(200);
    expect((await clientCredentials(server, 'reporting', second)).status).toBe(200);

    // A third secret: the second overlaps now, the first is dropped at once (two at most).
    const again = await env.cli('client', 'rotate-secret', 'reporting', '--overlap', '1h', '--json');
    expect(again.code).toBe(0);
    const { clientSecret: third, previousSecretExpiresAt } = JSON.parse(again.stdout) as {
      clientSecret: string;
      previousSecretExpiresAt: number;
    };
    const stored = queryRow<{ secrets: string }>(
      env.dbPath,
      'SELECT secrets FROM clients WHERE client_id = ?',
      'reporting',
    );
    expect(JSON.parse(stored!.secrets)).toEqual([
      { hash: sha256Base64Url(third), expiresAt: null },
      { hash: sha256Base64Url(second), expiresAt: previousSecretExpiresAt },
    ]);
    expect((await clientCredentials(server, 'reporting', first)).status).toBe(401);
    expect((await clientCredentials(server, 'reporting', third)).status).toBe(200);

    // The overlap ends on the server's clock: in it the second works, from its end it is refused.
    server.clock.advance(previousSecretExpiresAt - 1 - server.clock());
    expect((await clientCredentials(server, 'reporting', second)).status).toBe(200);
    server.clock.advance(1);
    const ended = await clientCredentials(server, 'reporting', second);
    expect(ended.status).toBe(401);
    expect(ended.body.error).toBe('invalid_client');
    expect((await clientCredentials(server, 'reporting', third)).status).toBe(200);

    const listed = JSON.parse((await env.cli('client', 'list', '--json')).stdout) as Array<
      Record<string, unknown>
    >;
    expect(listed.find((client) => client.clientId === 'reporting')?.secretExpiries).toEqual([
      null,
      new Date(previousSecretExpiresAt * 1000).toISOString().replace('.000Z', 'Z'),
    ]);
    expect(databaseText(env.dbPath)).not.toContain(third);
  });

  it('rotate-secret refuses an overlap that is not a duration or longer than 30 days', async () => {
    const env = setup();
    await addReporting(env);
    expectCleanFailure(
      await env.cli('client', 'rotate-secret', 'reporting', '--overlap', 'tomorrow'),
      1,
      /--overlap must be a duration such as 30m, 24h or 7d .*not "tomorrow"/,
    );
    expectCleanFailure(
      await env.cli('client', 'rotate-secret', 'reporting', '--overlap', '31d'),
      1,
      /--overlap must be at most 30d/,
    );
  });

  it('add stores refresh-token lifetimes given as durations, and refuses bad ones', async () => {
    const env = setup();
    expectCleanFailure(
      await addSpa(env, ['--grant', 'refresh_token', '--refresh-idle', '2x']),
      1,
      /--refresh-idle must be a duration/,
    );
    expectCleanFailure(
      await addSpa(env, ['--refresh-idle', '2h']),
      1,
      /--refresh-absolute \/ --refresh-idle: refreshTokenLifetime needs the refresh_token grant type/,
    );
    expectCleanFailure(
      await addSpa(env, ['--grant', 'refresh_token', '--refresh-absolute', '30m']),
      1,
      /--refresh-absolute \/ --refresh-idle \(absolute\)/,
    );
    const added = await addSpa(env, [
      '--grant',
      'refresh_token',
      '--refresh-absolute',
      '24h',
      '--refresh-idle',
      '2h',
    ]);
    expect(added.code).toBe(0);
    const listed = JSON.parse((await env.cli('client', 'list', '--json')).stdout) as Array<
      Record<string, unknown>
    >;
    expect(listed.find((client) => client.clientId === 'spa')).toMatchObject({
      refreshTokenLifetime: { absolute: 86400, idle: 7200 },
      secretExpiries: [],
    });
  });

  it('rotate-secret refuses config clients and public clients', async () => {
    const env = setup();
    const server = await serverFor(env);
    expectCleanFailure(
      await env.cli('client', 'rotate-secret', 'service-a'),
      1,
      /"service-a" is declared in the config file/,
    );
    expect((await clientCredentials(server, 'service-a', serviceSecret)).status).toBe(200);
    expectCleanFailure(await env.cli('client', 'rotate-secret', 'nobody'), 1, /no client "nobody"/);
  });

  it('remove deletes a CLI client and revokes its grants; config clients are refused', async () => {
    const env = setup();
    const add = () => addSpa(env, ['--grant', 'refresh_token', '--no-consent']);
    expect((await add()).code).toBe(0);
    const server = await serverFor(env);
    const pkce = pkcePair();
    const redirect = await authorizeThroughLogin(
      new Browser(server),
      codeRequest(pkce, {
        clientId: 'spa',
        redirectUri: 'https://spa.example.com/cb',
        scope: 'openid offline_access',
      }),
    );
    const tokens = await tokenRequest(server, {
      grant_type: 'authorization_code',
      client_id: 'spa',
      code: redirect.searchParams.get('code')!,
      redirect_uri: 'https://spa.example.com/cb',
      code_verifier: pkce.verifier,
    });
    expect(tokens.status).toBe(200);
    const refreshToken = tokens.body.refresh_token as string;

    const removed = await env.cli('client', 'remove', 'spa');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/Removed client "spa"/);
    expect((await env.cli('client', 'list')).stdout).not.toMatch(/^spa\s/m);
    expectCleanFailure(await env.cli('client', 'remove', 'spa'), 1, /no client "spa"/);

    // Registered again under the same id, the client must not inherit its predecessor's refresh token.
    expect((await add()).code).toBe(0);
    const refreshed = await tokenRequest(server, {
      grant_type: 'refresh_token',
      client_id: 'spa',
      refresh_token: refreshToken,
    });
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');

    expectCleanFailure(
      await env.cli('client', 'remove', 'web-app'),
      1,
      /declared in the config file; remove it from the file/,
    );
    expect(queryRow(env.dbPath, 'SELECT source FROM clients WHERE client_id = ?', 'web-app')).toEqual({
      source: 'config',
    });
  });

  it('add registers a private_key_jwt client from a JWK Set file (no secret) that gets tokens with assertions', async () => {
    const env = setup();
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwksFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-cli-jwks-')), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
    const result = await env.cli(
      'client',
      'add',
      '--id',
      'keyed',
      '--name',
      'Keyed service',
      '--auth-method',
      'private_key_jwt',
      '--jwks-file',
      jwksFile,
      '--signing-alg',
      'ES256',
      '--grant',
      'client_credentials',
      '--scope',
      'orders.read',
      '--json',
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      clientId: 'keyed',
      type: 'confidential',
      clientSecret: null,
    });
    const stored = queryRow<{ secret_hash: string | null; authentication: string }>(
      env.dbPath,
      'SELECT secret_hash, authentication FROM clients WHERE client_id = ?',
      'keyed',
    );
    expect(stored?.secret_hash).toBeNull();
    expect(JSON.parse(stored!.authentication)).toMatchObject({ tokenEndpointAuthSigningAlg: 'ES256' });

    const server = await serverFor(env);
    const now = server.clock();
    const clientAssertion = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('keyed')
      .setSubject('keyed')
      .setAudience(server.config.issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const token = await tokenRequest(server, {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion,
    });
    expect(token.status).toBe(200);
    expect(decodeJwt(token.body.access_token as string)).toMatchObject({ client_id: 'keyed' });
  });

  it('add registers a CIBA client in ping mode, and refuses ping without a notification endpoint', async () => {
    const env = setup();
    const base = [
      'client',
      'add',
      '--name',
      'Teller',
      '--grant',
      'urn:openid:params:grant-type:ciba',
      '--scope',
      'openid',
    ];
    const ping = await env.cli(
      ...base,
      '--id',
      'teller',
      '--backchannel-delivery-mode',
      'ping',
      '--backchannel-notification-endpoint',
      'https://teller.example.com/ciba',
    );
    expect(ping.code, ping.stderr).toBe(0);
    const stored = queryRow<{ backchannel_authentication: string }>(
      env.dbPath,
      'SELECT backchannel_authentication FROM clients WHERE client_id = ?',
      'teller',
    );
    expect(JSON.parse(stored!.backchannel_authentication)).toEqual({
      tokenDeliveryMode: 'ping',
      clientNotificationEndpoint: 'https://teller.example.com/ciba',
    });
    expectCleanFailure(
      await env.cli(...base, '--id', 'teller-2', '--backchannel-delivery-mode', 'ping'),
      1,
      /--backchannel-notification-endpoint: backchannelClientNotificationEndpoint is required in ping mode/,
    );
    expectCleanFailure(
      await env.cli(...base, '--id', 'teller-3'),
      1,
      /--backchannel-delivery-mode: the urn:openid:params:grant-type:ciba grant needs backchannelTokenDeliveryMode/,
    );
  });

  it('add registers tls_client_auth and self-signed certificate clients, and refuses incomplete ones', async () => {
    const env = setup();
    const base = [
      'client',
      'add',
      '--name',
      'mTLS',
      '--grant',
      'client_credentials',
      '--scope',
      'orders.read',
    ];
    const tls = await env.cli(
      ...base,
      '--id',
      'tls',
      '--auth-method',
      'tls_client_auth',
      '--tls-subject-dn',
      'CN=tls.example.com,O=Example',
      '--certificate-bound',
    );
    expect(tls.code).toBe(0);
    expect(tls.stdout).not.toMatch(secretLine);
    // Accepted without server.tls (it may be set up later), with the warnings the admin API refuses on.
    expect(tls.stderr).toMatch(/warning: client certificates need server.tls or mtls.trustedProxyHeader/);
    expect(tls.stderr).toMatch(/warning: tls_client_auth needs mtls.ca/);
    const stored = queryRow<{ authentication: string; token_endpoint_auth_method: string }>(
      env.dbPath,
      'SELECT authentication, token_endpoint_auth_method FROM clients WHERE client_id = ?',
      'tls',
    );
    expect(stored?.token_endpoint_auth_method).toBe('tls_client_auth');
    expect(JSON.parse(stored!.authentication)).toMatchObject({
      tlsClientAuthSubjectDn: 'CN=tls.example.com,O=Example',
      tlsClientCertificateBoundAccessTokens: true,
    });
    const selfSigned = await env.cli(
      ...base,
      '--id',
      'self-signed',
      '--auth-method',
      'self_signed_tls_client_auth',
      '--jwks-uri',
      'https://keys.example.com/jwks.json',
    );
    expect(selfSigned.code).toBe(0);

    const privateJwks = join(mkdtempSync(join(tmpdir(), 'gatehouse-cli-jwks-')), 'private.json');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    writeFileSync(privateJwks, JSON.stringify({ keys: [await exportJWK(privateKey)] }));
    const cases: Array<[string[], RegExp]> = [
      [
        ['--id', 'a', '--auth-method', 'private_key_jwt'],
        /--jwks-file \/ --jwks-uri: private_key_jwt needs exactly one of jwks or jwksUri/,
      ],
      [
        ['--id', 'b', '--auth-method', 'private_key_jwt', '--jwks-file', privateJwks],
        /--jwks-file \/ --jwks-uri \(keys\.0/,
      ],
      [
        ['--id', 'c', '--auth-method', 'private_key_jwt', '--jwks-file', '/nonexistent.json'],
        /--jwks-file \/nonexistent.json cannot be read/,
      ],
      [
        ['--id', 'd', '--auth-method', 'private_key_jwt', '--jwks-uri', 'http://keys.example.com/j'],
        /--jwks-uri: must be an https URL/,
      ],
      [['--id', 'e', '--auth-method', 'tls_client_auth'], /tls_client_auth needs exactly one of/],
      [
        [
          '--id',
          'f',
          '--auth-method',
          'tls_client_auth',
          '--tls-subject-dn',
          'CN=a',
          '--tls-san-dns',
          'a.example',
        ],
        /tls_client_auth needs exactly one of/,
      ],
      [
        ['--id', 'g', '--signing-alg', 'ES256'],
        /--signing-alg: tokenEndpointAuthSigningAlg is only for private_key_jwt/,
      ],
      [['--id', 'h', '--auth-method', 'password'], /--auth-method must be one of client_secret_basic, /],
    ];
    const results = await Promise.all(cases.map(([args]) => env.cli(...base, ...args)));
    results.forEach((result, index) => {
      expectCleanFailure(result, 1, cases[index]![1]);
    });
    expect(databaseText(env.dbPath)).not.toMatch(/"client_id":"[a-h]"/);

    const fapi = setup({
      profile: 'fapi2',
      clients: [],
      tokens: { rotateSenderConstrainedRefreshTokens: false },
    });
    expectCleanFailure(await addReporting(fapi), 1, /FAPI 2.0 profile: use --auth-method private_key_jwt/);
  });

  it('rejects bad input with exit code 1, a message and no stack trace, storing nothing', async () => {
    const env = setup();
    const base = ['client', 'add', '--id', 'new-app', '--name', 'New'];
    const cases: Array<[string[], RegExp]> = [
      [
        [...base, '--grant', 'authorization_code', '--redirect-uri', 'http://app.example.com/cb'],
        /http:\/\/app\.example\.com\/cb may use http only on a loopback host/,
      ],
      [[...base, '--grant', 'authorization_code'], /authorization_code needs at least one --redirect-uri/],
      [
        [...base, '--public', '--grant', 'client_credentials'],
        /client_credentials needs a confidential client/,
      ],
      [[...base, '--grant', 'implicit'], /--grant "implicit" is not one of/],
      [['client', 'add', '--id', 'bad id!', '--name', 'X', '--grant', 'client_credentials'], /--id must be/],
      [['client', 'add', '--name', 'X', '--grant', 'client_credentials'], /--id is required/],
      [[...base, '--grant', 'client_credentials', '--secret', 'mine'], /Unknown option '--secret'/],
      [
        ['client', 'add', '--id', 'service-a', '--name', 'Dup', '--grant', 'client_credentials'],
        /already exists/,
      ],
      [['client', 'frobnicate'], /unknown subcommand "frobnicate"/],
    ];
    const results = await Promise.all(cases.map(([args]) => env.cli(...args)));
    results.forEach((result, index) => {
      expectCleanFailure(result, 1, cases[index]![1]);
    });
    // Every case was refused before the database was opened (or created).
    expect(existsSync(env.dbPath)).toBe(false);

    expect((await addReporting(env)).code).toBe(0);
    expectCleanFailure(await addReporting(env), 1, /client "reporting" already exists/);
    // A scope the file does not know may have been added to the database (gatehouse scope add): looked up there.
    expectCleanFailure(
      await env.cli(...base, '--grant', 'client_credentials', '--scope', 'orders.delete'),
      1,
      /--scope "orders.delete" is unknown/,
    );
    expect(databaseText(env.dbPath)).not.toContain('new-app');
  });

  it('exits 2 on a bad config and prints usage for --help', async () => {
    const missing = await runCli(['client', 'list', '--config', '/nonexistent/gatehouse.yaml']);
    expectCleanFailure(missing, 2, /cannot read config file/);
    const invalid = setup({ issuer: 'ftp://example.com' });
    expectCleanFailure(await invalid.cli('client', 'list'), 2, /config issuer/);
    const memory = setup({ storage: { path: ':memory:' } });
    expectCleanFailure(await memory.cli('keys', 'list'), 2, /:memory:/);

    for (const [group, word] of [
      ['client', 'rotate-secret'],
      ['user', '--username'],
      ['keys', 'rotate'],
    ] as const) {
      const help = await runCli([group, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: gatehouse ${group}`);
      expect(help.stdout).toContain(word);
    }
    expectCleanFailure(await runCli(['client']), 1, /a subcommand is required/);
  });

  it('--version prints the package version and needs no config', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v']) {
      const result = await runCli([flag]);
      expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });
});

describe('gatehouse client and the running server', { timeout: cliTimeout }, () => {
  /** The Access-Control-Allow-Origin that discovery and /token answer a request from `origin` with. */
  async function corsFor(server: TestServer, origin: string) {
    const discovery = await server.app.inject({
      url: '/.well-known/openid-configuration',
      headers: { origin },
    });
    const token = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials',
    });
    return [discovery.headers['access-control-allow-origin'], token.headers['access-control-allow-origin']];
  }

  it('add --public and --cors-origin give CORS at once; remove stops the access tokens at once', async () => {
    const env = setup();
    await initialiseDatabase(env);
    // The server runs before the CLI changes anything: it must see each change at its next request.
    const server = await serverFor(env);
    const spaOrigin = 'https://spa.example.com';
    const reportsOrigin = 'https://reports.example.com';
    expect(await corsFor(server, spaOrigin)).toEqual([undefined, undefined]);

    const spa = await addSpa(env, [], {
      redirectUris: [`${spaOrigin}/callback`, 'com.example.spa:/callback'],
      scope: 'openid',
    });
    expect(spa.code).toBe(0);
    expect(await corsFor(server, spaOrigin)).toEqual([spaOrigin, spaOrigin]);

    expectCleanFailure(
      await addReporting(env, '--cors-origin', `${reportsOrigin}/path`),
      1,
      /--cors-origin.*: must be an origin/,
    );
    const reporting = await addReporting(env, '--cors-origin', reportsOrigin, '--json');
    expect(reporting.code).toBe(0);
    expect(await corsFor(server, reportsOrigin)).toEqual([reportsOrigin, reportsOrigin]);
    const listed = JSON.parse((await env.cli('client', 'list', '--json')).stdout) as Record<
      string,
      unknown
    >[];
    expect(listed.find((client) => client.clientId === 'spa')?.corsOrigins).toEqual([spaOrigin]);
    expect(listed.find((client) => client.clientId === 'reporting')?.corsOrigins).toEqual([reportsOrigin]);

    const secret = (JSON.parse(reporting.stdout) as { clientSecret: string }).clientSecret;
    const token = (await clientCredentials(server, 'reporting', secret)).body.access_token as string;
    const introspect = () => introspectToken(server, token);
    expect((await introspect()).body.active).toBe(true);
    expect((await env.cli('client', 'remove', 'reporting')).code).toBe(0);
    expect((await introspect()).body).toEqual({ active: false });
    expect(await corsFor(server, reportsOrigin)).toEqual([undefined, undefined]);
  });

  it('disable stops a client and its access tokens at once, enable lets it work again (the admin API operation)', async () => {
    const env = setup();
    await initialiseDatabase(env);
    const server = await serverFor(env);
    const secret = printedSecret((await addReporting(env)).stdout);
    const token = (await clientCredentials(server, 'reporting', secret)).body.access_token as string;
    expect((await introspectToken(server, token)).body.active).toBe(true);

    const disabled = await env.cli('client', 'disable', 'reporting', '--json');
    expect(disabled.code).toBe(0);
    const answer = JSON.parse(disabled.stdout) as Record<string, unknown>;
    expect(answer).toMatchObject({ clientId: 'reporting', grantsRevoked: false });
    expect(answer.disabledAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await introspectToken(server, token)).body).toEqual({ active: false });
    expect((await clientCredentials(server, 'reporting', secret)).body.error).toBe('invalid_client');
    const listed = JSON.parse((await env.cli('client', 'list', '--json')).stdout) as Record<
      string,
      unknown
    >[];
    expect(listed.find((client) => client.clientId === 'reporting')?.disabledAt).toBe(answer.disabledAt);

    const enabled = await env.cli('client', 'enable', 'reporting');
    expect(enabled.code).toBe(0);
    expect(enabled.stdout).toMatch(/Enabled client "reporting"/);
    expect((await introspectToken(server, token)).body.active).toBe(true);
    expect((await clientCredentials(server, 'reporting', secret)).status).toBe(200);

    expectCleanFailure(await env.cli('client', 'disable', 'web-app'), 1, /declared in the config file/);
    expectCleanFailure(await env.cli('client', 'disable', 'nobody'), 1, /no client "nobody"/);
    expectCleanFailure(await env.cli('client', 'disable'), 1, /usage: gatehouse client disable ID/);
    expectCleanFailure(await env.cli('client', 'enable', 'reporting', '--revoke-grants'), 1, /revoke-grants/);
  });
});

describe('gatehouse scope and gatehouse api', { timeout: cliTimeout }, () => {
  const json = (result: CliResult) => JSON.parse(result.stdout) as Record<string, unknown>[];

  it('add a scope and an API resource a running server uses at once; remove them once nothing uses them', async () => {
    const env = setup();
    await initialiseDatabase(env);
    const server = await serverFor(env);
    const scope = await env.cli('scope', 'add', 'inventory.read', '--description', 'Read the inventory');
    expect(scope).toMatchObject({ code: 0, stderr: '' });
    expect(scope.stdout).toMatch(/Added scope "inventory.read"/);
    const api = await env.cli(
      'api',
      'add',
      'inventory-api',
      '--scope',
      'inventory.read',
      '--uri',
      'https://inventory.example.com',
      '--claims-roles',
      'false',
    );
    expect(api.code).toBe(0);
    expect(api.stdout).toMatch(/Added API resource "inventory-api" .*\nIntrospection secret:\n/);
    const apiSecret = printedSecret(api.stdout);
    const stored = databaseText(env.dbPath);
    expect(stored).not.toContain(apiSecret);
    expect(stored).toContain(sha256Base64Url(apiSecret));

    // A client of the CLI may name the stored scope; the running server issues a token for the new API.
    const reporting = await addReporting(env, '--scope', 'inventory.read');
    expect(reporting.code).toBe(0);
    const token = await tokenRequest(
      server,
      { grant_type: 'client_credentials', scope: 'inventory.read' },
      basic('reporting', printedSecret(reporting.stdout)),
    );
    const accessToken = token.body.access_token as string;
    expect(decodeJwt(accessToken)).toMatchObject({ aud: 'inventory-api', scope: 'inventory.read' });
    const described = await introspectToken(server, accessToken, basic('inventory-api', apiSecret));
    expect(described.body).toMatchObject({ active: true, scope: 'inventory.read' });

    const scopes = json(await env.cli('scope', 'list', '--json'));
    expect(scopes).toContainEqual({
      name: 'openid',
      description: 'Sign you in',
      kind: 'identity',
      source: 'config',
    });
    expect(scopes).toContainEqual({
      name: 'orders.read',
      description: 'Read your orders',
      kind: 'api',
      source: 'config',
    });
    expect(scopes).toContainEqual({
      name: 'inventory.read',
      description: 'Read the inventory',
      kind: 'api',
      source: 'admin',
    });
    const listed = await env.cli('api', 'list', '--json');
    expect(listed.stdout).not.toContain(apiSecret);
    expect(json(listed).find((entry) => entry.id === 'orders-api')).toMatchObject({
      source: 'config',
      hasSecret: true,
    });
    const added = json(listed).find((entry) => entry.id === 'inventory-api');
    expect(added).toMatchObject({
      uris: ['https://inventory.example.com'],
      scopes: ['inventory.read'],
      accessTokenFormat: 'jwt',
      claims: { user: [], roles: false },
      scopeClaim: 'scope',
      source: 'admin',
      hasSecret: true,
    });
    expect(added?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT[\d:]+Z$/);
    const table = await env.cli('api', 'list');
    expect(table.stdout).toMatch(/^ID +SCOPES +FORMAT +SOURCE\n/);
    expect(table.stdout).toMatch(/inventory-api +inventory.read +jwt +admin/);

    // The admin API's rules: a scope stays while an API resource or a client uses it.
    const removeScope = () => env.cli('scope', 'remove', 'inventory.read');
    expectCleanFailure(
      await removeScope(),
      1,
      /scope "inventory.read" is used by API resource "inventory-api"/,
    );
    const removed = await env.cli('api', 'remove', 'inventory-api', '--json');
    expect(JSON.parse(removed.stdout)).toEqual({ id: 'inventory-api', removed: true });
    expect((await introspectToken(server, accessToken, basic('inventory-api', apiSecret))).status).toBe(401);
    expectCleanFailure(await removeScope(), 1, /allowed to client "reporting"/);
    expect((await env.cli('client', 'remove', 'reporting')).code).toBe(0);
    expect((await removeScope()).stdout).toMatch(/Removed scope "inventory.read"/);
    expect(json(await env.cli('scope', 'list', '--json')).map((entry) => entry.name)).not.toContain(
      'inventory.read',
    );
  });

  it('refuses what the admin API refuses, naming the option, with exit code 1 and no stack trace', async () => {
    const env = setup();
    await initialiseDatabase(env);
    const before = databaseText(env.dbPath);
    const cases: [string[], RegExp][] = [
      [['scope', 'remove', 'orders.read'], /scope "orders.read" is declared in the config file/],
      [['scope', 'remove', 'openid'], /scope "openid" is declared in the config file/],
      [['scope', 'add', 'orders.read', '--description', 'Mine'], /declared in the config file/],
      [['scope', 'add', 'inventory.read'], /cannot add the scope:\n {2}- --description: /],
      [['scope', 'add', 'a"b', '--description', 'Quoted'], /- NAME: /],
      [['scope', 'remove', 'nothing'], /no scope "nothing"/],
      [['scope', 'remove'], /usage: gatehouse scope remove NAME/],
      [
        ['api', 'add', 'orders-api', '--scope', 'orders.read'],
        /API resource "orders-api" is declared in the config file/,
      ],
      [['api', 'add', 'inventory-api', '--scope', 'nope'], /cannot add the API resource:\n {2}- --scope/],
      [['api', 'add', 'inventory-api', '--scope', 'orders.read'], /- --scope.*orders.read/],
      [['api', 'add', 'inventory-api', '--scope', 'api1.read', '--uri', 'not-a-uri'], /- --uri \(0\): /],
      [
        ['api', 'add', 'inventory-api', '--scope', 'api1.read', '--access-token-format', 'paseto'],
        /- --access-token-format: /,
      ],
      [
        ['api', 'add', 'inventory-api', '--scope', 'api1.read', '--claims-roles', 'maybe'],
        /- --claims-user \/ --claims-roles \(roles\): /,
      ],
      [
        ['api', 'add', 'inventory-api', '--scope', 'api1.read', '--access-token-ttl', '5x'],
        /--access-token-ttl must be a duration/,
      ],
      [['api', 'add', 'inventory-api', '--scope', 'api1.read', '--secret', 'x'], /Unknown option '--secret'/],
      [['api', 'remove', 'orders-api'], /API resource "orders-api" is declared in the config file/],
      [['api', 'remove', 'nothing'], /no API resource "nothing"/],
    ];
    for (const [args, message] of cases) expectCleanFailure(await env.cli(...args), 1, message);
    expect(databaseText(env.dbPath)).toBe(before);
    const help = await runCli(['api', '--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/--access-token-format FORMAT/);
    expect((await runCli(['scope', 'add', '--help'])).stdout).toMatch(/^Usage: gatehouse scope/);
  });
});

describe('gatehouse user add', { timeout: cliTimeout }, () => {
  const carol = { username: 'carol', password: 'a long passphrase for carol' };

  it('reads the password from stdin, stores an argon2id hash, and the user can log in', async () => {
    const env = setup();
    const result = await env.cliWithInput(
      `${carol.password}\nthe rest of stdin is ignored\n`,
      'user',
      'add',
      '--username',
      'carol',
      '--email',
      'carol@example.com',
      '--name',
      'Carol Cole',
      '--role',
      'Auditor',
    );
    expect(result.code).toBe(0);
    const sub = /sub ([A-Za-z0-9_-]+)/.exec(result.stdout)?.[1];
    expect(sub).toBeDefined();

    const row = queryRow<{ password_hash: string; claims: string; roles: string }>(
      env.dbPath,
      'SELECT password_hash, claims, roles FROM users WHERE username = ?',
      'carol',
    );
    expect(row?.password_hash.startsWith('$argon2id$')).toBe(true);
    expect(JSON.parse(row!.claims)).toEqual({
      name: 'Carol Cole',
      email: 'carol@example.com',
      email_verified: false,
    });
    expect(JSON.parse(row!.roles)).toEqual(['Auditor']);
    expect(databaseText(env.dbPath)).not.toContain(carol.password);

    const server = await serverFor(env);
    const pkce = pkcePair();
    const redirect = await authorizeThroughLogin(new Browser(server), codeRequest(pkce), carol);
    const tokens = await tokenRequest(
      server,
      {
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code')!,
        redirect_uri: 'https://webapp.example.com/signin-oidc',
        code_verifier: pkce.verifier,
      },
      webAppAuth,
    );
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string).sub).toBe(sub);

    await expect(
      authorizeThroughLogin(new Browser(server), codeRequest(pkcePair()), {
        username: 'carol',
        password: 'the rest of stdin is ignored',
      }),
    ).rejects.toThrow(/login answered/);
  });

  it('never takes the password from the arguments', async () => {
    const env = setup();
    const secret = 'argv-password-123';
    for (const args of [['--password', secret], [`--password=${secret}`], ['-p', secret], [secret]]) {
      const result = await env.cliWithInput(
        `${carol.password}\n`,
        'user',
        'add',
        '--username',
        'carol',
        ...args,
      );
      expectCleanFailure(result, 1, /(never accepted as arguments|never from arguments)/);
      expect(result.stderr).not.toContain(secret);
    }
    // Refused before the database was even opened.
    expect(existsSync(env.dbPath)).toBe(false);
  });

  it('refuses short or missing passwords and existing usernames', async () => {
    const env = setup();
    expectCleanFailure(
      await env.cliWithInput('short\n', 'user', 'add', '--username', 'dave'),
      1,
      /at least 8 characters/,
    );
    expectCleanFailure(
      await env.cliWithInput('', 'user', 'add', '--username', 'dave'),
      1,
      /no password on stdin/,
    );
    expectCleanFailure(
      await env.cliWithInput(`${password}\n`, 'user', 'add', '--username', 'alice'),
      1,
      /"alice" already exists/,
    );
    expect((await env.cliWithInput(`${carol.password}\n`, 'user', 'add', '--username', 'carol')).code).toBe(
      0,
    );
    const hash = queryRow<{ password_hash: string }>(
      env.dbPath,
      'SELECT password_hash FROM users WHERE username = ?',
      'carol',
    );
    expectCleanFailure(
      await env.cliWithInput('another password\n', 'user', 'add', '--username', 'carol'),
      1,
      /"carol" already exists/,
    );
    expect(queryRow(env.dbPath, 'SELECT password_hash FROM users WHERE username = ?', 'carol')).toEqual(hash);
    expectCleanFailure(await env.cliWithInput('', 'user', 'add'), 1, /--username is required/);
  });
});

describe('gatehouse keys', { timeout: cliTimeout }, () => {
  const publishBeforeUse = 600;

  async function signingKid(server: TestServer): Promise<string> {
    const token = await clientCredentials(server, 'service-a', serviceSecret);
    expect(token.status).toBe(200);
    return decodeProtectedHeader(token.body.access_token as string).kid!;
  }

  async function publishedKids(server: TestServer): Promise<string[]> {
    const response = await server.app.inject({ method: 'GET', url: '/jwks' });
    return (JSON.parse(response.body) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
  }

  it('rotate publishes the next key at once and it signs only after publishBeforeUse', async () => {
    const env = setup({ keys: { publishBeforeUse, reloadInterval: 30 } });
    const server = await serverFor(env);
    const oldKid = await signingKid(server);
    expect(await publishedKids(server)).toEqual([oldKid]);

    const rotated = await env.cli('keys', 'rotate');
    expect(rotated.code).toBe(0);
    const newKid = /New signing key (\S+)/.exec(rotated.stdout)?.[1];
    expect(newKid).toBeDefined();
    expect(newKid).not.toBe(oldKid);
    expect(rotated.stdout).toContain(`Key ${oldKid} stops signing`);

    // The CLI stamped the rotation with the system clock; bring the test clock up to it, so that "not
    // signing yet" below is checked after the rotation instant, not before it.
    server.clock.advance(Math.max(0, Math.floor(Date.now() / 1000) - server.clock()));
    await server.ctx.keys.reload(server.clock());
    expect(await publishedKids(server)).toEqual([oldKid, newKid]);
    expect(await signingKid(server)).toBe(oldKid);

    server.clock.advance(publishBeforeUse);
    await server.ctx.keys.reload(server.clock());
    expect(await signingKid(server)).toBe(newKid);
    expect(await publishedKids(server)).toContain(oldKid);
  });

  it('list shows kid, algorithm and timing but no key material', async () => {
    const env = setup({ keys: { publishBeforeUse } });
    await initialiseDatabase(env);
    expect((await env.cli('keys', 'rotate')).code).toBe(0);

    const json = await env.cli('keys', 'list', '--json');
    expect(json.code).toBe(0);
    const keys = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(keys).toHaveLength(2);
    expect(keys.map((key) => key.status)).toEqual(['signing', 'next']);
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual([
        'alg',
        'expiresAt',
        'kid',
        'retiredAt',
        'signsFrom',
        'status',
      ]);
      expect(key.alg).toBe('ES256');
    }
    expect(keys[0]!.retiredAt).toBe(keys[1]!.signsFrom);

    const table = await env.cli('keys', 'list');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^KID\s+ALG\s+STATUS\s+SIGNS FROM\s+RETIRED AT\s+EXPIRES AT$/m);
    const db = new SqliteDatabase(env.dbPath, { readonly: true });
    const privateKeys = db.prepare('SELECT private_jwk FROM signing_keys').all() as Array<{
      private_jwk: string;
    }>;
    db.close();
    expect(privateKeys).toHaveLength(2);
    for (const { private_jwk } of privateKeys) {
      const { d } = JSON.parse(private_jwk) as { d: string };
      expect(json.stdout).not.toContain(d);
      expect(table.stdout).not.toContain(d);
    }
  });
});
