/**
 * POST /device_authorization (RFC 8628 §3.1, §3.2). The client authenticates as at /token; the rules and
 * codes are in protocol/device-authorization.ts. Answers carry Cache-Control: no-store, errors are RFC 6749
 * §5.2 JSON, and requests are limited per IP and per client (a public client's per client and address),
 * since each creates a user code (§5.2); the stored parameters are bounded (`requestParameters`).
 * `verification_uri_complete` carries the user code (§3.3.1); the page still asks for confirmation (§5.4).
 */
import type { ServerContext } from '../context.ts';
import { formatUserCode, issueDeviceCode } from '../protocol/device-authorization.ts';
import type { ClientCertificates } from './client-certificate.ts';
import { clientInitiatedEndpoint } from './client-initiated.ts';

export function deviceAuthorizationEndpoint(ctx: ServerContext, certificates: ClientCertificates) {
  return clientInitiatedEndpoint(ctx, certificates, {
    endpoint: 'device_authorization',
    rule: 'deviceAuthorizationPerClient',
    async issue(client, params) {
      const { deviceCode, userCode } = await issueDeviceCode(ctx, client, params);
      const { codeTtl, interval } = ctx.config.device;
      const shown = formatUserCode(userCode);
      const complete = new URL(ctx.endpoints.deviceVerification);
      complete.searchParams.set('user_code', shown);
      return {
        device_code: deviceCode,
        user_code: shown,
        verification_uri: ctx.endpoints.deviceVerification,
        verification_uri_complete: complete.toString(),
        expires_in: codeTtl,
        interval,
      };
    },
  });
}
