/** The grant types this server supports. Implicit and password grants do not exist (OAuth 2.1 §10). */
import { authorizationCodeGrant } from './authorization-code.ts';
import { cibaGrant } from './ciba.ts';
import { clientCredentialsGrant } from './client-credentials.ts';
import { deviceCodeGrant } from './device-code.ts';
import { refreshTokenGrant } from './refresh-token.ts';
import { tokenExchangeGrant } from './token-exchange.ts';
import type { GrantHandler } from './types.ts';

export const grantHandlers: ReadonlyMap<string, GrantHandler> = new Map(
  [
    authorizationCodeGrant,
    clientCredentialsGrant,
    refreshTokenGrant,
    deviceCodeGrant,
    tokenExchangeGrant,
    cibaGrant,
  ].map((handler) => [handler.grantType, handler]),
);
