/**
 * POST /introspect (RFC 7662), with signed JWT responses on request (RFC 9701). Callers authenticate: an
 * API sees only access tokens for its audience, a client only tokens issued to it. Anything else is
 * `{"active": false}` and nothing more, so the endpoint never tells a caller why. Bound tokens are
 * described with their `cnf` (RFC 7800 §3.1, RFC 9449 §6.2, RFC 8705 §3.2).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { authenticateWith, secretMatches, verifyClientCredentials } from '../protocol/client-auth.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { Params } from '../protocol/params.ts';
import { isHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { signJwt } from '../tokens/jwt.ts';
import { type AccessTokenClaims, validateAccessToken } from '../tokens/validate.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { formParams } from './form.ts';
import { noStoreHeaders } from './responses.ts';

type Caller = { kind: 'resource'; id: string } | { kind: 'client'; id: string };

const inactive = JSON.stringify({ active: false });
const jwtMediaType = 'application/token-introspection+jwt';

function audiences(claims: AccessTokenClaims): string[] {
  return Array.isArray(claims.aud) ? claims.aud : [claims.aud];
}

async function refreshTokenDescription(ctx: ServerContext, token: string, caller: Caller) {
  if (caller.kind !== 'client' || !isHandle(token)) return undefined;
  const record = await ctx.storage.refreshTokens.find(sha256Base64Url(token));
  const now = ctx.now();
  if (
    record === undefined ||
    record.clientId !== caller.id ||
    record.consumedAt !== null ||
    record.expiresAt <= now
  )
    return undefined;
  const grant = await ctx.storage.grants.find(record.grantId);
  if (grant === undefined || grant.revokedAt !== null) return undefined;
  return {
    active: true,
    token_type: 'refresh_token',
    scope: record.scope.join(' '),
    client_id: record.clientId,
    sub: record.userId,
    iss: ctx.issuer,
    iat: record.createdAt,
    exp: record.expiresAt,
    auth_time: record.authTime,
  };
}

async function describe(ctx: ServerContext, token: string, caller: Caller, hint: string | undefined) {
  const access = async () => {
    const claims = await validateAccessToken(ctx, token);
    if (claims === undefined) return undefined;
    const visible =
      caller.kind === 'resource' ? audiences(claims).includes(caller.id) : claims.client_id === caller.id;
    if (!visible) return undefined;
    const { grant_id: _grantId, ...published } = claims;
    // RFC 9449 §6.2: a DPoP-bound token is described with token_type DPoP and its `cnf` (published above).
    const tokenType = claims.cnf?.jkt !== undefined ? 'DPoP' : 'Bearer';
    return { active: true, token_type: tokenType, ...published };
  };
  if (hint === 'refresh_token')
    return (await refreshTokenDescription(ctx, token, caller)) ?? (await access());
  return (await access()) ?? (await refreshTokenDescription(ctx, token, caller));
}

export function introspectEndpoint(ctx: ServerContext, certificates: ClientCertificates) {
  function authenticate(request: FastifyRequest, params: Params): Promise<Caller> {
    const authRequest = certificates.authRequest(request);
    return authenticateWith(ctx, 'introspect', authRequest, params, async (credentials) => {
      // An API resource calls with its id and secret (the file's, or one the admin API generated).
      const resourceHash = ctx.catalog.resourcesById.get(credentials.clientId)?.secretHash;
      if (resourceHash !== undefined && credentials.secret !== undefined) {
        if (!secretMatches(credentials.secret, resourceHash)) {
          throw new OAuthError('invalid_client', 'client authentication failed', { challenge: 'Basic' });
        }
        return { kind: 'resource', id: credentials.clientId };
      }
      const client = await verifyClientCredentials(ctx, credentials, authRequest);
      if (client.tokenEndpointAuthMethod === 'none') {
        throw new OAuthError('invalid_client', 'public clients cannot use introspection', {
          challenge: 'Basic',
        });
      }
      return { kind: 'client', id: client.clientId };
    });
  }

  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { params } = formParams(request);
    const caller = await authenticate(request, params);
    await ctx.rateLimits.hit('introspectPerCaller', caller.id);
    const token = params.required('token');
    const description = (await describe(ctx, token, caller, params.get('token_type_hint'))) ?? {
      active: false,
    };

    reply.headers(noStoreHeaders);
    if (request.headers.accept?.includes(jwtMediaType)) {
      const now = ctx.now();
      const response = await signJwt(ctx.keys.signingKey(now), 'token-introspection+jwt', {
        iss: ctx.issuer,
        aud: caller.id,
        iat: now,
        token_introspection: description,
      });
      reply.type(jwtMediaType).send(response);
      return;
    }
    reply.type('application/json').send(description.active ? JSON.stringify(description) : inactive);
  };
}
