/**
 * The deployment recipe of docs/deploying.md, run as the guide writes it. Its configuration file,
 * environment file, nginx file and systemd unit are taken from the guide's code blocks, with test
 * addresses, ports and file paths filled in (a sample that no longer contains what is replaced fails the
 * test). nginx, unprivileged, terminates TLS with a certificate from a test CA (openssl) in front of two
 * `gatehouse serve` processes on PostgreSQL and Redis, round-robin; openid-client completes a code flow
 * (the login and consent pages driven over HTTP), a refresh and a userinfo call against the https issuer,
 * and the guide's mutual-TLS client authenticates with a certificate that nginx forwards in its header.
 * The guide's pg_dump and pg_restore commands make a copy on which a new node honours an earlier refresh
 * token. The guide's other configuration samples go through the config loader, every setting it names
 * exists, and systemd accepts its unit.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import pg from 'pg';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../src/config/load.ts';
import { configSchema } from '../src/config/schema.ts';
import * as backends from './backends.ts';
import { testCertificates } from './certificates.ts';
import { password } from './helpers.ts';
import { authorizationParameters, FetchBrowser, freePort } from './interop-helpers.ts';
import { Nginx } from './nginx.ts';
import { gatehouseBin, runGatehouse, ServerProcess } from './processes.ts';

const guide = readFileSync(fileURLToPath(new URL('../../../docs/deploying.md', import.meta.url)), 'utf8');
const blocks = [...guide.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({
  language: match[1]!,
  text: match[2]!,
}));

/** The guide's code block for the file `name` (its first line is `# name`). */
function guideFile(name: string): string {
  const found = blocks.filter((block) => block.text.startsWith(`# ${name}`));
  if (found.length !== 1) throw new Error(`docs/deploying.md has ${found.length} code blocks for ${name}`);
  return found[0]!.text;
}

/** Runs one statement on the PostgreSQL server of the tests (database `test`). */
async function postgres(statement: string): Promise<void> {
  const connection = new pg.Client({ connectionString: backends.postgresUrl });
  await connection.connect();
  try {
    await connection.query(statement);
  } finally {
    await connection.end();
  }
}

/** Replaces each text with its test value; a text the sample no longer contains is an error. */
function substitute(text: string, replacements: [string, string][]): string {
  return replacements.reduce((result, [from, to]) => {
    if (!result.includes(from)) throw new Error(`the guide's sample no longer contains "${from}"`);
    return result.replaceAll(from, to);
  }, text);
}

const configPath = '/etc/gatehouse/gatehouse.yaml';
const environmentPath = '/etc/gatehouse/gatehouse.env';
const configText = guideFile(configPath);

/** The `NAME=value` lines of the guide's environment file. */
function guideEnvironment(): Record<string, string> {
  return Object.fromEntries(
    guideFile(environmentPath)
      .split('\n')
      .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** Objects merged key by key, anything else replaced: a guide snippet laid over the full configuration. */
function merge(base: unknown, over: unknown): unknown {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!isObject(base) || !isObject(over)) return over;
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) result[key] = merge(base[key], value);
  return result;
}

interface SchemaNode {
  _zod: {
    def: {
      type: string;
      innerType?: SchemaNode;
      in?: SchemaNode;
      out?: SchemaNode;
      options?: SchemaNode[];
      shape?: Record<string, SchemaNode>;
    };
  };
}

/**
 * The object shapes under `schema`, through optional, default, preprocess, transform (a pipe: the object is
 * its `in` for `.transform()`, its `out` for `z.preprocess()`) and union wrappers.
 */
function shapesOf(schema: SchemaNode): Record<string, SchemaNode>[] {
  const def = schema._zod.def;
  if (def.type === 'object') return def.shape === undefined ? [] : [def.shape];
  const wrapped = [def.innerType, def.in, def.out, ...(def.options ?? [])];
  return wrapped.flatMap((inner) => (inner === undefined ? [] : shapesOf(inner)));
}

/** The schema of setting `key` under `schema` (see shapesOf). */
function settingSchema(schema: SchemaNode, key: string): SchemaNode | undefined {
  return shapesOf(schema).find((shape) => shape[key] !== undefined)?.[key];
}

describe('the samples of docs/deploying.md', () => {
  const environment = guideEnvironment();

  it('the configuration file passes the config loader with the environment file', () => {
    const config = parseConfig(parseYaml(configText), environment, '/etc/gatehouse');
    expect(config.issuer).toBe(environment.GATEHOUSE_ISSUER);
    expect(config.storage).toMatchObject({ type: 'postgres', url: environment.DATABASE_URL });
    expect(config.redis?.url).toBe(environment.REDIS_URL);
    expect(config.keys.encryptionSecrets).toEqual([environment.GATEHOUSE_KEYS_SECRET]);
    expect(config.mtls.trustedProxyHeader).toBe('x-client-cert');
  });

  it('the environment file sets exactly the variables the configuration needs', () => {
    const required = [...configText.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((match) => match[1]!);
    expect(Object.keys(environment).sort()).toEqual([...new Set(required)].sort());
    // Without its variable the server stops, naming the field.
    const { GATEHOUSE_KEYS_SECRET: _, ...withoutSecret } = environment;
    expect(() => parseConfig(parseYaml(configText), withoutSecret)).toThrow(
      'config keys.encryptionSecrets[0]: environment variable GATEHOUSE_KEYS_SECRET is not set',
    );
  });

  it('every other YAML sample, laid over the configuration file, passes the config loader', () => {
    const snippets = blocks.filter((block) => block.language === 'yaml' && block.text !== configText);
    expect(snippets.length).toBeGreaterThan(0);
    const env = { ...environment, GATEHOUSE_KEYS_SECRET_OLD: randomBytes(32).toString('base64') };
    for (const snippet of snippets) {
      expect(() => parseConfig(merge(parseYaml(configText), parseYaml(snippet.text)), env)).not.toThrow();
    }
  });

  it('every setting the guide names exists in the configuration schema', () => {
    const topLevel = shapesOf(configSchema as unknown as SchemaNode).flatMap((shape) => Object.keys(shape));
    const named = [...guide.matchAll(/`([a-zA-Z]+(?:\.[a-zA-Z0-9]+)+)`/g)]
      .map((match) => match[1]!)
      .filter((name) => topLevel.includes(name.split('.')[0]!));
    expect(named).toContain('server.trustProxy');
    const unknown = named.filter((name) => {
      let schema: SchemaNode | undefined = configSchema as unknown as SchemaNode;
      for (const key of name.split('.')) schema = schema && settingSchema(schema, key);
      return schema === undefined;
    });
    expect(unknown).toEqual([]);
  });

  it('systemd accepts the unit, which runs the guide configuration with the guide environment file', () => {
    const unit = guideFile('/etc/systemd/system/gatehouse@.service');
    expect(unit).toContain(`EnvironmentFile=${environmentPath}\n`);
    expect(unit).toMatch(new RegExp(`^ExecStart=\\S+ serve --config ${configPath}$`, 'm'));
    // What differs per process (the ports) comes from the unit, not from the shared environment file.
    const perProcess = [...configText.matchAll(/\$\{([A-Z_][A-Z0-9_]*):-[^}]*\}/g)].map((match) => match[1]!);
    expect(perProcess).toEqual(['GATEHOUSE_PORT', 'GATEHOUSE_MANAGEMENT_PORT']);
    for (const name of perProcess) expect(unit).toMatch(new RegExp(`^Environment=${name}=\\S*%i$`, 'm'));
    const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (analyze.error !== undefined)
      throw new Error('systemd-analyze is missing: apt-get install -y systemd (.ci/run installs it)');
    const folder = mkdtempSync(join(tmpdir(), 'gatehouse-unit-'));
    const unitFile = substitute(unit, [['/opt/gatehouse/node_modules/.bin/gatehouse', gatehouseBin]]);
    writeFileSync(join(folder, 'gatehouse@.service'), unitFile);
    // An instance of the template, as `systemctl enable gatehouse@3001` makes; unknown settings are warnings.
    const verify = spawnSync(
      'systemd-analyze',
      ['verify', '--man=no', join(folder, 'gatehouse@3001.service')],
      {
        encoding: 'utf8',
      },
    );
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
  });
});

describe('the recipe: nginx with TLS in front of two nodes on PostgreSQL and Redis', () => {
  const certificates = testCertificates('gatehouse-deploy-');
  const { pem } = certificates;
  const schema = backends.uniqueName('gh_deploy');
  const keyPrefix = `${backends.uniqueName('gh_deploy')}:`;
  const portalSecret = randomBytes(32).toString('base64url');
  const agents: Agent[] = [];
  const nodes: ServerProcess[] = [];
  let nginx: Nginx | undefined;
  let issuer: string;
  let nodePorts: number[];
  let managementPorts: number[];
  let metricsToken: string;
  let env: Record<string, string>;
  let configFile: string;

  /** fetch over TLS trusting the test CA, presenting the named client certificate (or none). */
  const tlsFetch = (certificate?: string) => {
    const agent = new Agent({
      connect: {
        ca: pem('ca.crt'),
        ...(certificate === undefined
          ? {}
          : { cert: pem(`${certificate}.crt`), key: pem(`${certificate}.key`) }),
      },
    });
    agents.push(agent);
    return ((url: string, options: Record<string, unknown> = {}) =>
      undiciFetch(url, { ...options, dispatcher: agent } as never)) as unknown as typeof fetch;
  };

  beforeAll(async () => {
    await Promise.all([backends.requireService('postgres'), backends.requireService('redis')]);
    certificates.authority('ca', '/CN=Gatehouse Deployment Test CA');
    certificates.issued('server', '/CN=127.0.0.1', 'IP:127.0.0.1', 'serverAuth');
    certificates.issued('billing', '/O=Example/CN=billing-service', 'DNS:billing.example.com');
    certificates.selfSigned('impostor', '/O=Example/CN=billing-service');
    const [proxyPort = 0, ...ports] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    nodePorts = ports.slice(0, 2);
    managementPorts = ports.slice(2);
    metricsToken = randomBytes(32).toString('base64');
    issuer = `https://127.0.0.1:${proxyPort}`;

    const values: Record<string, string> = {
      GATEHOUSE_ISSUER: issuer,
      DATABASE_URL: backends.postgresUrl,
      REDIS_URL: backends.redisUrl,
      GATEHOUSE_KEYS_SECRET: randomBytes(32).toString('base64'),
      GATEHOUSE_DPOP_NONCE_SECRET: randomBytes(32).toString('base64'),
      GATEHOUSE_METRICS_TOKEN: metricsToken,
      PORTAL_CLIENT_SECRET: portalSecret,
    };
    env = Object.fromEntries(
      Object.keys(guideEnvironment()).map((name) => {
        if (values[name] === undefined) throw new Error(`no test value for ${name} of the environment file`);
        return [name, values[name]];
      }),
    );
    configFile = certificates.path('gatehouse.yaml');
    writeFileSync(
      configFile,
      substitute(configText, [
        ['schema: gatehouse', `schema: ${schema}`],
        ["keyPrefix: 'gatehouse:'", `keyPrefix: '${keyPrefix}'`],
        ['/etc/gatehouse/client-ca.pem', certificates.path('ca.crt')],
        ['level: info', 'level: warn'],
      ]),
    );
    // The first start as the guide writes it: migrate, add a user (password on stdin), start the nodes.
    for (const [args, input] of [
      [['migrate'], ''],
      [['user', 'add', '--username', 'alice', '--name', 'Alice Example'], `${password}\n`],
    ] as const) {
      const result = await runGatehouse([...args, '--config', configFile], input, env);
      if (result.code !== 0) throw new Error(`gatehouse ${args.join(' ')}: ${result.stderr}${result.stdout}`);
    }
    nodes.push(
      ...(await Promise.all(
        nodePorts.map((port, index) =>
          ServerProcess.start(configFile, {
            ...env,
            GATEHOUSE_PORT: String(port),
            GATEHOUSE_MANAGEMENT_PORT: String(managementPorts[index]),
          }),
        ),
      )),
    );

    const site = substitute(guideFile('/etc/nginx/conf.d/gatehouse.conf'), [
      ['server 127.0.0.1:3001;', `server 127.0.0.1:${nodePorts[0]};`],
      ['server 127.0.0.1:3002;', `server 127.0.0.1:${nodePorts[1]};`],
      ['listen 443 ssl;', `listen 127.0.0.1:${proxyPort} ssl;`],
      ['/etc/nginx/tls/auth.example.com.crt', '@prefix@/server.crt'],
      ['/etc/nginx/tls/auth.example.com.key', '@prefix@/server.key'],
    ]);
    nginx = await Nginx.start((prefix) => site.replaceAll('@prefix@', prefix), proxyPort, {
      'server.crt': pem('server.crt'),
      'server.key': pem('server.key'),
    });
  }, 180_000);

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.kill()));
    await Promise.all(agents.map((agent) => agent.close()));
    await backends.dropSchema(schema);
    await backends.dropRedisPrefix(keyPrefix);
  });

  /** The portal's openid-client configuration, from discovery through nginx. */
  const portal = () =>
    client.discovery(new URL(issuer), 'portal', portalSecret, client.ClientSecretBasic(portalSecret), {
      [client.customFetch]: tlsFetch() as client.CustomFetch,
      execute: [client.enableNonRepudiationChecks],
    });

  /** A code flow for alice through nginx: the login and consent pages over HTTP, the code exchanged. */
  async function signIn(config: client.Configuration, scope: string) {
    const started = await authorizationParameters('https://portal.example.com/callback', scope);
    const url = client.buildAuthorizationUrl(config, started.parameters);
    const { location, pages } = await new FetchBrowser(issuer, tlsFetch()).walk(url, {
      user: { username: 'alice', password },
    });
    const tokens = await client.authorizationCodeGrant(config, new URL(location), {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
      idTokenExpected: true,
    });
    return { started, location, pages, tokens };
  }

  it('openid-client: discovery, a code flow, a refresh and userinfo through nginx on the https issuer', async () => {
    const config = await portal();
    expect(config.serverMetadata()).toMatchObject({ issuer, token_endpoint: `${issuer}/token` });

    const scope = 'openid profile offline_access orders.read';
    const { started, location, pages, tokens } = await signIn(config, scope);
    expect(pages).toEqual(['login', 'consent']);
    expect(new URL(location).searchParams.get('iss')).toBe(issuer);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: issuer, aud: 'portal', nonce: started.nonce });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ iss: issuer, aud: 'orders-api', scope });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()).toMatchObject({ iss: issuer, sub: claims.sub });

    const userinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    expect(userinfo).toMatchObject({ sub: claims.sub, name: 'Alice Example' });

    // nginx spread the requests over both nodes: the flow crossed them, as it would in production.
    expect(nginx!.upstreamPorts()).toEqual(new Set(nodePorts));
  });

  const clientCredentials = async (send: typeof fetch, headers: Record<string, string> = {}) => {
    const response = await send(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'billing-service',
      }).toString(),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('mutual TLS: nginx forwards the client certificate, Gatehouse checks it against mtls.ca and binds the token', async () => {
    const answer = await clientCredentials(tlsFetch('billing'));
    expect(answer.status).toBe(200);
    expect(decodeJwt(answer.body.access_token as string)).toMatchObject({
      client_id: 'billing-service',
      cnf: { 'x5t#S256': certificates.thumbprint('billing') },
    });
  });

  it('mutual TLS: a self-signed look-alike and a header sent by the client itself are refused', async () => {
    const impostor = await clientCredentials(tlsFetch('impostor'));
    expect(impostor).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const forged = await clientCredentials(tlsFetch(), {
      'x-client-cert': encodeURIComponent(pem('billing.crt')),
    });
    expect(forged).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
  it("metrics: on each process's management port with the bearer token, never through nginx", async () => {
    for (const port of managementPorts) {
      const url = `http://127.0.0.1:${port}/metrics`;
      const scrape = await fetch(url, { headers: { authorization: `Bearer ${metricsToken}` } });
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('# TYPE');
      expect((await fetch(url)).status).toBe(401);
    }
    const viaNginx = await tlsFetch()(`${issuer}/metrics`, {
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    expect(viaNginx.status).toBe(404);
    expect(await (await tlsFetch()(`${issuer}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it("backups: the guide's pg_dump, restored into an empty database, serves a refresh token issued before it", async () => {
    const config = await portal();
    const { tokens } = await signIn(config, 'openid offline_access');
    const commands = blocks.find((block) => block.text.includes('pg_dump '))!.text.split('\n');
    const line = (command: string) => commands.find((text) => text.startsWith(`${command} `))!;
    const dump = certificates.path('backup.dump');
    const restored = backends.uniqueName('gh_restore');
    const restoredUrl = Object.assign(new URL(backends.postgresUrl), { pathname: `/${restored}` }).href;
    const shell = (command: string, databaseUrl: string) =>
      execFileSync('sh', ['-c', command], {
        env: { ...process.env, DATABASE_URL: databaseUrl },
        stdio: 'pipe',
      });
    shell(
      substitute(line('pg_dump'), [
        ['--schema=gatehouse', `--schema=${schema}`],
        ['/var/backups/gatehouse/$(date +%F).dump', dump],
      ]),
      backends.postgresUrl,
    );
    await postgres(`CREATE DATABASE ${restored}`);
    let node: ServerProcess | undefined;
    try {
      shell(substitute(line('pg_restore'), [['/var/backups/gatehouse/2026-01-31.dump', dump]]), restoredUrl);
      // A node on the restored copy opens the signing keys sealed with the same secret and honours the token.
      node = await ServerProcess.start(configFile, {
        ...env,
        DATABASE_URL: restoredUrl,
        GATEHOUSE_PORT: String(await freePort()),
        GATEHOUSE_MANAGEMENT_PORT: String(await freePort()),
      });
      const response = await fetch(`${node.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`portal:${encodeURIComponent(portalSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
      });
      expect(response.status).toBe(200);
      const refreshed = (await response.json()) as Record<string, unknown>;
      expect(decodeJwt(refreshed.id_token as string)).toMatchObject({
        iss: issuer,
        sub: tokens.claims()!.sub,
      });
    } finally {
      await node?.kill();
      await postgres(`DROP DATABASE IF EXISTS ${restored}`);
    }
  }, 120_000);
});
