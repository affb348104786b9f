/**
 * The `rateLimits` section: fixed-window limits per address, client, operator and username (http/rate-limit.ts,
 * sessions/login.ts).
 */
import * as z from 'zod';
import { seconds, section } from './fields.ts';

/** A fixed-window limit: at most `limit` requests per `window` seconds for one key (an IP, a client, a user). */
const rateLimitSchema = z.strictObject({
  limit: z.number().int().min(1),
  window: seconds(1, 86400),
});
const limit = (count: number, window: number) => rateLimitSchema.default({ limit: count, window });

export const rateLimitsSchema = section({
  enabled: z.boolean().default(true),
  /** Token requests from one address (500 a second on average: a busy client is not throttled). */
  tokenPerIp: limit(30000, 60),
  /**
   * Token requests of one confidential client, from anywhere. A public client is named by its client_id
   * alone, which anyone can send, so its budget is counted per client and address instead.
   */
  tokenPerClient: limit(30000, 60),
  authorizePerIp: limit(300, 60),
  /**
   * Sign-ins (interactions) one address may start per window: with the window at `login.interactionTtl`,
   * at most twice `limit` are pending per address at any time (each is at most
   * `requestParameters.maxTotalLength` characters of parameters).
   */
  interactionsPerIp: limit(300, 900),
  parPerIp: limit(300, 60),
  deviceAuthorizationPerIp: limit(60, 60),
  /** Per confidential client; a public client's is per client and address (as `tokenPerClient`). */
  deviceAuthorizationPerClient: limit(60, 60),
  /** CIBA authentication requests (/bc-authorize) from one address; each may notify a user. */
  backchannelPerIp: limit(60, 60),
  /** Per confidential client (CIBA clients are confidential). */
  backchannelPerClient: limit(60, 60),
  introspectPerCaller: limit(6000, 60),
  revokePerIp: limit(300, 60),
  loginPerIp: limit(60, 60),
  userCodePerIp: limit(30, 60),
  /** RFC 7591 registrations (and RFC 7592 reads, updates and deletions) from one address. */
  registerPerIp: limit(20, 3600),
  /**
   * Back-channel logout tokens POSTed by upstream providers (/upstream/{id}/backchannel-logout) from
   * one address: an upstream ending many sessions at once sends one token each.
   */
  upstreamLogoutPerIp: limit(600, 60),
  /** Admin API requests (/admin/v1) from one address, counted before the operator's token is read. */
  adminPerIp: limit(600, 60),
  /** Admin API requests of one operator client (its tokens' client_id), from anywhere. */
  adminPerOperator: limit(600, 60),
  /**
   * Failed logins for one username from one address (or from one browser that signed in to that
   * account before) before each further failure locks them out for a doubling delay (sessions/login.ts).
   */
  loginFreeFailures: z.number().int().min(1).max(100).default(5),
  /** The longest such lock, in seconds. */
  loginMaxDelay: seconds(1, 86400).default(900),
  /**
   * The softer per-username rule: failed logins for one username from browsers that never signed in to
   * it, all addresses together, before each further failure locks the username for those browsers.
   */
  loginUsernameFreeFailures: z.number().int().min(1).max(1000).default(20),
  /** The longest per-username lock, in seconds; browsers known to the account are never held by it. */
  loginUsernameMaxDelay: seconds(1, 86400).default(300),
});
