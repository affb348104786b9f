/**
 * grant_type=urn:ietf:params:oauth:grant-type:device_code: the device's token polling (RFC 8628 §3.4, §3.5).
 *
 * Checks, in order:
 * - `device_code` is required (invalid_request). An unknown code, or one issued to another client, is
 *   invalid_grant (RFC 8628 §3.5 defers to RFC 6749 §5.2 for everything it does not name).
 * - A code that already yielded tokens is invalid_grant. Unlike a replayed authorization code (RFC 6749
 *   §4.1.2) this revokes nothing: the device code never passes through a browser or a redirect, it only
 *   travels between the device and this server, so a second poll after success is the device's own
 *   duplicate (a retry, two threads) and revoking would punish the legitimate client.
 * - A denied code is access_denied (§3.5), reported even after expiry so the device learns the real reason.
 * - An expired code is expired_token (§3.5).
 * - A pending code is authorization_pending, or slow_down when the device polled sooner than its interval
 *   since its previous poll; each slow_down grows that device code's interval by 5 seconds for all later
 *   polls (§3.5). The first poll is never too soon: the interval spaces polls, not the first one.
 *   slow_down applies only while pending: once the user has decided, the answer is final either way.
 * - An approved code is consumed by one conditional UPDATE, so of any number of concurrent polls exactly
 *   one gets tokens. The grant row was created at approval (protocol/device-authorization.ts), as an
 *   authorization code's is at issuance, under an id derived from the device code's hash (`deviceGrantId`;
 *   the device_codes table has no grant column). So a grant revoked before the device polls (the user
 *   signed out of that session, the client was removed) yields invalid_grant, not tokens. Tokens follow
 *   the authorization code grant (tokens/user-tokens.ts): an id_token when `openid` was approved, a refresh token when
 *   `offline_access` was approved and the client is registered for refresh_token, all sharing one grant id.
 *   A `resource` parameter may narrow the approved RFC 8707 resources for this access token (RFC 8707
 *   §2.2), as at the authorization code grant; naming any other is invalid_target and uses nothing up.
 *
 * Polling errors are HTTP 400 with an RFC 6749 §5.2 JSON body (RFC 8628 §3.5 uses the token endpoint's
 * error response), including access_denied, whose default status elsewhere is 403.
 */

import type { IssuedHandle } from '../model.ts';
import { deviceCodeGrantType, deviceGrantId } from '../protocol/device-authorization.ts';
import { OAuthError } from '../protocol/errors.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import { prepareUserTokens, selectResources } from '../tokens/user-tokens.ts';
import type { GrantHandler } from './types.ts';

const invalid = () => new OAuthError('invalid_grant', 'device_code is invalid');

export const deviceCodeGrant: GrantHandler = {
  grantType: deviceCodeGrantType,
  async handle(ctx, client, params, binding) {
    const deviceCode = params.get('device_code');
    if (deviceCode === undefined) throw new OAuthError('invalid_request', 'device_code is required');
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
    const outcome = await ctx.storage.transaction(async (repositories) => {
      if (!(await repositories.deviceCodes.consume(deviceCodeHash, now))) return undefined;
      const grantId = deviceGrantId(deviceCodeHash);
      const grant = await repositories.grants.find(grantId);
      if (grant === undefined || grant.revokedAt !== null || grant.userId !== userId)
        throw new OAuthError('invalid_grant', 'the authorization was revoked');
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
      return prepareUserTokens(ctx, repositories, {
        client,
        source,
        scopes: record.scope,
        resources,
        nonce: undefined,
        refreshExpiresAt: now + ctx.config.tokens.refreshTokenTtl,
        binding,
      });
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
