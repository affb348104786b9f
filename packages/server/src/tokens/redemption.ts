/**
 * Redeeming a single-use handle for tokens: an authorization code (RFC 6749 §4.1.2, §4.1.3) or a refresh
 * token under rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2). The handle is taken in one conditional
 * statement, so of concurrent redemptions exactly one wins. A used handle presented again means it leaked
 * (or a client lost a response): reuse detection revokes the whole family by grant id (RFC 6749 §4.1.2,
 * §10.5; RFC 9700 §4.14.2).
 */
import type { ServerContext } from '../context.ts';
import type { IssuedHandle } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { Repositories } from '../storage/ports.ts';
import type { TokenResponse } from './token-response.ts';
import {
  prepareUserTokens,
  redeemableAccount,
  type UserTokenRequest,
  userTokenClaims,
} from './user-tokens.ts';

/** A single-use handle (authorization code or refresh token) being redeemed for tokens. */
export interface SingleUseRedemption<Handle extends IssuedHandle> {
  /**
   * Takes the handle in one conditional statement (its own client's, unused, unexpired, grant live) and
   * returns it; undefined when it cannot be redeemed, or when another request took it first.
   */
  take(repositories: Repositories): Promise<Handle | undefined>;
  /** Reads the handle as it is, to tell why `take` refused it. */
  find(repositories: Repositories): Promise<Handle | undefined>;
  /**
   * Checks what the request must match (redirect_uri, PKCE, DPoP key, scope) and says which tokens to
   * issue. Throwing rolls the redemption back: the handle stays unused.
   */
  tokens(handle: Handle): UserTokenRequest;
  now: number;
  clientId: string;
  /** Error descriptions for a handle unknown (or another client's) and for one expired. */
  invalidMessage: string;
  expiredMessage: string;
  /** Audit event and error description when the handle turns out to have been used already. */
  reuseEvent: string;
  reuseMessage: string;
}

/**
 * Why a handle could not be redeemed. A used handle presented again means it leaked (or a client lost a
 * response): the whole family is revoked by grant id (RFC 6749 §4.1.2, RFC 9700 §4.14.2), in the caller's
 * transaction, which commits before the returned error is thrown.
 */
async function refusal<Handle extends IssuedHandle>(
  ctx: ServerContext,
  repositories: Repositories,
  redemption: SingleUseRedemption<Handle>,
): Promise<OAuthError> {
  const handle = await redemption.find(repositories);
  if (handle === undefined || handle.clientId !== redemption.clientId)
    return new OAuthError('invalid_grant', redemption.invalidMessage);
  if (handle.consumedAt !== null) {
    await repositories.grants.revoke(handle.grantId, redemption.now);
    ctx.audit(redemption.reuseEvent, { client_id: redemption.clientId, grant_id: handle.grantId });
    return new OAuthError('invalid_grant', redemption.reuseMessage);
  }
  if (handle.expiresAt <= redemption.now) return new OAuthError('invalid_grant', redemption.expiredMessage);
  return new OAuthError('invalid_grant', 'the authorization was revoked');
}

/**
 * Takes the handle and issues tokens in one transaction. Exactly one concurrent redemption wins; a request
 * that finds the handle used is a reuse and revokes the family. The common case costs one statement
 * before the tokens: the take reads and uses up the handle and checks its grant, all at once.
 */
export async function redeemOnce<Handle extends IssuedHandle>(
  ctx: ServerContext,
  redemption: SingleUseRedemption<Handle>,
): Promise<TokenResponse> {
  // The account is asked first, outside the transaction (user-tokens.ts); a handle that is unknown here
  // goes on to the transaction, whose take refuses it and tells why.
  const peeked = await redemption.find(ctx.storage);
  const account =
    peeked !== undefined && peeked.clientId === redemption.clientId
      ? await redeemableAccount(ctx, peeked.userId)
      : undefined;
  // The claims (account store, claims hook) are asked for outside the transaction too, for a handle that
  // looks redeemable. Its checks run here first: one that fails would fail in the transaction as well,
  // which would roll the take back, so the handle stays unused either way. A used or expired handle
  // goes on to the transaction, which tells why it is refused.
  const claims =
    account !== undefined &&
    peeked !== undefined &&
    peeked.consumedAt === null &&
    peeked.expiresAt > redemption.now
      ? await userTokenClaims(ctx, redemption.tokens(peeked), account)
      : undefined;
  const outcome = await ctx.storage.transaction(async (repositories) => {
    const handle = await redemption.take(repositories);
    if (handle === undefined) return { error: await refusal(ctx, repositories, redemption) };
    // Not seen a moment ago: throwing rolls the take back.
    if (account === undefined || claims === undefined)
      throw new OAuthError('invalid_grant', redemption.invalidMessage);
    return {
      sign: await prepareUserTokens(ctx, repositories, redemption.tokens(handle), account, claims),
    };
  });
  if ('error' in outcome) throw outcome.error;
  return outcome.sign();
}
