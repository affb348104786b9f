/**
 * POST /token (RFC 6749 §3.2, §5). Parse the form, authenticate the client, look up the grant handler by
 * `grant_type`, and answer with Cache-Control: no-store. Errors are rendered as RFC 6749 §5.2 JSON by
 * the error handler.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { grantHandlers } from '../grants/registry.ts';
import { clientAuthRequest } from '../http/client-certificate.ts';
import { noStoreHeaders } from '../http/error-handler.ts';
import { authenticateClient, certificateBinding } from '../protocol/client-auth.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type RawParams, toParams } from '../protocol/params.ts';

export function tokenEndpoint(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.headers['content-type']?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
    }
    const params = toParams((request.body as RawParams | undefined) ?? {});
    const authRequest = clientAuthRequest(ctx, request);
    const client = await authenticateClient(ctx, authRequest, params).catch((error: unknown) => {
      ctx.audit('client_authentication_failed', { endpoint: 'token', client_id: params.get('client_id') });
      throw error;
    });
    await ctx.rateLimits.hit('tokenPerClient', client.clientId);
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
    const handler = grantHandlers.get(grantType);
    if (handler === undefined) throw new OAuthError('unsupported_grant_type', 'grant_type is not supported');
    if (!client.grantTypes.includes(grantType)) {
      throw new OAuthError('unauthorized_client', 'the client is not registered for this grant type');
    }
    const response = await handler.handle(ctx, client, params, certificateBinding(client, authRequest));
    ctx.metrics.tokenIssued(grantType);
    ctx.audit('token_issued', {
      grant_type: grantType,
      client_id: client.clientId,
      scope: response.scope,
      refresh_token: response.refresh_token !== undefined,
      id_token: response.id_token !== undefined,
    });
    reply.headers(noStoreHeaders).type('application/json').send(JSON.stringify(response));
  };
}
