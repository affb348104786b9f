/**
 * grant_type=urn:openid:params:grant-type:ciba (CIBA Core §10.1, §11): a poll- or ping-mode client
 * redeems its `auth_req_id`, by the rules shared with the device code grant (polled-grant.ts), under the
 * grant created when the user approved (`cibaGrantId`).
 */
import { cibaGrantType } from '../config/clients.ts';
import { cibaGrantId } from '../protocol/backchannel-authentication.ts';
import { polledGrant } from './polled-grant.ts';

export const cibaGrant = polledGrant({
  grantType: cibaGrantType,
  parameter: 'auth_req_id',
  restart: 'send a new backchannel authentication request',
  repository: (repositories) => repositories.backchannelRequests,
  grantId: cibaGrantId,
  redeemedEvent: 'ciba_redeemed',
});
