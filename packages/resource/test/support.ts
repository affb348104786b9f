/**
 * Test support: a real authorization-server stand-in on 127.0.0.1 (metadata, JWKS and introspection over
 * node:http, with a request log), token and DPoP proof signing with node:crypto, an Express API on a real
 * port, a controllable clock and a capturing logger.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { protect, requireRoles, requireScopes } from '../src/express.ts';
import type { FailureLogEntry, Logger, Verifier, VerifierOptions } from '../src/index.ts';

/**
 * Verifier options for the tests' API: audience `orders-api` at `issuer`, logging off; `extra` adds or
 * overrides options.
 */
export function apiOptions(issuer: string, extra: Partial<VerifierOptions> = {}): VerifierOptions {
  return { issuer, audience: 'orders-api', logger: false, ...extra };
}

export const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

export function ecKey(kid = `ec-${randomBytes(4).toString('hex')}`, crv = 'P-256', alg = 'ES256'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: crv });
  return {
    kid,
    alg,
    privateKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

export function rsaKey(kid = `rsa-${randomBytes(4).toString('hex')}`, alg = 'RS256'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    alg,
    privateKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

export function edKey(kid = `ed-${randomBytes(4).toString('hex')}`): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    kid,
    alg: 'EdDSA',
    privateKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' },
  };
}

/** Signs a compact JWS with node:crypto for the key's algorithm. */
export function signJws(
  header: Record<string, unknown>,
  payload: unknown,
  key: KeyObject,
  alg: string,
): string {
  const input = `${b64(header)}.${typeof payload === 'string' ? Buffer.from(payload).toString('base64url') : b64(payload)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  if (alg.startsWith('ES')) {
    signature = sign(`sha${alg.slice(2)}`, data, { key, dsaEncoding: 'ieee-p1363' });
  } else if (alg.startsWith('PS')) {
    signature = sign(`sha${alg.slice(2)}`, data, { key, padding: 6, saltLength: Number(alg.slice(2)) / 8 });
  } else if (alg.startsWith('RS')) {
    signature = sign(`sha${alg.slice(2)}`, data, key);
  } else if (alg === 'EdDSA') {
    signature = sign(null, data, key);
  } else {
    throw new Error(`cannot sign ${alg}`);
  }
  return `${input}.${signature.toString('base64url')}`;
}

export interface TestClock {
  (): number;
  advance(seconds: number): void;
  set(seconds: number): void;
}

export function testClock(start = Math.floor(Date.now() / 1000)): TestClock {
  let now = start;
  const clock = (() => now) as TestClock;
  clock.advance = (seconds) => {
    now += seconds;
  };
  clock.set = (seconds) => {
    now = seconds;
  };
  return clock;
}

/** Listens on an ephemeral port of 127.0.0.1; resolves the port. */
export async function listenOnLoopback(server: Server | HttpsServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Closes a server and its open connections. */
export async function closeServer(server: Server | HttpsServer): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Records every request it receives; answers 404. For "this URL must never be fetched" checks. */
export class Tripwire {
  readonly requests: string[] = [];
  private readonly server = createServer((req, res) => {
    this.requests.push(`${req.method} ${req.url}`);
    res.writeHead(404).end();
  });
  url = '';

  static async start(): Promise<Tripwire> {
    const tripwire = new Tripwire();
    tripwire.url = `http://127.0.0.1:${await listenOnLoopback(tripwire.server)}`;
    return tripwire;
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}

/**
 * An issuer on a real loopback port: OpenID metadata, a JWKS that can rotate, and an introspection
 * endpoint answering from a map of opaque tokens.
 */
export class TestIssuer {
  readonly requests: string[] = [];
  published: TestKey[];
  signing: TestKey;
  readonly opaque = new Map<string, Record<string, unknown>>();
  introspectionCredentials = {
    clientId: 'orders-api',
    secret: 'orders-api-secret-0123456789-abcdefghijklmnop',
  };
  issuer = '';
  /** When set, /jwks answers 500 (an issuer outage). */
  failing = false;
  /** Replaces the metadata document (e.g. a wrong issuer). */
  metadata: Record<string, unknown> | undefined;
  private readonly server: Server;

  private constructor(key: TestKey) {
    this.signing = key;
    this.published = [key];
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(key: TestKey = ecKey()): Promise<TestIssuer> {
    const issuer = new TestIssuer(key);
    issuer.issuer = `http://127.0.0.1:${await listenOnLoopback(issuer.server)}`;
    return issuer;
  }

  /** Requests to one path, e.g. `/jwks`. */
  count(path: string): number {
    return this.requests.filter((line) => line.endsWith(` ${path}`)).length;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      json(
        200,
        this.metadata ?? {
          issuer: this.issuer,
          jwks_uri: `${this.issuer}/jwks`,
          introspection_endpoint: `${this.issuer}/introspect`,
        },
      );
    } else if (req.url === '/jwks') {
      if (this.failing) json(500, { error: 'down' });
      else json(200, { keys: this.published.map((key) => key.publicJwk) });
    } else if (req.url === '/introspect' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        const expected = `Basic ${Buffer.from(`${this.introspectionCredentials.clientId}:${this.introspectionCredentials.secret}`).toString('base64')}`;
        if (req.headers.authorization !== expected) return json(401, { error: 'invalid_client' });
        const token = new URLSearchParams(body).get('token') ?? '';
        const claims = this.opaque.get(token);
        json(200, claims === undefined ? { active: false } : { active: true, ...claims });
      });
    } else {
      json(404, { error: 'not_found' });
    }
  }

  /** Claims of a valid token for `audience` at `now`. */
  claims(now: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      iss: this.issuer,
      sub: 'alice',
      aud: 'orders-api',
      client_id: 'web-app',
      scope: 'openid orders.read',
      jti: randomBytes(8).toString('hex'),
      iat: now,
      exp: now + 300,
      ...extra,
    };
  }

  /** An RFC 9068 access token signed with the current signing key; header and claims can be overridden. */
  token(
    now: number,
    extra: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
    key = this.signing,
  ): string {
    return signJws(
      { alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header },
      this.claims(now, extra),
      key.privateKey,
      key.alg,
    );
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}

/** A DPoP proof (RFC 9449 §4.2) for `method` `url`, bound to `accessToken`, signed by `key`. */
export function dpopProof(
  key: TestKey,
  options: {
    method: string;
    url: string;
    accessToken?: string;
    iat: number;
    jti?: string;
    nonce?: string;
    header?: Record<string, unknown>;
    claims?: Record<string, unknown>;
  },
): string {
  const { kid: _kid, alg: _alg, use: _use, ...jwk } = key.publicJwk;
  const payload: Record<string, unknown> = {
    jti: options.jti ?? randomBytes(12).toString('base64url'),
    htm: options.method,
    htu: options.url,
    iat: options.iat,
    ...(options.accessToken === undefined
      ? {}
      : { ath: createHash('sha256').update(options.accessToken).digest('base64url') }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    ...options.claims,
  };
  return signJws({ typ: 'dpop+jwt', alg: key.alg, jwk, ...options.header }, payload, key.privateKey, key.alg);
}

export function thumbprint(key: TestKey): string {
  const jwk = key.publicJwk;
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'RSA'
        ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

export class CapturingLogger implements Logger {
  readonly entries: { fields: FailureLogEntry; message: string }[] = [];
  warn(fields: FailureLogEntry, message: string): void {
    this.entries.push({ fields, message });
  }
  get text(): string {
    return JSON.stringify(this.entries);
  }
}

export interface TestApi {
  url: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/**
 * An Express API on a real port: `/hello` (any valid token), `/orders` (orders.read), `/orders/write`
 * (orders.write), `/admin` (role OrderAdmin), `/form` (POST, reads a form body).
 */
export async function startExpressApi(verifier: Verifier | VerifierOptions): Promise<TestApi> {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(protect(verifier));
  app.get('/hello', (req, res) => {
    res.json({ sub: req.auth?.subject, client: req.auth?.clientId });
  });
  app.all('/orders', requireScopes('orders.read'), (_req, res) => {
    res.json({ orders: [] });
  });
  app.get('/orders/write', requireScopes('orders.write'), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/admin', requireRoles('OrderAdmin'), (_req, res) => {
    res.json({ admin: true });
  });
  app.post('/form', (req, res) => {
    res.json({ sub: req.auth?.subject });
  });
  const server = createServer(app);
  const port = await listenOnLoopback(server);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    get: (path, headers = {}) => fetch(`${url}${path}`, { headers }),
    close: () => closeServer(server),
  };
}
