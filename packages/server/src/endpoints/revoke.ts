/**
 * POST /revoke (RFC 7009). The client authenticates as at the token endpoint. Revoking a refresh token
 * revokes its grant: every refresh token of the family and every access token issued from it (they carry
 * the grant id). Revoking an access token remembers its jti until it expires, so introspection and
 * userinfo refuse it. Unknown or garbage tokens, and tokens of other clients, answer 200 and change
 * nothing (RFC 7009 §2.2), so the endpoint cannot be used to probe for valid tokens.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import { authenticateClient } from '../protocol/client-auth.ts';
import { isHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { validateAccessToken } from '../tokens/validate.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { formParams } from './form.ts';
import { noStoreHeaders } from './responses.ts';

async function revokeRefreshToken(ctx: ServerContext, client: Client, token: string): Promise<boolean> {
  if (!isHandle(token)) return false;
  const record = await ctx.storage.refreshTokens.find(sha256Base64Url(token));
  if (record === undefined || record.clientId !== client.clientId) return false;
  await ctx.storage.transaction((repositories) => repositories.grants.revoke(record.grantId, ctx.now()));
  ctx.audit('token_revoked', {
    token_type: 'refresh_token',
    client_id: client.clientId,
    grant_id: record.grantId,
  });
  return true;
}

async function revokeAccessToken(ctx: ServerContext, client: Client, token: string): Promise<boolean> {
  const claims = await validateAccessToken(ctx, token);
  if (claims === undefined || claims.client_id !== client.clientId) return false;
  await ctx.storage.revocations.revokeJti(claims.jti, claims.exp);
  ctx.audit('token_revoked', { token_type: 'access_token', client_id: client.clientId, jti: claims.jti });
  return true;
}

export function revokeEndpoint(ctx: ServerContext, certificates: ClientCertificates) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { params } = formParams(request);
    const client = await authenticateClient(ctx, certificates.authRequest(request), params, 'revoke');
    const token = params.required('token');
    if (token.length <= 8192) {
      const hint = params.get('token_type_hint');
      const order =
        hint === 'access_token'
          ? [revokeAccessToken, revokeRefreshToken]
          : [revokeRefreshToken, revokeAccessToken];
      for (const revoke of order) if (await revoke(ctx, client, token)) break;
    }
    reply.code(200).headers(noStoreHeaders).send();
  };
}
