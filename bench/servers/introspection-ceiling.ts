/**
 * The introspection ceiling: the least an honest RFC 7662 endpoint could do per request on bare
 * node:http, verifying the same Gatehouse JWTs as Gatehouse does, so the ratio says what Gatehouse's
 * framework, storage and checks cost above the runtime. Gatehouse's public keys are imported once as
 * KeyObjects from its JWKS (passed in by the harness); each POST /introspect: check the form media type,
 * read and parse the form, parse the Basic header and compare the SHA-256 of the secret in constant time,
 * then split the token, check the header (alg ES256, typ at+jwt, a known kid), verify the ES256 signature
 * with node:crypto, decode the claims and check iss, exp and that aud includes the calling resource, and
 * answer `{"active":true,"token_type":"Bearer",...claims}` (Gatehouse's shape) or `{"active":false}`.
 * No revocation lookup and no rate limiting: those are Gatehouse's extra work.
 *
 * Environment: PORT, ISSUER, JWKS (the JSON of Gatehouse's JWKS), RESOURCE_ID, RESOURCE_SECRET (required).
 */
import {
  createHash,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const port = Number(process.env.PORT);
const {
  ISSUER: issuer,
  JWKS: jwksJson,
  RESOURCE_ID: resourceId,
  RESOURCE_SECRET: resourceSecret,
} = process.env;
if (
  !Number.isInteger(port) ||
  port <= 0 ||
  issuer === undefined ||
  jwksJson === undefined ||
  resourceId === undefined ||
  resourceSecret === undefined
)
  throw new Error('PORT, ISSUER, JWKS, RESOURCE_ID and RESOURCE_SECRET are required');

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();
const secretHash = sha256(resourceSecret);
const jwks = JSON.parse(jwksJson) as { keys: (JsonWebKey & { kid: string; alg?: string })[] };
const keys = new Map<string, KeyObject>(
  jwks.keys
    .filter((jwk) => jwk.alg === undefined || jwk.alg === 'ES256')
    .map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]),
);

const inactive = JSON.stringify({ active: false });

function decode(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The claims of a valid access token for this resource, or undefined. */
function verifyToken(token: string): Record<string, unknown> | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) !== -1) return undefined;
  const header = decode(token.slice(0, first));
  if (header?.alg !== 'ES256' || header.typ !== 'at+jwt' || typeof header.kid !== 'string') return undefined;
  const key = keys.get(header.kid);
  if (key === undefined) return undefined;
  const signature = Buffer.from(token.slice(second + 1), 'base64url');
  if (!verify('sha256', Buffer.from(token.slice(0, second)), { key, dsaEncoding: 'ieee-p1363' }, signature))
    return undefined;
  const claims = decode(token.slice(first + 1, second));
  if (claims === undefined || claims.iss !== issuer) return undefined;
  if (typeof claims.exp !== 'number' || claims.exp <= Math.floor(Date.now() / 1000)) return undefined;
  const aud = claims.aud;
  if (aud !== resourceId && !(Array.isArray(aud) && aud.includes(resourceId))) return undefined;
  return claims;
}

/** True when the Basic header names this resource with its secret (SHA-256 compared in constant time). */
function authenticated(header: string | undefined): boolean {
  if (header === undefined || !header.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return false;
  try {
    const id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    const presented = sha256(decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')));
    return timingSafeEqual(presented, secretHash) && id === resourceId;
  } catch {
    return false;
  }
}

function send(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-length': Buffer.byteLength(body),
    ...extra,
  });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
  if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    send(res, 400, JSON.stringify({ error: 'invalid_request' }));
    return;
  }
  const form = new URLSearchParams(body);
  if (!authenticated(req.headers.authorization)) {
    send(res, 401, JSON.stringify({ error: 'invalid_client' }), { 'www-authenticate': 'Basic' });
    return;
  }
  const token = form.get('token');
  if (token === null) {
    send(res, 400, JSON.stringify({ error: 'invalid_request' }));
    return;
  }
  const claims = verifyToken(token);
  if (claims === undefined) {
    send(res, 200, inactive);
    return;
  }
  const { grant_id: _grantId, ...published } = claims;
  send(res, 200, JSON.stringify({ active: true, token_type: 'Bearer', ...published }));
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/introspect') {
    send(res, req.url === '/introspect' ? 405 : 404, JSON.stringify({ error: 'not_found' }));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= 65536) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > 65536) send(res, 413, JSON.stringify({ error: 'invalid_request' }));
    else handle(req, res, Buffer.concat(chunks).toString('utf8'));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
