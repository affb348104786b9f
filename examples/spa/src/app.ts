/**
 * The SPA example's web server: the BFF (@gatehouse/bff on Express) plus the static files of a
 * framework-free single-page app. The browser talks only to this origin; it never sees a token.
 * Pages get a strict Content-Security-Policy (scripts and styles from this origin only, no framing),
 * which also means an injected script could not send anything elsewhere (`connect-src 'self'`).
 */
import { fileURLToPath } from 'node:url';
import { type Bff, type BffOptions, createBff } from '@gatehouse/bff';
import { bffMiddleware } from '@gatehouse/bff/express';
import express, { type Express } from 'express';

export interface SpaServerOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The origin the browser uses, e.g. http://localhost:5173. */
  origin: string;
  /** The orders API base URL. */
  ordersUrl: string;
  /** At least 32 characters; encrypts the session records. */
  secret: string;
  /** Anything else for the BFF (store, clock, diagnostics...). */
  bff?: Partial<BffOptions>;
}

export const publicDirectory = fileURLToPath(new URL('../public/', import.meta.url));

export function createSpaServer(options: SpaServerOptions): { app: Express; bff: Bff } {
  const bff = createBff({
    issuer: options.issuer,
    clientId: options.clientId,
    clientAuthentication: { method: 'client_secret_basic', clientSecret: options.clientSecret },
    baseUrl: options.origin,
    secret: options.secret,
    scope: 'openid profile email offline_access orders.read orders.write orders.cancel',
    apis: { orders: { url: options.ordersUrl, scopes: ['orders.read'] } },
    ...options.bff,
  });
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader(
      'content-security-policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    next();
  });
  app.use(bffMiddleware(bff));
  app.use(express.static(publicDirectory, { index: 'index.html' }));
  return { app, bff };
}
