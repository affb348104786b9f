/**
 * grant_type=urn:ietf:params:oauth:grant-type:device_code: the device's token polling (RFC 8628 §3.4, §3.5).
 * Errors are HTTP 400 with an RFC 6749 §5.2 body, access_denied included. Unknown or other client's code:
 * invalid_grant; denied: access_denied (even after expiry, so the device learns why); expired:
 * expired_token; pending: authorization_pending, or slow_down (interval +5 s) when polled too soon.
 * An approved code is consumed by one conditional UPDATE, so exactly one poll gets tokens, issued as at the
 * authorization code grant under the grant created at approval (`deviceGrantId`), so a grant revoked
 * meanwhile yields invalid_grant. A second poll after success revokes nothing, unlike a replayed code
 * (RFC 6749 §4.1.2): the device code never passes through a browser, so it is the device's own retry.
 */

import type { IssuedHandle } from '../model.ts';
import { deviceCodeGrantType, deviceGrantId } from '../protocol/device-authorization.ts';
import { OAuthError } from '../protocol/errors.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import {
  prepareUserTokens,
  redeemableAccount,
  refreshTokenLifetime,
  selectResources,
  type UserTokenRequest,
  userTokenClaims,
} from '../tokens/user-tokens.ts';
import type { GrantHandler } from './types.ts';

const invalid = () => new OAuthError('invalid_grant', 'device_code is invalid');

export const deviceCodeGrant: GrantHandler = {
  grantType: deviceCodeGrantType,
  async handle(ctx, client, params, binding) {
    const deviceCode = params.required('device_code');
    const deviceCodeHash = sha256Base64Url(deviceCode);
    const record = await ctx.storage.deviceCodes.findByHash(deviceCodeHash);
    const now = ctx.now();
    if (record === undefined || record.clientId !== client.clientId) throw invalid();
    if (record.status === 'consumed') {
      throw new OAuthError('invalid_grant', 'device_code was already used');
    }
    if (record.status === 'denied') {
      throw new OAuthError('access_denied', 'the user denied the authorization request', { status: 400 });
    }
    if (record.expiresAt <= now) {
      throw new OAuthError('expired_token', 'device_code has expired; start a new device authorization');
    }
    if (record.status === 'pending') {
      const poll = await ctx.storage.deviceCodes.recordPoll(
        deviceCodeHash,
        now,
        record.lastPolledAt,
        record.interval,
      );
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
    // RFC 8707 §2.2: the token request may narrow the approved resources (checked before the code is used).
    const resources = selectResources(params.getAll('resource'), record.resources);
    const account = await redeemableAccount(ctx, userId);
    const grantId = deviceGrantId(deviceCodeHash);
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
      grantType: deviceCodeGrantType,
    };
    // Asked before the transaction (tokens/user-tokens.ts).
    const claims = await userTokenClaims(ctx, tokenRequest, account);
    const outcome = await ctx.storage.transaction(async (repositories) => {
      if (!(await repositories.deviceCodes.consume(deviceCodeHash, now))) return undefined;
      const grant = await repositories.grants.find(grantId);
      if (grant === undefined || grant.revokedAt !== null || grant.userId !== userId)
        throw new OAuthError('invalid_grant', 'the authorization was revoked');
      return prepareUserTokens(ctx, repositories, tokenRequest, account, claims);
    });
    if (outcome === undefined) {
      // Another poll consumed it first, or it expired in between.
      const current = await ctx.storage.deviceCodes.findByHash(deviceCodeHash);
      if (current?.status === 'approved')
        throw new OAuthError('expired_token', 'device_code has expired; start a new device authorization');
      throw new OAuthError('invalid_grant', 'device_code was already used');
    }
    ctx.audit('device_code_redeemed', { client_id: client.clientId, user_id: userId });
    return outcome();
  },
};
