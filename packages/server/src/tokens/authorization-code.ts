/**
 * Issues an authorization code (RFC 6749 §4.1.2): 256 random bits, stored only as a SHA-256 hash, valid
 * for at most 60 seconds, tied to a new grant id that everything issued from it will share. The response
 * carries `state` and the RFC 9207 `iss` parameter.
 */
import type { ServerContext } from '../context.ts';
import type { AuthorizationRequestRecord, LoginSession } from '../model.ts';
import { createRedirectUrl } from '../protocol/redirect-uri.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';

export async function issueAuthorizationCode(
  ctx: ServerContext,
  request: AuthorizationRequestRecord,
  session: LoginSession,
): Promise<string> {
  const now = ctx.now();
  const code = randomHandle();
  const grantId = randomHandle(16);
  await ctx.storage.transaction(async (repositories) => {
    await repositories.grants.create({
      id: grantId,
      clientId: request.clientId,
      userId: session.userId,
      sid: session.sid,
      scopes: request.scopes,
      resources: request.resources,
      createdAt: now,
      revokedAt: null,
      claimsRequest: request.claimsRequest ?? null,
    });
    await repositories.authorizationCodes.create({
      codeHash: sha256Base64Url(code),
      grantId,
      clientId: request.clientId,
      userId: session.userId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      scope: request.scopes,
      resources: request.resources,
      nonce: request.nonce ?? null,
      authTime: session.authTime,
      amr: session.amr,
      sid: session.sid,
      expiresAt: now + ctx.config.tokens.authorizationCodeTtl,
      consumedAt: null,
      createdAt: now,
      dpopJkt: request.dpopJkt ?? null,
      claimsRequest: request.claimsRequest ?? null,
    });
  });
  return createRedirectUrl(request.redirectUri, { code, state: request.state, iss: ctx.issuer });
}
