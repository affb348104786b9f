/**
 * Token requests that poll for a user's decision made elsewhere, shared by the device code grant (RFC 8628
 * §3.4, §3.5) and the CIBA grant (CIBA Core §10.1, §11). Errors are HTTP 400 with an RFC 6749 §5.2 body,
 * access_denied included. Unknown or another client's handle: invalid_grant; denied: access_denied (even
 * after expiry, so the client learns why); expired: expired_token; pending: authorization_pending, or
 * slow_down (interval +5 s, kept for later polls) when polled too soon. An approved record is consumed by
 * one conditional UPDATE, so exactly one request gets tokens, on any number of nodes; they are issued as at
 * the authorization code grant, under the grant created at approval, so a grant revoked meanwhile yields
 * invalid_grant. A second request after success revokes nothing, unlike a replayed code (RFC 6749
 * §4.1.2): the handle never passes through a browser, so it is the client's own retry.
 */
import type { IssuedHandle, PolledAuthorization } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import type { PolledAuthorizationRepository, Repositories } from '../storage/ports.ts';
import {
  prepareUserTokens,
  redeemableAccount,
  refreshTokenLifetime,
  selectResources,
  type UserTokenRequest,
  userTokenClaims,
} from '../tokens/user-tokens.ts';
import type { GrantHandler } from './types.ts';

export interface PolledGrant {
  grantType: string;
  /** The request parameter carrying the handle (`device_code`, `auth_req_id`). */
  parameter: string;
  /** What the client must do when the handle has expired. */
  restart: string;
  repository(repositories: Repositories): PolledAuthorizationRepository<PolledAuthorization>;
  grantId(handleHash: string): string;
  /** The audit event of a redemption. */
  redeemedEvent: string;
}

export function polledGrant(spec: PolledGrant): GrantHandler {
  const { parameter } = spec;
  const invalid = () => new OAuthError('invalid_grant', `${parameter} is invalid`);
  const used = () => new OAuthError('invalid_grant', `${parameter} was already used`);
  const expired = () => new OAuthError('expired_token', `${parameter} has expired; ${spec.restart}`);
  return {
    grantType: spec.grantType,
    async handle(ctx, client, params, binding) {
      const hash = sha256Base64Url(params.required(parameter));
      const repository = spec.repository(ctx.storage);
      const record = await repository.findByHash(hash);
      const now = ctx.now();
      if (record === undefined || record.clientId !== client.clientId) throw invalid();
      if (record.status === 'consumed') throw used();
      if (record.status === 'denied') {
        throw new OAuthError('access_denied', 'the user denied the authorization request', { status: 400 });
      }
      if (record.expiresAt <= now) throw expired();
      if (record.status === 'pending') {
        const poll = await repository.recordPoll(hash, now, record.lastPolledAt, record.interval);
        if (poll === 'slow_down') {
          throw new OAuthError(
            'slow_down',
            `polling too fast; wait at least ${record.interval + 5} seconds between requests`,
          );
        }
        throw new OAuthError('authorization_pending', 'the user has not yet completed the authorization');
      }

      const { userId, authTime, amr, sid } = record;
      if (userId === null || authTime === null || amr === null || sid === null) throw invalid();
      // RFC 8707 §2.2: the token request may narrow the approved resources (checked before the use).
      const resources = selectResources(params.getAll('resource'), record.resources);
      const account = await redeemableAccount(ctx, userId);
      const grantId = spec.grantId(hash);
      const source: IssuedHandle = {
        grantId,
        clientId: client.clientId,
        userId,
        scope: record.scope,
        resources: record.resources,
        authTime,
        amr,
        sid,
        expiresAt: record.expiresAt,
        consumedAt: now,
        createdAt: now,
        dpopJkt: null,
      };
      const tokenRequest: UserTokenRequest = {
        client,
        source,
        scopes: record.scope,
        resources,
        nonce: undefined,
        refreshExpiresAt: now + refreshTokenLifetime(ctx.config, client).absolute,
        binding,
        grantType: spec.grantType,
      };
      // Asked before the transaction (tokens/user-tokens.ts).
      const claims = await userTokenClaims(ctx, tokenRequest, account);
      const outcome = await ctx.storage.transaction(async (repositories) => {
        if (!(await spec.repository(repositories).consume(hash, now))) return undefined;
        const grant = await repositories.grants.find(grantId);
        if (grant === undefined || grant.revokedAt !== null || grant.userId !== userId)
          throw new OAuthError('invalid_grant', 'the authorization was revoked');
        return prepareUserTokens(ctx, repositories, tokenRequest, account, claims);
      });
      if (outcome === undefined) {
        // Another request consumed it first, or it expired in between.
        const current = await repository.findByHash(hash);
        if (current?.status === 'approved') throw expired();
        throw used();
      }
      ctx.audit(spec.redeemedEvent, { client_id: client.clientId, user_id: userId });
      return outcome();
    },
  };
}
