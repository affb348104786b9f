/**
 * POST /token (RFC 6749 §3.2, §5): authenticate the client, run the grant handler for `grant_type`, answer
 * with Cache-Control: no-store. A `DPoP` proof (RFC 9449 §5) binds the tokens to its key and is required
 * for `requireDpop` clients, or for all clients without certificate binding when `dpop.required`; with
 * nonces on every answer carries `DPoP-Nonce` (§8.2). FAPI 2.0 clients must bind (protocol/profile.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { grantHandlers } from '../grants/registry.ts';
import { authenticateClient, clientBudgetKey } from '../protocol/client-auth.ts';
import { dpopHeaderValues } from '../protocol/dpop.ts';
import { OAuthError } from '../protocol/errors.ts';
import { certificateBinding } from '../protocol/mtls.ts';
import { assertFapi2TokenRequest, isFapi2 } from '../protocol/profile.ts';
import type { TokenBinding } from '../protocol/token-binding.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { formParams } from './form.ts';
import { noStoreHeaders } from './responses.ts';

/** Counts the token responses issued, by grant type (the HTTP adapter's metrics). */
export interface TokensIssued {
  tokenIssued(grantType: string): void;
}

export function tokenEndpoint(
  ctx: ServerContext,
  certificates: ClientCertificates,
  tokensIssued: TokensIssued,
) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { params } = formParams(request);
    const nonce = ctx.dpop.currentNonce(ctx.now());
    if (nonce !== undefined) reply.header('dpop-nonce', nonce);
    const authRequest = certificates.authRequest(request);
    const client = await authenticateClient(ctx, authRequest, params, 'token');
    await ctx.rateLimits.hit('tokenPerClient', clientBudgetKey(client, request.ip));
    const grantType = params.required('grant_type');
    const handler = grantHandlers.get(grantType);
    if (handler === undefined) throw new OAuthError('unsupported_grant_type', 'grant_type is not supported');
    if (!client.grantTypes.includes(grantType)) {
      throw new OAuthError('unauthorized_client', 'the client is not registered for this grant type');
    }
    let binding: TokenBinding = certificateBinding(client, authRequest);
    let dpopAlg: string | undefined;
    const dpopHeaders = dpopHeaderValues(request.raw.rawHeaders);
    if (dpopHeaders.length > 0) {
      const proof = await ctx.dpop.verify({
        headers: dpopHeaders,
        method: request.method,
        url: ctx.endpoints.token,
        now: ctx.now(),
      });
      binding = { ...binding, jkt: proof.jkt };
      dpopAlg = proof.alg;
    } else if (client.requireDpop || (ctx.config.dpop.required && binding.x5tS256 === undefined)) {
      throw new OAuthError('invalid_dpop_proof', 'this client must send a DPoP proof');
    }
    if (isFapi2(ctx.config, client)) assertFapi2TokenRequest(client, binding, dpopAlg);
    const response = await handler.handle(ctx, client, params, binding);
    tokensIssued.tokenIssued(grantType);
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
