/**
 * POST /par: pushed authorization requests (RFC 9126). The client authenticates as at /token (§2) and its
 * parameters are validated as /authorize validates them, but errors are JSON (§2.3), never redirected; a
 * nested `request_uri` is `invalid_request` (§2.1). The answer is 201 with a one-time `request_uri` of 256
 * random bits, stored hashed, and `expires_in` of at most 60 seconds (§2.2). A `DPoP` proof here binds the
 * code to its key (RFC 9449 §10.1) and must name the same key as `dpop_jkt` when both are sent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { pushAuthorizationRequest, pushedRequestParameters } from '../protocol/authorization-request.ts';
import { authenticateClient } from '../protocol/client-auth.ts';
import { dpopHeaderValues } from '../protocol/dpop.ts';
import { OAuthError } from '../protocol/errors.ts';
import { checkParameterLengths } from '../protocol/params.ts';
import { assertFapi2Client, isFapi2 } from '../protocol/profile.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { formParams } from './form.ts';
import { noStoreHeaders } from './responses.ts';

export function parEndpoint(ctx: ServerContext, certificates: ClientCertificates) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { raw, params } = formParams(request);
    checkParameterLengths(raw, ctx.config.requestParameters);
    const now = ctx.now();
    const nonce = ctx.dpop.currentNonce(now);
    if (nonce !== undefined) reply.header('dpop-nonce', nonce);
    const client = await authenticateClient(ctx, certificates.authRequest(request), params, 'par');
    const pushed = pushedRequestParameters(raw, client.clientId);

    const dpopHeaders = dpopHeaderValues(request.raw.rawHeaders);
    let dpopAlg: string | undefined;
    if (dpopHeaders.length > 0) {
      const proof = await ctx.dpop.verify({
        headers: dpopHeaders,
        method: request.method,
        url: ctx.endpoints.pushedAuthorizationRequest,
        now,
      });
      const dpopJkt = params.get('dpop_jkt');
      if (dpopJkt !== undefined && dpopJkt !== proof.jkt)
        throw new OAuthError('invalid_dpop_proof', 'dpop_jkt does not match the key of the DPoP proof');
      pushed.dpop_jkt = [proof.jkt];
      dpopAlg = proof.alg;
    }
    if (isFapi2(ctx.config, client)) assertFapi2Client(client, dpopAlg);

    const { requestUri, expiresIn } = await pushAuthorizationRequest(ctx, client, pushed, now);
    reply
      .code(201)
      .headers(noStoreHeaders)
      .type('application/json')
      .send(JSON.stringify({ request_uri: requestUri, expires_in: expiresIn }));
  };
}
