/**
 * POST /par: pushed authorization requests (RFC 9126).
 *
 * The client authenticates as at the token endpoint (§2; public clients send their client_id) and pushes
 * the parameters of an authorization request in the form body. They are validated exactly as /authorize
 * validates them (protocol/authorization-request.ts), but errors are answered here as JSON
 * (§2.3), never redirected. A `request_uri` inside the pushed body is `invalid_request` (§2.1). The answer
 * is 201 with `request_uri` (`urn:ietf:params:oauth:request_uri:` and 256 random bits, stored only as a
 * hash) and `expires_in` (`par.ttl`, at most 60 seconds, §2.2). /authorize then uses only the pushed
 * parameters, once, for this client (§4).
 *
 * DPoP (RFC 9449 §10.1): a `DPoP` proof sent here binds the authorization code to its key, as `dpop_jkt`
 * does; when both are sent they must name the same key.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { pushAuthorizationRequest, pushedRequestParameters } from '../protocol/authorization-request.ts';
import { authenticateClient } from '../protocol/client-auth.ts';
import { dpopHeaderValues } from '../protocol/dpop.ts';
import { OAuthError } from '../protocol/errors.ts';
import { assertFapi2Client, isFapi2 } from '../protocol/profile.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { formParams } from './form.ts';
import { noStoreHeaders } from './responses.ts';

export function parEndpoint(ctx: ServerContext, certificates: ClientCertificates) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { raw, params } = formParams(request);
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
