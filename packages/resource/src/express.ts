/**
 * Express adapter: `app.use(protect(options))` authenticates every request (RFC 6750 §2.1 header tokens,
 * DPoP per RFC 9449) and sets `req.auth`; `requireScopes`, `requireRoles` and `requirePolicy` guard single
 * routes. Refusals are written here as status, `WWW-Authenticate` and a JSON body; nothing throws. With
 * `resourceMetadata` configured, `protect()` also answers GET of the RFC 9728 metadata URL, unauthenticated;
 * `resourceMetadata(verifier)` serves it alone, for apps that protect only some routes.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError } from './errors.ts';
import type { AuthInfo, AuthRequest, AuthResult } from './model.ts';
import { nodeAuthRequest } from './node-request.ts';
import type { VerifierOptions } from './options.ts';
import type { Policy } from './policies.ts';
import * as policies from './policies.ts';
import { createVerifier, type Verifier } from './verifier.ts';

declare global {
  namespace Express {
    interface Request {
      /** The verified access token, set by `protect()`. */
      auth?: AuthInfo;
    }
  }
}

const verifierKey = Symbol('gatehouse.verifier');
type WithVerifier = Request & { [verifierKey]?: Verifier };

function describe(req: Request): AuthRequest {
  return nodeAuthRequest(req.method, req.originalUrl, req.headers, req.body, req.socket);
}

function send(res: Response, result: AuthResult): void {
  if (result.ok) return;
  res.status(result.status).set(result.headers).json(result.body);
}

/**
 * Authenticates each request; on success sets `req.auth` and calls `next()`, otherwise answers 400, 401,
 * 403 or 503 with the challenge. `policies` (e.g. `requireScopes('orders.read')`) apply to every route.
 */
export function protect(verifier: Verifier | VerifierOptions, ...routePolicies: Policy[]): RequestHandler {
  const resolved = 'authenticate' in verifier ? verifier : createVerifier(verifier);
  const settle = (req: Request, res: Response, next: NextFunction, result: AuthResult) => {
    if (!result.ok) return send(res, result);
    for (const name in result.headers) res.setHeader(name, result.headers[name]!);
    req.auth = result.auth;
    next();
  };
  const metadata = resourceMetadata(resolved);
  return (req: Request, res: Response, next: NextFunction) => {
    if (metadata(req, res)) return;
    (req as WithVerifier)[verifierKey] = resolved;
    const result = resolved.authenticateMaybeSync(describe(req), routePolicies);
    if (!(result instanceof Promise)) return settle(req, res, next, result);
    result.then(
      (settled) => settle(req, res, next, settled),
      // authenticate never rejects; this is a last guard so a bug cannot become an unhandled rejection.
      () =>
        res
          .status(401)
          .json({ error: 'invalid_token', error_description: 'the token could not be verified' }),
    );
  };
}

/** Writes the RFC 9728 metadata when `req` asks for it; true when it did. */
function resourceMetadata(verifier: Verifier): (req: Request, res: Response) => boolean {
  return (req, res) => {
    const answer = verifier.resourceMetadataResponse(req.method, req.originalUrl);
    if (answer === undefined) return false;
    res.status(answer.status).set(answer.headers).send(answer.body);
    return true;
  };
}

/**
 * Middleware serving the verifier's RFC 9728 protected resource metadata (GET, no token needed) and
 * passing every other request on; `protect()` includes it.
 */
export function protectedResourceMetadata(verifier: Verifier | VerifierOptions): RequestHandler {
  const serve = resourceMetadata('authenticate' in verifier ? verifier : createVerifier(verifier));
  return (req: Request, res: Response, next: NextFunction) => {
    if (!serve(req, res)) next();
  };
}

/** Guards one route with policies; needs `protect()` earlier in the chain. */
export function requirePolicy(...routePolicies: Policy[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const verifier = (req as WithVerifier)[verifierKey];
    if (req.auth === undefined || verifier === undefined) {
      const error = new AuthError('invalid_token', 'missing_token', 'an access token is required');
      res
        .status(401)
        .set('www-authenticate', 'Bearer')
        .json({ error: error.error, error_description: error.description });
      return;
    }
    const result = verifier.authorize(req.auth, routePolicies, describe(req));
    if (result.ok) next();
    else send(res, result);
  };
}

/** Requires all of `scopes` on this route (403 `insufficient_scope` with the `scope` parameter). */
export const requireScopes = (...scopes: string[]): RequestHandler =>
  requirePolicy(policies.requireScopes(...scopes));
/** Requires one of `scopes` on this route. */
export const requireAnyScope = (...scopes: string[]): RequestHandler =>
  requirePolicy(policies.requireAnyScope(...scopes));
/** Requires all of `roles` (the `roles` claim) on this route. */
export const requireRoles = (...roles: string[]): RequestHandler =>
  requirePolicy(policies.requireRoles(...roles));
/** RFC 9470: requires one of `acrValues` as the token's `acr` (401 `insufficient_user_authentication`). */
export const requireAcr = (...acrValues: string[]): RequestHandler =>
  requirePolicy(policies.requireAcr(...acrValues));
/** RFC 9470: requires an authentication at most `maxAge` seconds old (`auth_time`). */
export const requireAuthTime = (maxAge: number): RequestHandler =>
  requirePolicy(policies.requireAuthTime(maxAge));
