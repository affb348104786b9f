/**
 * Embedding (createGatehouse): the server built from a configuration object with the application's own
 * account store, served from the application's own node:http server under the issuer's path and from its own
 * Fastify, driven by a third-party relying party (openid-client) through discovery, sign-in, the code grant
 * and userinfo.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account, AccountStore, ClaimsRequest } from '../src/accounts/accounts.ts';
import { profileClaims } from '../src/accounts/accounts.ts';
import { ConfigError } from '../src/config/load.ts';
import { createGatehouse, type Gatehouse } from '../src/server.ts';
import { formOf, testConfig } from './helpers.ts';
import {
  authorizationParameters,
  discoverWebApp,
  FetchBrowser,
  fetchClientCredentials,
} from './interop-helpers.ts';

/** The application's own users: scrypt hashes, a profile of its own, one disabled account. */
interface Employee {
  id: string;
  login: string;
  salt: Buffer;
  hash: Buffer;
  active: boolean;
  profile: Record<string, unknown>;
  roles: string[];
}

function employee(id: string, login: string, password: string, active: boolean, name: string): Employee {
  const salt = randomBytes(16);
  return {
    id,
    login,
    salt,
    hash: scryptSync(password, salt, 32),
    active,
    profile: { name, email: `${login}@corp.example`, email_verified: true },
    roles: ['Staff'],
  };
}

class EmployeeStore implements AccountStore {
  readonly employees = [
    employee('emp-0001', 'grace', 'grace-password-1', true, 'Grace Hopper'),
    employee('emp-0002', 'linus', 'linus-password-1', false, 'Linus Torvalds'),
  ];
  /** Every claims request the server made, for the test to inspect. */
  readonly claimRequests: ClaimsRequest[] = [];
  private readonly dummy = employee('-', '-', 'dummy password', false, '-');

  private account(found: Employee | undefined): Account | undefined {
    return found && { subject: found.id, username: found.login, enabled: found.active, roles: found.roles };
  }

  async findBySubject(subject: string) {
    return this.account(this.employees.find((candidate) => candidate.id === subject));
  }

  async findByUsername(username: string) {
    return this.account(this.employees.find((candidate) => candidate.login === username));
  }

  async authenticate(username: string, password: string) {
    const found = this.employees.find((candidate) => candidate.login === username);
    const target = found ?? this.dummy;
    const valid = timingSafeEqual(scryptSync(password, target.salt, 32), target.hash);
    return valid && found !== undefined ? this.account(found) : undefined;
  }

  async claims(account: Account, request: ClaimsRequest) {
    this.claimRequests.push(request);
    const found = this.employees.find((candidate) => candidate.id === account.subject);
    return profileClaims(account, found?.profile ?? {}, request);
  }
}

const grace = { username: 'grace', password: 'grace-password-1' };

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('createGatehouse mounted on a node:http server under the issuer path', () => {
  const accounts = new EmployeeStore();
  const host = createServer();
  let gatehouse: Gatehouse;
  let issuer: string;

  beforeAll(async () => {
    const port = await listening(host);
    issuer = `http://127.0.0.1:${port}/auth`;
    const { users: _users, ...config } = testConfig({ issuer });
    gatehouse = await createGatehouse({ config, accounts });
    host.on('request', (request, response) => {
      if (request.url === '/hello') response.end('the application');
      else gatehouse.handle(request, response);
    });
  });
  afterAll(async () => {
    await gatehouse.close();
    await new Promise((resolve) => host.close(resolve));
  });

  it('serves discovery under the issuer path (OIDC Discovery) and at the RFC 8414 location', async () => {
    const oidc = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(oidc.status).toBe(200);
    const metadata = (await oidc.json()) as Record<string, string>;
    expect(metadata.issuer).toBe(issuer);
    expect(metadata.token_endpoint).toBe(`${issuer}/token`);
    const origin = new URL(issuer).origin;
    const rfc8414 = await fetch(`${origin}/.well-known/oauth-authorization-server/auth`);
    expect(((await rfc8414.json()) as Record<string, string>).issuer).toBe(issuer);
    expect(await (await fetch(`${origin}/hello`)).text()).toBe('the application');
  });

  it('runs a code flow for openid-client with the application account store', async () => {
    const configuration = await discoverWebApp(issuer);
    const redirectUri = 'https://webapp.example.com/signin-oidc';
    const { verifier, state, nonce, parameters } = await authorizationParameters(
      redirectUri,
      'openid profile email roles',
    );
    const browser = new FetchBrowser(issuer);
    const { location, pages } = await browser.walk(client.buildAuthorizationUrl(configuration, parameters), {
      user: grace,
    });
    expect(pages).toEqual(['login', 'consent']);
    const tokens = await client.authorizationCodeGrant(configuration, new URL(location), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    expect(tokens.claims()?.sub).toBe('emp-0001');
    const info = await client.fetchUserInfo(configuration, tokens.access_token, 'emp-0001');
    expect(info).toMatchObject({
      sub: 'emp-0001',
      name: 'Grace Hopper',
      email: 'grace@corp.example',
      roles: ['Staff'],
    });
    // The store is asked for the claim names of the granted scopes: it needs no scope catalogue.
    expect(accounts.claimRequests.at(-1)?.claims).toEqual(
      expect.arrayContaining(['name', 'email', 'email_verified', 'roles']),
    );
  });

  it("refuses the store's disabled account at sign-in, with the password right", async () => {
    const configuration = await discoverWebApp(issuer);
    const { parameters } = await authorizationParameters('https://webapp.example.com/signin-oidc', 'openid');
    const browser = new FetchBrowser(issuer);
    const start = await browser.get(String(client.buildAuthorizationUrl(configuration, parameters)));
    const form = formOf(await (await browser.get(start.headers.get('location')!)).text());
    const refused = await browser.post(form.action, {
      csrf: form.csrf,
      username: 'linus',
      password: 'linus-password-1',
    });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('This account is disabled.');
    expect(browser.cookies.has('__Host-gh-session')).toBe(false);
  });
});

describe('createGatehouse behind an application Fastify', () => {
  const app = Fastify();
  let gatehouse: Gatehouse;
  let issuer: string;

  beforeAll(async () => {
    // The port is chosen first, so the issuer can name it.
    const probe = createServer();
    const port = await listening(probe);
    await new Promise((resolve) => probe.close(resolve));
    issuer = `http://127.0.0.1:${port}/identity`;
    gatehouse = await createGatehouse({ config: testConfig({ issuer }) });
    // Hand Gatehouse's requests over before Fastify reads their bodies.
    app.addHook('onRequest', async (request, reply) => {
      if (request.url.startsWith('/identity/')) {
        reply.hijack();
        gatehouse.handle(request.raw, reply.raw);
      }
    });
    app.get('/', async () => ({ app: 'orders' }));
    await app.listen({ host: '127.0.0.1', port });
  });
  afterAll(async () => {
    await app.close();
    await gatehouse.close();
  });

  it('issues a client-credentials token from a form body the application never read', async () => {
    const response = await fetchClientCredentials(issuer);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.token_type).toBe('Bearer');
    const { keys } = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: unknown[] };
    expect(keys.length).toBeGreaterThan(0);
    expect(await (await fetch(new URL(issuer).origin)).json()).toEqual({ app: 'orders' });
  });

  it('answers errors of its own routes itself (RFC 6749 §5.2 JSON, no-store)', async () => {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(((await response.json()) as Record<string, unknown>).error).toBe('invalid_client');
  });
});

describe('createGatehouse behind an application Express', () => {
  let gatehouse: Gatehouse;
  let host: Server;
  let issuer: string;

  beforeAll(async () => {
    const app = express();
    // Before any body parser: Gatehouse reads its form bodies itself.
    app.use((request, response, next) => {
      if (request.url.startsWith('/login/')) gatehouse.handle(request, response);
      else next();
    });
    app.use(express.urlencoded({ extended: false }));
    app.post('/orders', (request, response) => {
      response.json({ received: request.body });
    });
    host = createServer(app);
    const port = await listening(host);
    issuer = `http://127.0.0.1:${port}/login`;
    gatehouse = await createGatehouse({ config: testConfig({ issuer }) });
  });
  afterAll(async () => {
    await new Promise((resolve) => host.close(resolve));
    await gatehouse.close();
  });

  it('serves the token endpoint and leaves the application its own routes and parsers', async () => {
    const response = await fetchClientCredentials(issuer);
    expect(response.status).toBe(200);
    const metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      string
    >;
    expect(metadata.authorization_endpoint).toBe(`${issuer}/authorize`);
    const own = await fetch(`${new URL(issuer).origin}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'id=7',
    });
    expect(await own.json()).toEqual({ received: { id: '7' } });
  });
});

describe('createGatehouse on its own', () => {
  it('listens on the configured port and closes', async () => {
    const gatehouse = await createGatehouse({
      config: testConfig({ issuer: 'http://127.0.0.1:3999', server: { host: '127.0.0.1', port: 0 } }),
    });
    try {
      const address = await gatehouse.listen();
      const response = await fetch(`${address}/.well-known/openid-configuration`);
      expect(response.status).toBe(200);
    } finally {
      await gatehouse.close();
    }
  });

  it('refuses a bad configuration with the field named, as the file would be', async () => {
    await expect(
      createGatehouse({
        config: testConfig({ issuer: 'http://127.0.0.1:3999', tokens: { accessTokenTtl: 5 } }),
      }),
    ).rejects.toThrow(ConfigError);
    await expect(
      createGatehouse({
        config: testConfig({ issuer: 'http://127.0.0.1:3999', tokens: { accessTokenTtl: 5 } }),
      }),
    ).rejects.toThrow(/tokens\.accessTokenTtl/);
  });
});
