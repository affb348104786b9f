import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/load.ts';
import { testConfig } from './helpers.ts';

function configError(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(raw, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('config was accepted');
}

describe('configuration', () => {
  it('fills typed defaults', () => {
    const config = parseConfig({ issuer: 'https://id.example.com' });
    expect(config.tokens).toEqual({
      accessTokenTtl: 600,
      idTokenTtl: 3600,
      authorizationCodeTtl: 60,
      refreshTokenTtl: 2592000,
      rotateSenderConstrainedRefreshTokens: true,
    });
    expect(config.profile).toBe('oauth2.1');
    expect(config.keys.algorithm).toBe('ES256');
    expect(config.login.argon2).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(config.server.port).toBe(3000);
  });

  it('names the field of a bad value', () => {
    expect(configError(testConfig({ tokens: { accessTokenTtl: 3600 } }))).toMatch(
      /^config tokens\.accessTokenTtl: /,
    );
    expect(configError(testConfig({ keys: { algorithm: 'HS256' } }))).toMatch(/^config keys\.algorithm: /);
    expect(configError({ issuer: 'http://id.example.com' })).toMatch(/^config issuer: .*https/);
    expect(configError({ issuer: 'https://id.example.com/' })).toMatch(/^config issuer: /);
    expect(configError({ issuer: 'https://id.example.com', unknownField: 1 })).toMatch(/unknownField/);
    expect(configError(testConfig({ login: { argon2: { memoryCost: 1024 } } }))).toMatch(
      /^config login\.argon2\.memoryCost: /,
    );
  });

  it('checks clients: secrets, grants, scopes and redirect URIs', () => {
    const base = {
      issuer: 'https://id.example.com',
      identityResources: [{ name: 'openid', description: 'x' }],
    };
    const client = {
      clientId: 'c',
      name: 'C',
      grantTypes: ['authorization_code'],
      redirectUris: ['https://app.example.com/cb'],
      scopes: ['openid'],
    };
    expect(configError({ ...base, clients: [client] })).toMatch(
      /^config clients\[0\]\.secret: a confidential client needs a secret/,
    );
    expect(configError({ ...base, clients: [{ ...client, secret: 'short' }] })).toMatch(
      /^config clients\[0\]\.secret: /,
    );
    expect(
      configError({
        ...base,
        clients: [{ ...client, tokenEndpointAuthMethod: 'none', grantTypes: ['client_credentials'] }],
      }),
    ).toMatch(/clients\[0\]\.grantTypes: client_credentials needs a confidential client/);
    expect(
      configError({ ...base, clients: [{ ...client, tokenEndpointAuthMethod: 'none', scopes: ['nope'] }] }),
    ).toMatch(/clients\[0\]\.scopes\[0\]: unknown scope "nope"/);
    expect(
      configError({
        ...base,
        clients: [
          { ...client, tokenEndpointAuthMethod: 'none', redirectUris: ['http://app.example.com/cb'] },
        ],
      }),
    ).toMatch(/clients\[0\]\.redirectUris\[0\]: may use http only on a loopback host/);
    expect(
      configError({
        ...base,
        clients: [
          { ...client, tokenEndpointAuthMethod: 'none', redirectUris: ['https://app.example.com/cb#x'] },
        ],
      }),
    ).toMatch(/must not contain a fragment/);
    expect(configError({ ...base, clients: [{ ...client, grantTypes: ['password'] }] })).toMatch(
      /clients\[0\]\.grantTypes\[0\]/,
    );
  });

  it('replaces ${VAR} and ${VAR:-default} from the environment, typing whole-value placeholders', () => {
    const config = parseConfig(
      { issuer: '${ISSUER}', server: { port: '${PORT:-4000}' }, storage: { path: '${DB:-:memory:}' } },
      { ISSUER: 'https://login.example.com' },
    );
    expect(config.issuer).toBe('https://login.example.com');
    expect(config.server.port).toBe(4000);
    expect(config.storage).toEqual({ type: 'sqlite', path: ':memory:' });
    expect(configError({ issuer: '${MISSING_ISSUER}' })).toMatch(
      /^config issuer: environment variable MISSING_ISSUER is not set/,
    );
  });

  it('selects PostgreSQL and Redis by config or DATABASE_URL, with pool defaults, and names bad fields', () => {
    const issuer = 'https://id.example.com';
    const postgres = parseConfig(
      { issuer, storage: { type: 'postgres', url: 'postgres://db.internal/gatehouse', schema: 'tenant_a' } },
      {},
    );
    expect(postgres.storage).toEqual({
      type: 'postgres',
      url: 'postgres://db.internal/gatehouse',
      schema: 'tenant_a',
      pool: { max: 10, idleTimeout: 30, connectionTimeout: 5 },
    });
    const fromEnv = parseConfig(
      { issuer, storage: { type: 'sqlite', path: 'x.db' } },
      { DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/test' },
    );
    expect(fromEnv.storage).toMatchObject({ type: 'postgres', url: 'postgresql://u:p@127.0.0.1:5432/test' });
    expect(parseConfig({ issuer }, {}).redis).toBeUndefined();
    expect(parseConfig({ issuer, redis: { url: 'redis://127.0.0.1:6379' } }, {}).redis).toEqual({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'gatehouse:',
    });
    expect(configError({ issuer, storage: { type: 'postgres', url: 'mysql://x/y' } })).toMatch(
      /^config storage\.url: must be a postgres/,
    );
    expect(configError({ issuer, storage: { type: 'postgres' } })).toMatch(/^config storage\.url:/);
    expect(
      configError({ issuer, storage: { type: 'postgres', url: 'postgres://x/y', schema: 'a"; drop' } }),
    ).toMatch(/^config storage\.schema: must be a lower-case identifier/);
    expect(configError({ issuer, storage: { type: 'postgres', url: 'postgres://x/y', path: 'x' } })).toMatch(
      /^config storage: Unrecognized key/,
    );
    expect(configError({ issuer, storage: { type: 'oracle' } })).toMatch(/^config storage\.type:/);
    expect(configError({ issuer, redis: { url: 'http://x' } })).toMatch(
      /^config redis\.url: must be a redis/,
    );
  });

  it('loads YAML and JSON files and reports unreadable or invalid files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    writeFileSync(join(dir, 'a.yaml'), 'issuer: https://id.example.com\nstorage:\n  path: db/x.db\n');
    const yamlConfig = loadConfigFile(join(dir, 'a.yaml'), {});
    expect(yamlConfig.storage).toEqual({ type: 'sqlite', path: join(dir, 'db/x.db') });
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ issuer: 'https://id.example.com' }));
    expect(loadConfigFile(join(dir, 'b.json'), {}).issuer).toBe('https://id.example.com');
    writeFileSync(join(dir, 'c.yaml'), 'issuer: [unclosed');
    expect(() => loadConfigFile(join(dir, 'c.yaml'), {})).toThrow(/is not valid YAML/);
    expect(() => loadConfigFile(join(dir, 'missing.yaml'), {})).toThrow(/cannot read config file/);
  });

  it('accepts the demo configuration', () => {
    const config = loadConfigFile(join(import.meta.dirname, '../config/demo.yaml'), {});
    expect(config.clients.map((client) => client.clientId)).toEqual([
      'web-app',
      'native-app',
      'device-app',
      'service-a',
    ]);
    expect(config.apiResources.map((resource) => resource.id)).toEqual(['orders-api', 'api1']);
    expect(config.users.find((user) => user.username === 'alice')?.roles).toEqual(['OrderAdmin']);
  });

  it('has in the demo file every section the README says it shows', () => {
    const file = join(import.meta.dirname, '../config/demo.yaml');
    const sections = Object.keys(parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>);
    const readme = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');
    const sentence = /`packages\/server\/config\/demo.yaml`, shows (.*?), and in comments/.exec(
      readme.replace(/\s+/g, ' '),
    );
    const named = [...(sentence?.[1] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((match) => match[1]);
    expect(named).toEqual(expect.arrayContaining(['keys', 'tokens', 'login', 'logging', 'management']));
    for (const section of named) expect(sections).toContain(section);
  });

  it('keeps the management listener off the issuer port', () => {
    expect(() =>
      parseConfig(
        { issuer: 'https://id.example.com', server: { port: 4000 }, management: { port: 4000 } },
        {},
      ),
    ).toThrow(/config management.port: must differ from server.port/);
    expect(parseConfig({ issuer: 'https://id.example.com' }, {}).management).toEqual({
      enabled: true,
      host: '127.0.0.1',
      port: 9464,
    });
  });
});
