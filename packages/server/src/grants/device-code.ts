/**
 * grant_type=urn:ietf:params:oauth:grant-type:device_code: the device's token polling (RFC 8628 §3.4,
 * §3.5), by the rules shared with CIBA (polled-grant.ts), under the grant created at approval
 * (`deviceGrantId`).
 */
import { deviceCodeGrantType, deviceGrantId } from '../protocol/device-authorization.ts';
import { polledGrant } from './polled-grant.ts';

export const deviceCodeGrant = polledGrant({
  grantType: deviceCodeGrantType,
  parameter: 'device_code',
  restart: 'start a new device authorization',
  repository: (repositories) => repositories.deviceCodes,
  grantId: deviceGrantId,
  redeemedEvent: 'device_code_redeemed',
});
