/**
 * CORS (Fetch Standard §3.2) for registered browser origins only: an allowed origin is echoed back with
 * `Vary: Origin`, the authentication headers an SPA must read are exposed, and preflights from any other
 * origin are refused. Runs before authentication so preflights (which carry no token) are answered.
 */
import type { RequestHandler } from 'express';

export function corsForOrigins(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    res.vary('Origin');
    if (origin === undefined) return next();
    if (!allowed.has(origin)) {
      if (req.method === 'OPTIONS') {
        res.status(403).end();
        return;
      }
      return next();
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', 'WWW-Authenticate, DPoP-Nonce');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      res.setHeader('access-control-allow-methods', 'GET, POST');
      res.setHeader('access-control-allow-headers', 'Authorization, Content-Type, DPoP');
      res.setHeader('access-control-max-age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
