/**
 * The ceiling: the least work an honest server could do for each benchmarked grant, on bare node:http,
 * so Gatehouse's numbers can be read against what the runtime allows on this machine. Everything is kept
 * in memory Maps (no database), one ES256 key is imported once, and JWTs are signed with node:crypto.
 *
 * What each endpoint does, and nothing more:
 * - POST /token, every grant: read and parse the form body, parse the Basic header, compare the SHA-256
 *   of the secret in constant time, check the grant is registered for the client.
 * - client_credentials: check the requested scopes are registered, sign an RFC 9068 access token
 *   (header alg/typ at+jwt/kid; claims iss, sub, aud, client_id, scope, jti, iat, exp).
 * - with a DPoP header (RFC 9449 §4.3): exactly one proof, typ dpop+jwt, alg ES256, a public P-256 jwk
 *   (imported once per distinct proof header, as its RFC 7638 thumbprint is computed once), the ES256
 *   signature, htm, htu, iat within 60 seconds, a jti not seen before (a Map swept of expired entries);
 *   the access token then carries `cnf.jkt` and the response says `token_type: DPoP`.
 * - GET /authorize: parse the query, check response_type=code, the client, the exact redirect URI, the
 *   scopes and an S256 code_challenge, find the login session by the SHA-256 of its cookie, store the
 *   SHA-256 of a new 256-bit code with what it grants, answer 303 to redirect_uri with code, state, iss.
 * - authorization_code: find the code by hash, mark it used, check client, expiry, redirect URI and the
 *   PKCE verifier, then issue the user tokens below.
 * - refresh_token: find the token by hash, check client, expiry and that it was not already used, mark
 *   it used (rotation), then issue the user tokens below.
 * - user tokens: an access token (as above plus auth_time), an id_token (iss, sub, aud, azp, exp, iat,
 *   auth_time, sid, at_hash, acr, amr, nonce when sent) and a new 256-bit refresh token stored by hash.
 * - POST /bench/session: harness set-up only (creates a login session without a password; the login
 *   scenario's ceiling is bare argon2id, see argon2-ceiling.ts). GET /jwks: the public key, for checks.
 *
 * Environment: PORT (required), ISSUER (default http://127.0.0.1:PORT), FRAMEWORK (`fastify`: the same work
 * behind Fastify, see `listenFastify`).
 */
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { benchUser, ordersApi, serviceClient, webClient } from '../fixtures.ts';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is required');
const issuer = process.env.ISSUER ?? `http://127.0.0.1:${port}`;
const sessionCookie = '__Host-gh-session';
const accessTokenTtl = 600;
const idTokenTtl = 3600;
const codeTtl = 60;
const refreshTtl = 30 * 86400;

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();
const sha256Url = (value: string): string => createHash('sha256').update(value).digest('base64url');
const handle = (bytes = 32): string => randomBytes(bytes).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

interface ClientEntry {
  clientId: string;
  secretHash: Buffer;
  grantTypes: Set<string>;
  scopes: Set<string>;
  redirectUris: Set<string>;
}

const clients = new Map<string, ClientEntry>(
  [
    { ...serviceClient, grantTypes: ['client_credentials'], redirectUris: [] as string[] },
    {
      ...webClient,
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [webClient.redirectUri],
    },
  ].map((client) => [
    client.clientId,
    {
      clientId: client.clientId,
      secretHash: sha256(client.secret),
      grantTypes: new Set(client.grantTypes),
      scopes: new Set(client.scope.split(' ')),
      redirectUris: new Set(client.redirectUris),
    },
  ]),
);
const unknownClientHash = sha256('unknown client');

// One key, imported once; the header of each token type is encoded once.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicJwk = publicKey.export({ format: 'jwk' });
const kid = sha256Url(
  JSON.stringify({ crv: publicJwk.crv, kty: publicJwk.kty, x: publicJwk.x, y: publicJwk.y }),
);
const jwks = JSON.stringify({ keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] });
const headers = {
  at: Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid })).toString('base64url'),
  id: Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid })).toString('base64url'),
};

function signJwt(header: string, payload: object): string {
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

interface Session {
  sub: string;
  sid: string;
  authTime: number;
  expiresAt: number;
}

interface Grant {
  clientId: string;
  sub: string;
  scope: string;
  sid: string;
  authTime: number;
  nonce: string | undefined;
  redirectUri: string;
  codeChallenge: string;
  expiresAt: number;
  used: boolean;
}

const sessions = new Map<string, Session>();
const codes = new Map<string, Grant>();
const refreshTokens = new Map<string, Grant>();

class OAuthFailure extends Error {
  constructor(
    readonly code: string,
    readonly status = 400,
  ) {
    super(code);
  }
}

function send(res: ServerResponse, status: number, body: string, contentType = 'application/json'): void {
  res.writeHead(status, {
    'content-type': contentType,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 65536) reject(new OAuthFailure('invalid_request', 413));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function authenticate(header: string | undefined): ClientEntry {
  const match = header === undefined ? null : /^Basic ([A-Za-z0-9+/]+={0,2})$/.exec(header);
  if (!match) throw new OAuthFailure('invalid_client', 401);
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new OAuthFailure('invalid_client', 401);
  const client = clients.get(decodeURIComponent(decoded.slice(0, colon)));
  const presented = sha256(decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')));
  const matches = timingSafeEqual(presented, client?.secretHash ?? unknownClientHash);
  if (client === undefined || !matches) throw new OAuthFailure('invalid_client', 401);
  return client;
}

function scopesAllowed(scope: string, client: ClientEntry): boolean {
  return scope.split(' ').every((value) => client.scopes.has(value));
}

const proofKeys = new Map<string, { key: KeyObject; jkt: string }>();
const seenJtis = new Map<string, number>();
let nextJtiSweep = 0;

function decodeJson(segment: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new OAuthFailure('invalid_dpop_proof');
  return value as Record<string, unknown>;
}

/** Verifies a DPoP proof for POST /token; returns the key's thumbprint. */
function verifyDpop(proofs: string[]): string {
  if (proofs.length !== 1) throw new OAuthFailure('invalid_dpop_proof');
  const parts = proofs[0]!.split('.');
  if (parts.length !== 3) throw new OAuthFailure('invalid_dpop_proof');
  const [header, payload, signature] = parts as [string, string, string];
  let entry = proofKeys.get(header);
  if (entry === undefined) {
    const decoded = decodeJson(header);
    const jwk = decoded.jwk as Record<string, unknown> | undefined;
    if (decoded.typ !== 'dpop+jwt' || decoded.alg !== 'ES256' || jwk === undefined || 'd' in jwk)
      throw new OAuthFailure('invalid_dpop_proof');
    const key = createPublicKey({ key: jwk as { kty: string }, format: 'jwk' });
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new OAuthFailure('invalid_dpop_proof');
    const jkt = sha256Url(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
    entry = { key, jkt };
    proofKeys.set(header, entry);
  }
  const valid = verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    { key: entry.key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!valid) throw new OAuthFailure('invalid_dpop_proof');
  const claims = decodeJson(payload);
  const time = now();
  if (
    claims.htm !== 'POST' ||
    claims.htu !== `${issuer}/token` ||
    typeof claims.iat !== 'number' ||
    claims.iat > time + 5 ||
    claims.iat < time - 60 ||
    typeof claims.jti !== 'string'
  )
    throw new OAuthFailure('invalid_dpop_proof');
  if (time >= nextJtiSweep) {
    for (const [jti, expiresAt] of seenJtis) if (expiresAt <= time) seenJtis.delete(jti);
    nextJtiSweep = time + 10;
  }
  const replayKey = `${entry.jkt}.${claims.jti}`;
  if ((seenJtis.get(replayKey) ?? 0) > time) throw new OAuthFailure('invalid_dpop_proof');
  seenJtis.set(replayKey, claims.iat + 61);
  return entry.jkt;
}

function accessToken(
  client: ClientEntry,
  sub: string,
  scope: string,
  authTime?: number,
  jkt?: string,
): string {
  const iat = now();
  const payload: Record<string, unknown> = {
    iss: issuer,
    sub,
    aud: ordersApi.audience,
    client_id: client.clientId,
    scope,
    jti: handle(16),
    iat,
    exp: iat + accessTokenTtl,
  };
  if (authTime !== undefined) payload.auth_time = authTime;
  if (jkt !== undefined) payload.cnf = { jkt };
  return signJwt(headers.at, payload);
}

function userTokens(client: ClientEntry, grant: Grant): string {
  const access = accessToken(client, grant.sub, grant.scope, grant.authTime);
  const iat = now();
  const digest = sha256(access);
  const idPayload: Record<string, unknown> = {
    iss: issuer,
    sub: grant.sub,
    aud: client.clientId,
    azp: client.clientId,
    exp: iat + idTokenTtl,
    iat,
    auth_time: grant.authTime,
    sid: grant.sid,
    at_hash: digest.subarray(0, 16).toString('base64url'),
    acr: '1',
    amr: ['pwd'],
  };
  if (grant.nonce !== undefined) idPayload.nonce = grant.nonce;
  const refresh = handle();
  refreshTokens.set(sha256Url(refresh), { ...grant, expiresAt: iat + refreshTtl, used: false });
  return JSON.stringify({
    access_token: access,
    token_type: 'Bearer',
    expires_in: accessTokenTtl,
    scope: grant.scope,
    id_token: signJwt(headers.id, idPayload),
    refresh_token: refresh,
  });
}

function token(form: URLSearchParams, client: ClientEntry, dpopProofs: string[]): string {
  const grantType = form.get('grant_type') ?? '';
  if (!client.grantTypes.has(grantType)) throw new OAuthFailure('unauthorized_client');
  if (grantType === 'client_credentials') {
    const scope = form.get('scope') ?? [...client.scopes].join(' ');
    if (!scopesAllowed(scope, client)) throw new OAuthFailure('invalid_scope');
    const jkt = dpopProofs.length > 0 ? verifyDpop(dpopProofs) : undefined;
    return JSON.stringify({
      access_token: accessToken(client, client.clientId, scope, undefined, jkt),
      token_type: jkt === undefined ? 'Bearer' : 'DPoP',
      expires_in: accessTokenTtl,
      scope,
    });
  }
  if (grantType === 'authorization_code') {
    const grant = codes.get(sha256Url(form.get('code') ?? ''));
    if (grant === undefined || grant.used || grant.clientId !== client.clientId || grant.expiresAt <= now()) {
      throw new OAuthFailure('invalid_grant');
    }
    grant.used = true;
    if (grant.redirectUri !== form.get('redirect_uri')) throw new OAuthFailure('invalid_grant');
    const verifier = form.get('code_verifier') ?? '';
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) throw new OAuthFailure('invalid_request');
    const computed = sha256(verifier);
    const expected = Buffer.from(grant.codeChallenge, 'base64url');
    if (expected.length !== computed.length || !timingSafeEqual(computed, expected))
      throw new OAuthFailure('invalid_grant');
    return userTokens(client, grant);
  }
  if (grantType === 'refresh_token') {
    const grant = refreshTokens.get(sha256Url(form.get('refresh_token') ?? ''));
    if (grant === undefined || grant.used || grant.clientId !== client.clientId || grant.expiresAt <= now()) {
      throw new OAuthFailure('invalid_grant');
    }
    grant.used = true;
    return userTokens(client, grant);
  }
  throw new OAuthFailure('unsupported_grant_type');
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator !== -1 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

function authorize(req: IncomingMessage, query: URLSearchParams, res: ServerResponse): void {
  const client = clients.get(query.get('client_id') ?? '');
  const redirectUri = query.get('redirect_uri') ?? '';
  if (client === undefined || !client.redirectUris.has(redirectUri))
    throw new OAuthFailure('invalid_request');
  const scope = query.get('scope') ?? '';
  const challenge = query.get('code_challenge') ?? '';
  if (
    query.get('response_type') !== 'code' ||
    !client.grantTypes.has('authorization_code') ||
    !scopesAllowed(scope, client) ||
    query.get('code_challenge_method') !== 'S256' ||
    !/^[A-Za-z0-9_-]{43}$/.test(challenge)
  ) {
    throw new OAuthFailure('invalid_request');
  }
  const cookie = readCookie(req.headers.cookie, sessionCookie);
  const session = cookie === undefined ? undefined : sessions.get(sha256Url(cookie));
  if (session === undefined || session.expiresAt <= now()) throw new OAuthFailure('login_required');
  const code = handle();
  codes.set(sha256Url(code), {
    clientId: client.clientId,
    sub: session.sub,
    scope,
    sid: session.sid,
    authTime: session.authTime,
    nonce: query.get('nonce') ?? undefined,
    redirectUri,
    codeChallenge: challenge,
    expiresAt: now() + codeTtl,
    used: false,
  });
  const location = new URL(redirectUri);
  location.searchParams.set('code', code);
  const state = query.get('state');
  if (state !== null) location.searchParams.set('state', state);
  location.searchParams.set('iss', issuer);
  res.writeHead(303, { location: location.href, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}

/** POST /bench/session: harness set-up only (a login session without a password). */
function benchSession(): string {
  const value = handle();
  sessions.set(sha256Url(value), {
    sub: benchUser.username,
    sid: handle(16),
    authTime: now(),
    expiresAt: now() + 8 * 3600,
  });
  return `${sessionCookie}=${value}; Path=/; HttpOnly; Secure; SameSite=Lax`;
}

async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  try {
    if (req.method === 'POST' && path === '/token') {
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        throw new OAuthFailure('invalid_request');
      }
      const form = new URLSearchParams(await readBody(req));
      send(res, 200, token(form, authenticate(req.headers.authorization), req.headersDistinct.dpop ?? []));
    } else if (req.method === 'GET' && path === '/authorize') {
      authorize(req, new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1)), res);
    } else if (req.method === 'GET' && path === '/jwks') {
      send(res, 200, jwks);
    } else if (req.method === 'POST' && path === '/bench/session') {
      res.writeHead(204, { 'set-cookie': benchSession() });
      res.end();
    } else {
      send(res, 404, JSON.stringify({ error: 'not_found' }));
    }
  } catch (error) {
    if (error instanceof OAuthFailure) send(res, error.status, JSON.stringify({ error: error.code }));
    else send(res, 500, JSON.stringify({ error: 'server_error' }));
  }
}

/**
 * FRAMEWORK=fastify: the same work behind Fastify's router, body parsing and reply (the bench's `floor`
 * target for the grant scenarios): what any Fastify server doing exactly this work could reach, so the
 * cost of the framework is told apart from the cost of Gatehouse's own work.
 */
async function listenFastify(): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false, exposeHeadRoutes: false, bodyLimit: 65536 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, new URLSearchParams(body as string)),
  );
  app.setErrorHandler((error, _request, reply) => {
    const failure = error instanceof OAuthFailure ? error : new OAuthFailure('server_error', 500);
    void reply
      .code(failure.status)
      .headers({ 'content-type': 'application/json', 'cache-control': 'no-store' })
      .send(JSON.stringify({ error: failure.code }));
  });
  app.post('/token', async (request, reply) => {
    const body = token(
      request.body as URLSearchParams,
      authenticate(request.headers.authorization),
      request.raw.headersDistinct.dpop ?? [],
    );
    return reply.headers({ 'content-type': 'application/json', 'cache-control': 'no-store' }).send(body);
  });
  app.get('/authorize', (request, reply) => {
    const url = request.url;
    const queryStart = url.indexOf('?');
    reply.hijack();
    try {
      authorize(
        request.raw,
        new URLSearchParams(queryStart === -1 ? '' : url.slice(queryStart + 1)),
        reply.raw,
      );
    } catch (error) {
      const failure = error instanceof OAuthFailure ? error : new OAuthFailure('server_error', 500);
      send(reply.raw, failure.status, JSON.stringify({ error: failure.code }));
    }
  });
  app.get('/jwks', async (_request, reply) => reply.type('application/json').send(jwks));
  app.post('/bench/session', async (_request, reply) =>
    reply.code(204).header('set-cookie', benchSession()).send(),
  );
  app.server.keepAliveTimeout = 60_000;
  await app.listen({ port, host: '127.0.0.1' });
}

if (process.env.FRAMEWORK === 'fastify') {
  await listenFastify();
} else {
  const server = createServer((req, res) => {
    void handleRequest(req, res);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
