/**
 * grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693): a client holding a user's token
 * gets an access token for another API. Subject tokens (§2.1) are live access tokens this server issued,
 * or ID tokens it issued to the requesting client while their authorization is live; anything else is
 * `invalid_request` (§2.2.2). An `actor_token` adds `act` (§4.1), nesting any prior `act`. Targets must be
 * in the client's `tokenExchange.audiences` (`invalid_target`). Scopes and lifetime never exceed the
 * subject token's, and the new token keeps its grant id so revoking the authorization revokes it too; no
 * refresh token is issued.
 */
import type { ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { ApiResource } from '../protocol/scopes.ts';
import { parseScope } from '../protocol/scopes.ts';
import { issueAccessToken } from '../tokens/access-token.ts';
import { validateAccessToken, verifyOwnJwt } from '../tokens/validate.ts';
import type { GrantHandler } from './types.ts';

export const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';
export const idTokenType = 'urn:ietf:params:oauth:token-type:id_token';

/** What a presented subject or actor token says about who it stands for. */
interface TokenParty {
  sub: string;
  /** The user, when the token stands for one. */
  userId: string | undefined;
  clientId: string | undefined;
  scopes: string[];
  grantId: string | undefined;
  authTime: number | undefined;
  /** RFC 8176 methods of the user's authentication, kept in the exchanged token with its `acr`. */
  amr: string[] | undefined;
  exp: number;
  act: Record<string, unknown> | undefined;
}

/** An `amr` claim as issued: an array of strings; anything else is left out. */
function amrOf(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string')
    ? value
    : undefined;
}

function invalidToken(role: 'subject' | 'actor'): OAuthError {
  return new OAuthError('invalid_request', `${role}_token is invalid, expired or revoked`);
}

async function readAccessToken(ctx: ServerContext, token: string, role: 'subject' | 'actor') {
  const claims = await validateAccessToken(ctx, token);
  if (claims === undefined) throw invalidToken(role);
  const raw = claims as unknown as Record<string, unknown>;
  return {
    sub: claims.sub,
    // Tokens of a user's authorization carry its grant id; a client's own tokens (client credentials) do not.
    userId: claims.grant_id === undefined ? undefined : claims.sub,
    clientId: claims.client_id,
    scopes: parseScope(claims.scope),
    grantId: claims.grant_id,
    authTime: claims.auth_time,
    amr: amrOf(raw.amr),
    exp: claims.exp,
    act: typeof raw.act === 'object' && raw.act !== null ? (raw.act as Record<string, unknown>) : undefined,
  } satisfies TokenParty;
}

async function readIdToken(
  ctx: ServerContext,
  client: Client,
  token: string,
  role: 'subject' | 'actor',
): Promise<TokenParty> {
  const claims = verifyOwnJwt(ctx, token, 'JWT');
  const now = ctx.now();
  if (
    claims === undefined ||
    typeof claims.sub !== 'string' ||
    typeof claims.exp !== 'number' ||
    claims.exp <= now
  )
    throw invalidToken(role);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const base = {
    sub: claims.sub,
    userId: claims.sub,
    clientId: undefined,
    authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
    amr: amrOf(claims.amr),
    exp: claims.exp,
    act: undefined,
  };
  if (role === 'actor') return { ...base, scopes: [], grantId: undefined };
  // An ID token says who signed in to which client; what it may be exchanged for is what that client was
  // granted in that login session, so the session's authorization must still be live.
  if (!audiences.includes(client.clientId) || typeof claims.sid !== 'string')
    throw new OAuthError('invalid_request', 'subject_token is an ID token issued to another client');
  const grants = await ctx.storage.grants.listBySid(claims.sid);
  const grant = grants
    .filter((candidate) => candidate.clientId === client.clientId && candidate.userId === claims.sub)
    .filter((candidate) => candidate.revokedAt === null)
    .at(-1);
  if (grant === undefined) throw invalidToken(role);
  return { ...base, scopes: grant.scopes, grantId: grant.id };
}

async function readToken(
  ctx: ServerContext,
  client: Client,
  token: string,
  type: string,
  role: 'subject' | 'actor',
): Promise<TokenParty> {
  if (token.length > 8192) throw invalidToken(role);
  if (type === accessTokenType) return readAccessToken(ctx, token, role);
  if (type === idTokenType) return readIdToken(ctx, client, token, role);
  throw new OAuthError('invalid_request', `${role}_token_type is not supported`);
}

function targetsOf(ctx: ServerContext, resources: string[], audiences: string[]): ApiResource[] {
  const targets = new Map<string, ApiResource>();
  for (const resource of ctx.catalog.resolveResources(resources)) targets.set(resource.id, resource);
  for (const audience of audiences) {
    const resource = ctx.catalog.resourcesById.get(audience);
    if (resource === undefined)
      throw new OAuthError('invalid_target', `audience ${audience} is not a known API`);
    targets.set(resource.id, resource);
  }
  return [...targets.values()];
}

export const tokenExchangeGrant: GrantHandler = {
  grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
  async handle(ctx, client, params, binding) {
    const policy = client.tokenExchange;
    if (policy === null) throw new OAuthError('unauthorized_client', 'the client may not exchange tokens');
    const subjectToken = params.get('subject_token');
    const subjectType = params.get('subject_token_type');
    if (subjectToken === undefined || subjectType === undefined)
      throw new OAuthError('invalid_request', 'subject_token and subject_token_type are required');
    const actorToken = params.get('actor_token');
    const actorType = params.get('actor_token_type');
    if ((actorToken === undefined) !== (actorType === undefined))
      throw new OAuthError('invalid_request', 'actor_token and actor_token_type go together');
    const requestedType = params.get('requested_token_type');
    if (requestedType !== undefined && requestedType !== accessTokenType)
      throw new OAuthError('invalid_request', 'only access tokens can be requested');
    const requested = parseScope(params.get('scope'));
    const explicitTargets = targetsOf(ctx, params.getAll('resource'), params.getAll('audience'));

    const subject = await readToken(ctx, client, subjectToken, subjectType, 'subject');
    const actor =
      actorToken === undefined ? undefined : await readToken(ctx, client, actorToken, actorType!, 'actor');

    for (const scope of requested) {
      if (!subject.scopes.includes(scope))
        throw new OAuthError('invalid_scope', `scope ${scope} was not granted to the subject token`);
      if (!client.scopes.includes(scope))
        throw new OAuthError('invalid_scope', `scope ${scope} is not allowed for this client`);
    }
    const base =
      requested.length > 0 ? requested : subject.scopes.filter((scope) => client.scopes.includes(scope));
    const allowed = new Set(policy.audiences);
    const resourceOf = (scope: string) => ctx.catalog.apiScopes.get(scope)?.resource;
    let targets = explicitTargets;
    if (targets.length === 0) {
      const implied = new Map<string, ApiResource>();
      for (const scope of base) {
        const resource = resourceOf(scope);
        if (resource === undefined) continue;
        if (allowed.has(resource.id)) implied.set(resource.id, resource);
        else if (requested.length > 0)
          throw new OAuthError('invalid_target', `the client may not exchange tokens for ${resource.id}`);
      }
      targets = [...implied.values()];
    }
    for (const target of targets) {
      if (!allowed.has(target.id))
        throw new OAuthError('invalid_target', `the client may not exchange tokens for ${target.id}`);
    }
    const targetIds = new Set(targets.map((target) => target.id));
    const scopes = base.filter((scope) => {
      const resource = resourceOf(scope);
      return resource === undefined ? scope === 'roles' : targetIds.has(resource.id);
    });
    if (!scopes.some((scope) => resourceOf(scope) !== undefined))
      throw new OAuthError('invalid_scope', 'the subject token grants no scope of the requested audience');

    let act = subject.act;
    if (actor !== undefined) {
      act = { sub: actor.sub };
      if (actor.clientId !== undefined) act.client_id = actor.clientId;
      if (subject.act !== undefined) act.act = subject.act;
    }
    const user = subject.userId === undefined ? undefined : await ctx.accounts.findBySubject(subject.userId);
    if (subject.userId !== undefined && !user?.enabled) throw invalidToken('subject');
    const access = await issueAccessToken(ctx, ctx.storage.accessTokens, {
      client,
      userId: subject.userId,
      subject: subject.sub,
      scopes,
      resources: targets,
      grantId: subject.grantId,
      authTime: subject.authTime,
      amr: subject.amr,
      roles: user?.roles,
      binding,
      act,
      maxExpiresAt: subject.exp,
      grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
      account: user,
    });
    ctx.audit('token_exchanged', {
      client_id: client.clientId,
      subject_client_id: subject.clientId,
      actor: actor?.sub,
      audience: [...targetIds].join(' '),
    });
    return {
      access_token: access.accessToken,
      issued_token_type: accessTokenType,
      token_type: access.tokenType,
      expires_in: access.expiresIn,
      scope: access.scope,
    };
  },
};
