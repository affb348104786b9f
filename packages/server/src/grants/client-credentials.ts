/**
 * grant_type=client_credentials (RFC 6749 §4.4): a confidential client acting on its own behalf. Only API
 * scopes apply; without a `scope` parameter the client gets every API scope it is registered for. No
 * refresh token is issued (RFC 6749 §4.4.3).
 */
import { OAuthError } from '../protocol/errors.ts';
import { parseScope } from '../protocol/scopes.ts';
import { issueAccessToken } from '../tokens/access-token.ts';
import type { GrantHandler } from './types.ts';

export const clientCredentialsGrant: GrantHandler = {
  grantType: 'client_credentials',
  async handle(ctx, client, params, binding) {
    const requested = parseScope(params.get('scope'));
    for (const scope of requested) {
      if (ctx.catalog.isIdentityScope(scope))
        throw new OAuthError('invalid_scope', `scope ${scope} needs a user`);
    }
    ctx.catalog.assertAllowed(requested, client.scopes);
    const scopes =
      requested.length > 0 ? requested : client.scopes.filter((scope) => !ctx.catalog.isIdentityScope(scope));
    const resources = ctx.catalog.resolveResources(params.getAll('resource'));
    const access = await issueAccessToken(ctx, ctx.storage.accessTokens, {
      client,
      userId: undefined,
      scopes,
      resources,
      binding,
      grantType: 'client_credentials',
    });
    return {
      access_token: access.accessToken,
      token_type: access.tokenType,
      expires_in: access.expiresIn,
      scope: access.scope,
    };
  },
};
