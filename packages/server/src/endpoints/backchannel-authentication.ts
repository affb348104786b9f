/**
 * POST /bc-authorize, the backchannel authentication endpoint (CIBA Core §7.1-§7.3, §13). The client
 * authenticates as at /token; the rules are in protocol/backchannel-authentication.ts. Answers carry
 * Cache-Control: no-store, errors are JSON with CIBA Core §13's statuses, and requests are limited per IP
 * (the route) and per client, since each one notifies a user. The stored parameters are bounded
 * (`requestParameters`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { issueBackchannelRequest } from '../protocol/backchannel-authentication.ts';
import { authenticateClient, clientBudgetKey } from '../protocol/client-auth.ts';
import { checkParameterLengths } from '../protocol/params.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { formParams } from './form.ts';
import { noStoreHeaders } from './responses.ts';

export function backchannelAuthenticationEndpoint(ctx: ServerContext, certificates: ClientCertificates) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { raw, params } = formParams(request);
    checkParameterLengths(raw, ctx.config.requestParameters);
    const client = await authenticateClient(
      ctx,
      certificates.authRequest(request),
      params,
      'backchannel_authentication',
    );
    await ctx.rateLimits.hit('backchannelPerClient', clientBudgetKey(client, request.ip));
    const issued = await issueBackchannelRequest(ctx, client, params);
    reply
      .headers(noStoreHeaders)
      .type('application/json')
      .send(
        JSON.stringify({
          auth_req_id: issued.authReqId,
          expires_in: issued.expiresIn,
          interval: issued.interval,
        }),
      );
  };
}
