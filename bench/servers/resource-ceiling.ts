/**
 * resource_jwt ceiling: the least an honest API could do per request on bare node:http. The JWKS is
 * fetched once at start and its keys imported once as KeyObjects; each request: read the Bearer token,
 * split it, decode and check the header (alg ES256, typ at+jwt, a known kid), verify the ES256 signature
 * with node:crypto, decode the payload and check iss, aud, exp, nbf and iat with 30 s of skew, answer the
 * hello JSON. No cache: every request pays the signature check.
 *
 * Environment: PORT, ISSUER (required).
 */
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
const issuer = process.env.ISSUER;
if (!Number.isInteger(port) || port <= 0 || issuer === undefined)
  throw new Error('PORT and ISSUER are required');
const skew = 30;

const metadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
  jwks_uri: string;
};
const jwks = (await (await fetch(metadata.jwks_uri)).json()) as { keys: (JsonWebKey & { kid: string })[] };
const keys = new Map<string, KeyObject>(
  jwks.keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]),
);

function verifyToken(token: string): Record<string, unknown> | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, first), 'base64url').toString()) as Record<
      string,
      unknown
    >;
    if (header.alg !== 'ES256' || header.typ !== 'at+jwt' || typeof header.kid !== 'string') return undefined;
    const key = keys.get(header.kid);
    if (key === undefined) return undefined;
    const signature = Buffer.from(token.slice(second + 1), 'base64url');
    const signed = Buffer.from(token.slice(0, second));
    if (!verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature)) return undefined;
    const claims = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== issuer) return undefined;
    if (claims.aud !== 'orders-api' && !(Array.isArray(claims.aud) && claims.aud.includes('orders-api')))
      return undefined;
    if (typeof claims.exp !== 'number' || claims.exp <= now - skew) return undefined;
    if (typeof claims.nbf === 'number' && claims.nbf > now + skew) return undefined;
    if (typeof claims.iat === 'number' && claims.iat > now + skew) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

const server = createServer((req, res) => {
  const authorization = req.headers.authorization;
  const claims =
    authorization?.startsWith('Bearer ') === true
      ? verifyToken(authorization.slice('Bearer '.length))
      : undefined;
  if (claims === undefined) {
    res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hello: claims.sub }));
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
