/**
 * Fastify adapter: the `gatehouseAuth` plugin adds a `preHandler` that authenticates every route of the
 * context it is registered in (RFC 6750 §2.1 header tokens, DPoP per RFC 9449) and sets the typed
 * `request.auth`; `protect()` and `requireScopes()` are preHandlers for single routes. With
 * `resourceMetadata` configured, the plugin also serves the RFC 9728 metadata at its well-known path,
 * without authentication (`protectedResourceMetadata` registers that route alone).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { AuthError } from './errors.ts';
import type { AuthInfo, AuthRequest, AuthResult } from './model.ts';
import { nodeAuthRequest } from './node-request.ts';
import type { VerifierOptions } from './options.ts';
import type { Policy } from './policies.ts';
import * as policies from './policies.ts';
import { createVerifier, type Verifier } from './verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token, set by the plugin or `protect()`. */
    auth: AuthInfo | undefined;
  }
}

const verifierKey = Symbol('gatehouse.verifier');
type WithVerifier = FastifyRequest & { [verifierKey]?: Verifier };

function describe(request: FastifyRequest): AuthRequest {
  return nodeAuthRequest(request.method, request.url, request.headers, request.body, request.raw.socket);
}

function send(reply: FastifyReply, result: Extract<AuthResult, { ok: false }>): FastifyReply {
  return reply.code(result.status).headers(result.headers).send(result.body);
}

/** A preHandler that authenticates the request and applies `routePolicies`. */
export function protect(
  verifier: Verifier | VerifierOptions,
  ...routePolicies: Policy[]
): preHandlerAsyncHookHandler {
  const resolved = 'authenticate' in verifier ? verifier : createVerifier(verifier);
  return async function gatehouseProtect(request: FastifyRequest, reply: FastifyReply) {
    (request as WithVerifier)[verifierKey] = resolved;
    const result = await resolved.authenticate(describe(request), ...routePolicies);
    if (!result.ok) return send(reply, result);
    reply.headers(result.headers);
    request.auth = result.auth;
  };
}

/** A preHandler applying policies to a request `protect()` or the plugin authenticated. */
export function requirePolicy(...routePolicies: Policy[]): preHandlerAsyncHookHandler {
  return async function gatehousePolicy(request: FastifyRequest, reply: FastifyReply) {
    const verifier = (request as WithVerifier)[verifierKey];
    if (request.auth === undefined || verifier === undefined) {
      const error = new AuthError('invalid_token', 'missing_token', 'an access token is required');
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: error.error, error_description: error.description });
    }
    const result = verifier.authorize(request.auth, routePolicies, describe(request));
    if (!result.ok) return send(reply, result);
  };
}

export const requireScopes = (...scopes: string[]) => requirePolicy(policies.requireScopes(...scopes));
export const requireAnyScope = (...scopes: string[]) => requirePolicy(policies.requireAnyScope(...scopes));
export const requireRoles = (...roles: string[]) => requirePolicy(policies.requireRoles(...roles));
/** RFC 9470: requires one of `acrValues` as the token's `acr` (401 `insufficient_user_authentication`). */
export const requireAcr = (...acrValues: string[]) => requirePolicy(policies.requireAcr(...acrValues));
/** RFC 9470: requires an authentication at most `maxAge` seconds old (`auth_time`). */
export const requireAuthTime = (maxAge: number) => requirePolicy(policies.requireAuthTime(maxAge));

export interface GatehouseAuthOptions {
  verifier: Verifier | VerifierOptions;
  /** Policies every route of the context must pass. */
  policies?: Policy[];
}

/**
 * Plugin: `app.register(gatehouseAuth, { verifier })` protects every route of the context that registers
 * it and of its children; register it inside a plugin to protect only that plugin's routes.
 */
export async function gatehouseAuth(app: FastifyInstance, options: GatehouseAuthOptions): Promise<void> {
  if (!app.hasRequestDecorator('auth')) app.decorateRequest('auth', undefined);
  const verifier = 'authenticate' in options.verifier ? options.verifier : createVerifier(options.verifier);
  const guard = protect(verifier, ...(options.policies ?? []));
  const metadataPath = verifier.resourceMetadata?.path;
  if (metadataPath !== undefined) registerResourceMetadata(app, verifier);
  app.addHook('preHandler', async function gatehouseGuard(request, reply) {
    // The metadata tells a client without a token where to get one: it is never protected.
    if (request.routeOptions.url === metadataPath) return;
    return guard.call(this, request, reply);
  });
}

function registerResourceMetadata(app: FastifyInstance, verifier: Verifier): void {
  const metadata = verifier.resourceMetadata;
  if (metadata === undefined) return;
  app.get(metadata.path, async (request, reply) => {
    const answer = verifier.resourceMetadataResponse(request.method, metadata.path)!;
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
}

/**
 * Plugin registering only the RFC 9728 metadata route (GET, no token needed), for apps protecting single
 * routes with `protect()`; `gatehouseAuth` registers it itself.
 */
export async function protectedResourceMetadata(
  app: FastifyInstance,
  options: { verifier: Verifier | VerifierOptions },
): Promise<void> {
  registerResourceMetadata(
    app,
    'authenticate' in options.verifier ? options.verifier : createVerifier(options.verifier),
  );
}

// What fastify-plugin does: the hook applies to the context that registers the plugin, not a child of it.
for (const plugin of [gatehouseAuth, protectedResourceMetadata])
  Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: '@gatehouse/resource',
  });
