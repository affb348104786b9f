/**
 * grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6, OAuth 2.1 §4.1.3).
 * The code is single use: the database decides the one redemption that wins. Presenting a code that was
 * already redeemed revokes every token issued from it (RFC 6749 §4.1.2, RFC 9700 §4.5). A code bound to
 * a DPoP key (`dpop_jkt`, RFC 9449 §10) needs a proof by that key; a wrong key leaves the code unused.
 */

import type { AuthorizationCode } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import { validateCodeVerifier, verifierMatchesChallenge } from '../protocol/pkce.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import { redeemOnce } from '../tokens/redemption.ts';
import { refreshTokenLifetime, selectResources } from '../tokens/user-tokens.ts';
import type { GrantHandler } from './types.ts';

export const authorizationCodeGrant: GrantHandler = {
  grantType: 'authorization_code',
  async handle(ctx, client, params, binding) {
    const code = params.required('code');
    const redirectUri = params.required('redirect_uri');
    const verifier = validateCodeVerifier(params.get('code_verifier'));
    const requestedResources = params.getAll('resource');

    const codeHash = sha256Base64Url(code);
    const now = ctx.now();
    return redeemOnce<AuthorizationCode>(ctx, {
      take: (repositories) => repositories.authorizationCodes.consume(codeHash, client.clientId, now),
      find: (repositories) => repositories.authorizationCodes.find(codeHash),
      tokens: (record) => {
        if (record.redirectUri !== redirectUri)
          throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
        if (!verifierMatchesChallenge(verifier, record.codeChallenge)) {
          throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
        }
        // RFC 9449 §10: a code requested with dpop_jkt is redeemed only with a proof made by that key.
        if (record.dpopJkt !== null && record.dpopJkt !== binding.jkt)
          throw new OAuthError(
            'invalid_grant',
            'the authorization code is bound to a DPoP key this request did not prove',
          );
        return {
          client,
          source: record,
          scopes: record.scope,
          resources: selectResources(requestedResources, record.resources),
          nonce: record.nonce ?? undefined,
          refreshExpiresAt: now + refreshTokenLifetime(ctx.config, client).absolute,
          binding,
          grantType: 'authorization_code',
        };
      },
      now,
      clientId: client.clientId,
      invalidMessage: 'authorization code is invalid',
      expiredMessage: 'authorization code has expired',
      reuseEvent: 'authorization_code_reused',
      reuseMessage: 'authorization code was already used; tokens issued from it are revoked',
    });
  },
};
