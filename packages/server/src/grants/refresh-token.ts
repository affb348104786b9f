/**
 * grant_type=refresh_token (RFC 6749 §6, OAuth 2.1 §4.3.1, RFC 9700 §4.14.2).
 * Every use rotates the token; the old one stops working. Presenting a token that was already rotated
 * means it leaked (or a client lost a response): the whole family is revoked by grant id. The scope may
 * narrow, never widen beyond what was originally granted. (The one exception to rotation is opt-in, for
 * sender-constrained confidential clients; see below.) A refresh token bound to a DPoP key (public
 * clients, RFC 9449 §5) is redeemed only with a proof by that key. Lifetimes (tokens/user-tokens.ts): the
 * family's absolute expiry never moves; a rotated token's successor, and a kept token on each use, get
 * min(absolute, now + idle), so a token left unused longer than the client's idle lifetime has expired.
 */

import type { RefreshToken } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import { parseScope } from '../protocol/scopes.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import type { Repositories } from '../storage/ports.ts';
import { redeemOnce } from '../tokens/redemption.ts';
import { refreshTokenLifetime, selectResources } from '../tokens/user-tokens.ts';
import type { GrantHandler } from './types.ts';

export const refreshTokenGrant: GrantHandler = {
  grantType: 'refresh_token',
  async handle(ctx, client, params, binding) {
    const token = params.required('refresh_token');
    const requestedScope = parseScope(params.get('scope'));
    const requestedResources = params.getAll('resource');

    const tokenHash = sha256Base64Url(token);
    const now = ctx.now();
    // FAPI 2.0 §5.3.2.1 (protocol/profile.ts): when configured, a confidential client whose request is
    // sender-constrained keeps its refresh token; the token is then not consumed and no new one is issued
    // (RFC 6749 §6 lets the server choose), and grant revocation and expiry still end it.
    const rotate =
      ctx.config.tokens.rotateSenderConstrainedRefreshTokens ||
      client.tokenEndpointAuthMethod === 'none' ||
      (binding.jkt === undefined && binding.x5tS256 === undefined);
    const { idle } = refreshTokenLifetime(ctx.config, client);
    const keep = (repositories: Repositories) =>
      idle === null
        ? repositories.refreshTokens.findRedeemable(tokenHash, client.clientId, now)
        : repositories.refreshTokens.keep(tokenHash, client.clientId, now, now + idle);
    return redeemOnce<RefreshToken>(ctx, {
      take: (repositories) =>
        rotate ? repositories.refreshTokens.consume(tokenHash, client.clientId, now) : keep(repositories),
      find: (repositories) => repositories.refreshTokens.find(tokenHash),
      tokens: (record) => {
        // RFC 9449 §5: a public client's refresh token is bound to its DPoP key; another key (or none) fails.
        if (record.dpopJkt !== null && record.dpopJkt !== binding.jkt)
          throw new OAuthError(
            'invalid_grant',
            'the refresh token is bound to a DPoP key this request did not prove',
          );
        for (const scope of requestedScope) {
          if (!record.scope.includes(scope))
            throw new OAuthError('invalid_scope', `scope ${scope} was not granted`);
        }
        const allowed = record.scope.filter((scope) => client.scopes.includes(scope));
        const scopes =
          requestedScope.length > 0 ? requestedScope.filter((scope) => allowed.includes(scope)) : allowed;
        return {
          client,
          source: record,
          scopes,
          resources: selectResources(requestedResources, record.resources),
          nonce: undefined,
          refreshExpiresAt: record.absoluteExpiresAt,
          binding,
          newRefreshToken: rotate,
          grantType: 'refresh_token',
        };
      },
      now,
      clientId: client.clientId,
      invalidMessage: 'refresh token is invalid',
      expiredMessage: 'refresh token has expired',
      reuseEvent: 'refresh_token_reused',
      reuseMessage: 'refresh token was already used; the grant is revoked',
    });
  },
};
