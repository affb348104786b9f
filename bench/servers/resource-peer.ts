/**
 * resource_jwt peer: an Express API protected by express-oauth2-jwt-bearer (the most used Node library
 * for this), strict RFC 9068 mode, ES256, JWKS found through the harness issuer's metadata.
 *
 * Environment: PORT, ISSUER (required).
 */
import express from 'express';
import { auth } from 'express-oauth2-jwt-bearer';

const port = Number(process.env.PORT);
const issuer = process.env.ISSUER;
if (!Number.isInteger(port) || port <= 0 || issuer === undefined)
  throw new Error('PORT and ISSUER are required');

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(auth({ issuerBaseURL: issuer, audience: 'orders-api', tokenSigningAlg: 'ES256', strict: true }));
app.get('/hello', (req, res) => {
  // @gatehouse/resource types req.auth for its own adapter; this library puts its own object there.
  const auth = (req as unknown as { auth?: { payload: { sub?: string } } }).auth;
  res.json({ hello: auth?.payload.sub });
});
// Its errors are thrown to Express; answer them with their status instead of the HTML error page.
app.use(
  (
    error: { status?: number; headers?: Record<string, string> },
    _req: express.Request,
    res: express.Response,
    _next: express.NextFunction,
  ) => {
    res
      .status(error.status ?? 500)
      .set(error.headers ?? {})
      .json({ error: 'invalid_token' });
  },
);
const server = app.listen(port, '127.0.0.1');
server.keepAliveTimeout = 60_000;
process.on('SIGTERM', () => process.exit(0));
