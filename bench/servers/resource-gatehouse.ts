/**
 * resource_jwt target: an Express API protected by @gatehouse/resource's Express adapter, one hello
 * route. The verifier discovers the JWKS from the harness issuer's metadata like any deployment.
 *
 * Environment: PORT, ISSUER (required); CACHE_SIZE (verified-token cache entries; the resource_jwt run
 * sets 0 so every request pays the signature check, resource_jwt_cached keeps the default).
 */
import { protect } from '@gatehouse/resource/express';
import express from 'express';

const port = Number(process.env.PORT);
const issuer = process.env.ISSUER;
if (!Number.isInteger(port) || port <= 0 || issuer === undefined)
  throw new Error('PORT and ISSUER are required');
const cacheSize = process.env.CACHE_SIZE === undefined ? undefined : Number(process.env.CACHE_SIZE);

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(
  protect({
    issuer,
    audience: 'orders-api',
    logger: false,
    ...(cacheSize === undefined ? {} : { cacheSize }),
  }),
);
app.get('/hello', (req, res) => {
  res.json({ hello: req.auth?.subject });
});
const server = app.listen(port, '127.0.0.1');
server.keepAliveTimeout = 60_000;
process.on('SIGTERM', () => process.exit(0));
