/**
 * POST /bc-authorize, the backchannel authentication endpoint (CIBA Core §7.1-§7.3, §13). The client
 * authenticates as at /token; the rules are in protocol/backchannel-authentication.ts. Answers carry
 * Cache-Control: no-store, errors are JSON with CIBA Core §13's statuses, and requests are limited per IP
 * (the route) and per client, since each one notifies a user. The stored parameters are bounded
 * (`requestParameters`).
 */
import type { ServerContext } from '../context.ts';
import { issueBackchannelRequest } from '../protocol/backchannel-authentication.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { clientInitiatedEndpoint } from './client-initiated.ts';

export function backchannelAuthenticationEndpoint(ctx: ServerContext, certificates: ClientCertificates) {
  return clientInitiatedEndpoint(ctx, certificates, {
    endpoint: 'backchannel_authentication',
    rule: 'backchannelPerClient',
    async issue(client, params) {
      const issued = await issueBackchannelRequest(ctx, client, params);
      return { auth_req_id: issued.authReqId, expires_in: issued.expiresIn, interval: issued.interval };
    },
  });
}
