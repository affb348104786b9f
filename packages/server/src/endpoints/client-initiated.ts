/**
 * The endpoints where a client starts an authorization the user decides on elsewhere: device authorization
 * (RFC 8628 §3.1, §3.2) and backchannel authentication (CIBA Core §7.1-§7.3). The client is authenticated
 * and its request counted against the client's budget (form.ts); the answer is JSON with Cache-Control:
 * no-store, since it carries the handle the client polls with.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitRule, ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import type { Params } from '../protocol/params.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { authenticatedClientRequest } from './form.ts';
import { noStoreHeaders } from './responses.ts';

/** What a client-initiated endpoint is: its name for client authentication, its budget, what it issues. */
export interface ClientInitiated {
  /** The endpoint, as client authentication names it (protocol/client-auth.ts). */
  endpoint: string;
  /** The client's budget each request counts against. */
  rule: RateLimitRule;
  /** Issues the request's handles and answers the JSON body. */
  issue(client: Client, params: Params): Promise<Record<string, unknown>>;
}

export function clientInitiatedEndpoint(
  ctx: ServerContext,
  certificates: ClientCertificates,
  spec: ClientInitiated,
) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { client, params } = await authenticatedClientRequest(
      ctx,
      certificates,
      request,
      spec.endpoint,
      spec.rule,
    );
    const body = await spec.issue(client, params);
    reply.headers(noStoreHeaders).type('application/json').send(JSON.stringify(body));
  };
}
