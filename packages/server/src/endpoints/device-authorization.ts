/**
 * POST /device_authorization: the device authorization request and response (RFC 8628 §3.1, §3.2).
 *
 * Form-encoded POST only. The client authenticates exactly as at the token endpoint (§3.1 points at RFC
 * 6749 §3.2.1; public clients send `client_id`); the request's rules and the codes are in
 * protocol/device-authorization.ts. Errors are RFC 6749 §5.2 JSON, and every answer carries Cache-Control:
 * no-store (§3.2 makes the response a credential-bearing one). Rate limits: per IP (route rule
 * `deviceAuthorizationPerIp`) and per authenticated client (`deviceAuthorizationPerClient`), since each
 * request creates state and a user code (§5.2). `verification_uri_complete` carries the user code as a
 * query parameter (§3.3.1) so devices can show it as a QR code; the page still asks the user to confirm
 * the code matches (§5.4).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { authenticateClient } from '../protocol/client-auth.ts';
import { formatUserCode, issueDeviceCode } from '../protocol/device-authorization.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { formParams } from './form.ts';
import { noStoreHeaders } from './responses.ts';

export function deviceAuthorizationEndpoint(ctx: ServerContext, certificates: ClientCertificates) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { params } = formParams(request);
    const client = await authenticateClient(
      ctx,
      certificates.authRequest(request),
      params,
      'device_authorization',
    );
    await ctx.rateLimits.hit('deviceAuthorizationPerClient', client.clientId);
    const { deviceCode, userCode } = await issueDeviceCode(ctx, client, params);
    const { codeTtl, interval } = ctx.config.device;
    const shown = formatUserCode(userCode);
    const complete = new URL(ctx.endpoints.deviceVerification);
    complete.searchParams.set('user_code', shown);
    reply
      .headers(noStoreHeaders)
      .type('application/json')
      .send(
        JSON.stringify({
          device_code: deviceCode,
          user_code: shown,
          verification_uri: ctx.endpoints.deviceVerification,
          verification_uri_complete: complete.toString(),
          expires_in: codeTtl,
          interval,
        }),
      );
  };
}
