/**
 * The client's clock, in seconds since the epoch: token expiry (`expires_in`, OAuth 2.1 §3.2.3), JWT
 * time claims (RFC 7519 §4.1.4-§4.1.6) and DPoP `iat` (RFC 9449 §4.2) are all read against it. Tests
 * pass a controllable clock.
 */

/** Seconds since the epoch. Tests pass a controllable clock. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);
