/**
 * The parameters of a back-channel POST (/token, /par, /revoke, /introspect, /device_authorization). Each
 * of them takes only `application/x-www-form-urlencoded` (RFC 6749 §3.2, RFC 9126 §2.1, RFC 7009 §2.1,
 * RFC 7662 §2.1, RFC 8628 §3.1); the HTTP adapter's parser (http/app.ts) has turned the body into value
 * lists, and `toParams` refuses duplicated parameters.
 */
import type { FastifyRequest } from 'fastify';
import type { RateLimitRule, ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import { authenticateClient, clientBudgetKey } from '../protocol/client-auth.ts';
import { OAuthError } from '../protocol/errors.ts';
import { checkParameterLengths, type Params, type RawParams, toParams } from '../protocol/params.ts';
import type { ClientCertificates } from './client-certificate.ts';

export function formParams(request: FastifyRequest): { raw: RawParams; params: Params } {
  if (!request.headers['content-type']?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const raw = (request.body as RawParams | undefined) ?? {};
  return { raw, params: toParams(raw) };
}

/**
 * The start of a back-channel request a client makes for a user (/device_authorization, RFC 8628 §3.1;
 * /bc-authorize, CIBA Core §7.1): bounded parameters (`requestParameters`), the client authenticated as
 * at /token, and one request counted against the client's budget `rule` (a public client's per client and
 * address), since each such request reaches out to a user.
 */
export async function authenticatedClientRequest(
  ctx: ServerContext,
  certificates: ClientCertificates,
  request: FastifyRequest,
  endpoint: string,
  rule: RateLimitRule,
): Promise<{ client: Client; params: Params }> {
  const { raw, params } = formParams(request);
  checkParameterLengths(raw, ctx.config.requestParameters);
  const client = await authenticateClient(ctx, certificates.authRequest(request), params, endpoint);
  await ctx.rateLimits.hit(rule, clientBudgetKey(client, request.ip));
  return { client, params };
}
