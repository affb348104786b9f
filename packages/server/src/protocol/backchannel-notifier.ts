/**
 * The configured CIBA notifier (`ciba.notifier.webhookUrl`): each pending request is POSTed to the
 * operator's webhook as a JWT signed with the server's current signing key (`typ:
 * ciba-notification+jwt`, so it can never pass as an ID or access token), verifiable with the published
 * JWKS. It carries the user's subject and username, the client, the binding message and the one-time
 * approval link, and expires with the request. Any 2xx answer is delivery; anything else fails the CIBA
 * request with 503 (protocol/backchannel-authentication.ts).
 */
import type { GatehouseConfig } from '../config/schema.ts';
import type { KeyStore } from '../keys/keystore.ts';
import { signJwt } from '../tokens/jwt.ts';
import type { BackchannelNotifier } from './backchannel-notification.ts';
import { OutboundPostError, postOutbound } from './outbound-fetch.ts';
import { randomHandle } from './secrets.ts';

export interface WebhookNotifierParts {
  issuer: string;
  keys: Pick<KeyStore, 'signingKey'>;
  now(): number;
}

export function webhookNotifier(
  parts: WebhookNotifierParts,
  webhook: NonNullable<GatehouseConfig['ciba']['notifier']>,
): BackchannelNotifier {
  return async (notification) => {
    const now = parts.now();
    const jwt = await signJwt(parts.keys.signingKey(now), 'ciba-notification+jwt', {
      iss: parts.issuer,
      aud: webhook.webhookUrl,
      iat: now,
      exp: notification.expiresAt,
      jti: randomHandle(16),
      sub: notification.subject,
      username: notification.username,
      client_id: notification.clientId,
      client_name: notification.clientName,
      binding_message: notification.bindingMessage,
      scope: notification.scope.join(' '),
      acr_values: notification.acrValues,
      approval_url: notification.approvalUrl,
    });
    const status = await postOutbound({
      url: webhook.webhookUrl,
      headers: { 'content-type': 'application/jwt' },
      body: jwt,
      timeout: webhook.timeout,
      allowPrivateAddresses: true,
    });
    if (status < 200 || status >= 300) throw new OutboundPostError(`the notifier webhook answered ${status}`);
  };
}
