/**
 * The legacy PostgreSQL account store (`accounts.type: postgres-legacy`, accounts/legacy.ts) on the real
 * PostgreSQL: a uniquely named users table with bcrypt hashes, signed in to through the login page, the
 * hash rehashed to argon2id in the table and signed in to again with it, refusals (wrong password, unknown
 * user, disabled row, a row disabled after tokens were issued), claims mapped into userinfo, a password
 * changed by another application during a sign-in kept, bad configurations refused at start-up naming the
 * field, and `gatehouse user` refusing to change accounts it does not hold.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresLegacyAccountStore } from '../src/accounts/legacy.ts';
import { ConfigError, parseConfig } from '../src/config/load.ts';
import { PasswordHasher } from '../src/protocol/passwords.ts';
import { backendRelay, postgresUrl, requireService, uniqueName } from './backends.ts';
import {
  buildServer,
  codeFlowTokens,
  type GatehouseServer,
  loginPage,
  refreshRequest,
  testClock,
  testConfig,
} from './helpers.ts';
import { runGatehouse } from './processes.ts';

const table = uniqueName('gh_legacy_users');
const carolPassword = 'carol legacy password';
const davePassword = 'dave legacy password';
const erinPassword = 'erin legacy password';

let admin: pg.Client;

async function query<Row extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
) {
  return (await admin.query<Row>(text, values)).rows;
}

async function storedHash(login: string): Promise<string> {
  const [row] = await query<{ pw_hash: string }>(`SELECT pw_hash FROM "${table}" WHERE login = $1`, [login]);
  return row!.pw_hash;
}

/** The accounts section for the test table: an integer key, a boolean enabled column, claims and text[] roles. */
function legacyAccounts(overrides: Record<string, unknown> = {}) {
  return {
    type: 'postgres-legacy',
    url: postgresUrl,
    table,
    columns: {
      subject: 'id',
      username: 'login',
      passwordHash: 'pw_hash',
      enabled: 'is_active',
      claims: { name: 'full_name', email: 'mail', email_verified: 'mail_ok', updated_at: 'changed' },
      roles: 'groups',
    },
    rehash: true,
    ...overrides,
  };
}

function legacyConfig(accounts: Record<string, unknown> = legacyAccounts()) {
  return parseConfig(testConfig({ users: [], accounts }));
}

beforeAll(async () => {
  await requireService('postgres');
  admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await query(`CREATE TABLE "${table}" (
    id serial PRIMARY KEY,
    login varchar(100) NOT NULL UNIQUE,
    pw_hash varchar(255) NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    full_name text,
    mail text,
    mail_ok boolean,
    changed timestamptz,
    groups text[] NOT NULL DEFAULT '{}'
  )`);
  // Low costs keep the test quick; `$2y$` (PHP's) and `$2a$` name the same algorithm as `$2b$`.
  const carol = await bcryptHash(carolPassword, 4);
  const dave = `$2y$${(await bcryptHash(davePassword, 4)).slice(4)}`;
  const erin = `$2a$${(await bcryptHash(erinPassword, 4)).slice(4)}`;
  await query(
    `INSERT INTO "${table}" (login, pw_hash, is_active, full_name, mail, mail_ok, changed, groups) VALUES
      ('carol', $1, true, 'Carol Legacy', 'carol@example.com', true, '2024-05-01T12:00:00Z', '{OrderAdmin,Support}'),
      ('dave', $2, true, 'Dave Legacy', NULL, NULL, NULL, '{}'),
      ('erin', $3, false, 'Erin Legacy', 'erin@example.com', false, NULL, '{}')`,
    [carol, dave, erin],
  );
});

afterAll(async () => {
  await query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {});
  await admin?.end();
});

/** The login page of a new sign-in to web-app, and the browser on it. */
const legacyLoginPage = (server: GatehouseServer) =>
  loginPage(server, { scope: 'openid profile email roles' });

async function signIn(server: GatehouseServer, username: string, password: string) {
  const { browser, form } = await legacyLoginPage(server);
  return browser.post(form.action, { csrf: form.csrf, username, password });
}

/** A full code flow as `username`, returning the token response body. */
async function tokensFor(server: GatehouseServer, username: string, password: string) {
  const { tokens } = await codeFlowTokens(server, {
    scope: 'openid profile email roles offline_access',
    user: { username, password },
  });
  expect(tokens.status).toBe(200);
  return tokens.body as { access_token: string; refresh_token: string; id_token: string };
}

async function userinfo(server: GatehouseServer, accessToken: string) {
  const response = await server.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

describe('signing in against a legacy users table', () => {
  let server: GatehouseServer;
  beforeAll(async () => {
    server = await buildServer(legacyConfig(), { clock: testClock() });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('signs carol in with her bcrypt hash, rehashes it to argon2id, and signs her in again with that', async () => {
    const before = await storedHash('carol');
    expect(before).toMatch(/^\$2b\$04\$/);
    const tokens = await tokensFor(server, 'carol', carolPassword);
    const after = await storedHash('carol');
    expect(after).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

    // The claims come from the mapped columns; the subject is the integer key as text.
    const [row] = await query<{ id: number }>(`SELECT id FROM "${table}" WHERE login = 'carol'`);
    const info = await userinfo(server, tokens.access_token);
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      sub: String(row!.id),
      name: 'Carol Legacy',
      preferred_username: 'carol',
      email: 'carol@example.com',
      email_verified: true,
      roles: ['OrderAdmin', 'Support'],
    });

    // Signed in again, now verified against the argon2id hash; it is not rewritten.
    const again = await tokensFor(server, 'carol', carolPassword);
    expect((await userinfo(server, again.access_token)).body.sub).toBe(String(row!.id));
    expect(await storedHash('carol')).toBe(after);
  });

  it('signs dave in with a $2y$ hash; absent claim columns are left out', async () => {
    const tokens = await tokensFor(server, 'dave', davePassword);
    expect(await storedHash('dave')).toMatch(/^\$argon2id\$/);
    const info = await userinfo(server, tokens.access_token);
    expect(info.body).toMatchObject({ name: 'Dave Legacy', preferred_username: 'dave', roles: [] });
    expect(info.body).not.toHaveProperty('email');
  });

  it('refuses a wrong password and an unknown user alike, and leaves the hash alone', async () => {
    const daveHash = await storedHash('dave');
    const wrong = await signIn(server, 'dave', 'not his password');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('The username or password is incorrect.');
    expect(wrong.headers['set-cookie'] ?? []).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/gh-session=/)]),
    );
    const unknown = await signIn(server, 'nobody', 'whatever password');
    expect(unknown.statusCode).toBe(401);
    expect(unknown.body).toContain('The username or password is incorrect.');
    // A NUL cannot be in PostgreSQL text: refused as a malformed form (400), never a server error.
    const withNul = await signIn(server, 'dave\u0000', davePassword);
    expect(withNul.statusCode).toBe(400);
    expect(await storedHash('dave')).toBe(daveHash);
  });

  it('refuses a row whose enabled column is false with 403 and the disabled message, without rehashing', async () => {
    const erinHash = await storedHash('erin');
    const response = await signIn(server, 'erin', erinPassword);
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('This account is disabled. Contact your administrator.');
    expect(await storedHash('erin')).toBe(erinHash);
  });

  it('stops an account disabled in the table at the next userinfo and refresh', async () => {
    const tokens = await tokensFor(server, 'carol', carolPassword);
    await query(`UPDATE "${table}" SET is_active = false WHERE login = 'carol'`);
    try {
      const info = await userinfo(server, tokens.access_token);
      expect(info.status).toBe(401);
      expect(info.body.error).toBe('invalid_token');
      const refreshed = await refreshRequest(server, tokens.refresh_token);
      expect(refreshed.status).toBe(400);
      expect(refreshed.body.error).toBe('invalid_grant');
    } finally {
      await query(`UPDATE "${table}" SET is_active = true WHERE login = 'carol'`);
    }
    expect((await userinfo(server, tokens.access_token)).status).toBe(200);
  });
});

describe('the legacy store on its own', () => {
  const passwords = new PasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  const open = (accounts: Record<string, unknown>) => {
    const config = legacyConfig(accounts);
    if (config.accounts.type !== 'postgres-legacy') throw new Error('not a legacy config');
    return PostgresLegacyAccountStore.open(config.accounts, passwords);
  };
  const other = uniqueName('gh_legacy_other');

  beforeAll(async () => {
    // A text key, a disabled-at column, comma-separated roles, a bcrypt-sized column and a duplicate login.
    await query(`CREATE TABLE "${other}" (
      uid text NOT NULL, email text NOT NULL, hash char(60) NOT NULL, locked_at timestamptz, role_list text
    )`);
    const hash = await bcryptHash('frank password', 4);
    await query(
      `INSERT INTO "${other}" VALUES
        ('u-frank', 'frank@example.com', $1, NULL, 'Reader, Writer,,'),
        ('u-gina', 'gina@example.com', $1, now(), NULL),
        ('u-twin-1', 'twin@example.com', $1, NULL, NULL),
        ('u-twin-2', 'twin@example.com', $1, NULL, NULL)`,
      [hash],
    );
  });
  afterAll(async () => {
    await query(`DROP TABLE IF EXISTS "${other}"`).catch(() => {});
  });

  const otherAccounts = (overrides: Record<string, unknown> = {}) =>
    legacyAccounts({
      table: other,
      columns: {
        subject: 'uid',
        username: 'email',
        passwordHash: 'hash',
        disabledAt: 'locked_at',
        roles: 'role_list',
      },
      rehash: false,
      ...overrides,
    });

  it('reads a disabled-at column, comma-separated roles, and refuses an ambiguous username', async () => {
    const store = await open(otherAccounts());
    try {
      expect(await store.authenticate('frank@example.com', 'frank password')).toEqual({
        subject: 'u-frank',
        username: 'frank@example.com',
        enabled: true,
        roles: ['Reader', 'Writer'],
      });
      expect((await store.findBySubject('u-gina'))?.enabled).toBe(false);
      expect(await store.authenticate('twin@example.com', 'frank password')).toBeUndefined();
      expect(await store.findByUsername('twin@example.com')).toBeUndefined();
      // Without rehash the bcrypt hash stays.
      const [row] = await query<{ hash: string }>(`SELECT hash FROM "${other}" WHERE uid = 'u-frank'`);
      expect(row!.hash).toMatch(/^\$2b\$/);
    } finally {
      await store.close();
    }
  });

  it('does not overwrite a password changed while the sign-in verified the old one', async () => {
    const store = await open(legacyAccounts({ rehash: true }));
    const writer = new pg.Client({ connectionString: postgresUrl });
    await writer.connect();
    try {
      await query(`INSERT INTO "${table}" (login, pw_hash) VALUES ('hank', $1)`, [
        await bcryptHash('hank old password', 4),
      ]);
      // Another application changes hank's password and holds the row until it commits.
      const changed = await bcryptHash('hank new password', 4);
      await writer.query('BEGIN');
      await writer.query(`UPDATE "${table}" SET pw_hash = $1 WHERE login = 'hank'`, [changed]);
      // The sign-in reads the committed (old) hash, verifies it, and its rehash waits for the row.
      const signingIn = store.authenticate('hank', 'hank old password');
      const waitingForRow = async () => {
        const rows = await query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE %' AND query LIKE '%${table}%'`,
        );
        return rows[0]!.waiting > 0;
      };
      for (let polls = 0; !(await waitingForRow()); polls++) {
        if (polls === 1000) throw new Error('the rehash never waited for the locked row');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await writer.query('COMMIT');
      expect((await signingIn)?.username).toBe('hank');
      // The rehash matched no row: the other application's hash stands.
      expect(await storedHash('hank')).toBe(changed);
    } finally {
      await writer.query('ROLLBACK').catch(() => {});
      await writer.end();
      await store.close();
    }
  });

  it('answers a subject that cannot be the key type with no account', async () => {
    const store = await open(legacyAccounts());
    try {
      expect(await store.findBySubject('not-a-number')).toBeUndefined();
      expect(await store.findBySubject('999999999')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('refuses bad configurations, naming the field', async () => {
    expect(() => legacyConfig(legacyAccounts({ table: 'users; DROP TABLE users' }))).toThrow(
      /config accounts\.table: must be an SQL identifier/,
    );
    expect(() =>
      legacyConfig(legacyAccounts({ columns: { ...legacyAccounts().columns, username: 'login"--' } })),
    ).toThrow(/config accounts\.columns\.username: must be an SQL identifier/);
    expect(() =>
      legacyConfig(legacyAccounts({ columns: { ...legacyAccounts().columns, claims: { sub: 'id' } } })),
    ).toThrow(/config accounts\.columns\.claims\.sub: sub is the subject column/);
    expect(() => parseConfig(testConfig({ accounts: legacyAccounts() }))).toThrow(
      /config users: users of the file go to Gatehouse's own table/,
    );

    const failures: [Record<string, unknown>, RegExp][] = [
      [legacyAccounts({ table: uniqueName('gh_no_such_table') }), /^config accounts\.table: no table/],
      [
        legacyAccounts({ columns: { ...legacyAccounts().columns, claims: { email: 'no_such_column' } } }),
        /^config accounts\.columns\.claims\.email: no column "no_such_column"/,
      ],
      [
        legacyAccounts({ columns: { ...legacyAccounts().columns, enabled: 'full_name' } }),
        /^config accounts\.columns\.enabled: column "full_name" is text, not boolean/,
      ],
      [
        otherAccounts({ rehash: true }),
        /^config accounts\.rehash: column "hash" holds at most 60 characters/,
      ],
    ];
    for (const [accounts, message] of failures) {
      const error = await buildServer(legacyConfig(accounts)).then(
        async (server) => {
          await server.close();
          throw new Error('the server started');
        },
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
    }
  });
});

it('gatehouse user refuses to change accounts that live in the legacy table', {
  timeout: 60_000,
}, async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-legacy-cli-')), 'gatehouse.json');
  writeFileSync(file, JSON.stringify(testConfig({ users: [], accounts: legacyAccounts() })));
  const result = await runGatehouse(['user', 'disable', 'carol', '--config', file]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    /accounts come from postgres-legacy \(config accounts\.type\); change them in that table/,
  );
  expect(result.stderr).not.toContain(postgresUrl);
});

it('answers /readyz and sign-ins with 503 while the legacy database is unreachable', async () => {
  // A relay in front of the real PostgreSQL, so the test can cut the server's connections to it.
  const relay = await backendRelay(postgresUrl, 5432);
  const relayed = new URL(postgresUrl);
  relayed.host = `127.0.0.1:${relay.port}`;
  const server = await buildServer(
    legacyConfig(legacyAccounts({ url: relayed.href, pool: { connectionTimeout: 1 } })),
  );
  try {
    expect((await server.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    const { browser, form } = await legacyLoginPage(server);

    await relay.cut();
    const notReady = await server.app.inject({ url: '/readyz' });
    expect(notReady.statusCode).toBe(503);
    expect(JSON.parse(notReady.body).error).toBe('temporarily_unavailable');
    const signIn = await browser.post(form.action, {
      csrf: form.csrf,
      username: 'dave',
      password: davePassword,
    });
    expect(signIn.statusCode).toBe(503);
    expect(signIn.body).toContain('temporarily_unavailable');
  } finally {
    await server.close();
  }
});
