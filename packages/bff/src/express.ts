/**
 * Express adapter: the BFF as middleware. Mount it at the application root and before any body parser
 * (`app.use(bffMiddleware(bff))`), so that proxied request bodies are streamed untouched.
 */
import type { RequestHandler } from 'express';
import type { Bff } from './bff.ts';

export function bffMiddleware(bff: Bff): RequestHandler {
  return (req, res, next) => {
    bff.handle(req, res, req.originalUrl).then((handled) => {
      if (!handled) next();
    }, next);
  };
}
