/**
 * Protocol settings: client authentication (RFC 7523), token lifetimes, the device flow (RFC 8628), CIBA,
 * DPoP (RFC 9449), PAR (RFC 9126), request parameter bounds and back-channel logout.
 */
import { jwsAlgorithms } from '@gatehouse/jose-rules';
import * as z from 'zod';
import { maxAccessTokenTtl } from '../model.ts';
import { fetchableUrl, seconds, section } from './fields.ts';

export const clientAuthSchema = section({
  /**
   * Longest accepted lifetime of a client assertion (RFC 7523 §3): `exp` at most this far ahead. An
   * hour, as common client libraries sign them (Authlib); FAPI 2.0 clients get at most 300 s
   * (protocol/profile.ts). The jti replay cache keeps each jti until its assertion expires.
   */
  assertionMaxLifetime: seconds(10, 3600).default(3600),
  /** Algorithms accepted for client assertions (published in discovery): asymmetric only. */
  signingAlgorithms: z.array(z.enum(jwsAlgorithms)).min(1).default(['ES256', 'RS256', 'PS256', 'EdDSA']),
  /** Accept the token endpoint URL as an assertion `aud` besides the issuer (older clients send it). */
  acceptTokenEndpointAudience: z.boolean().default(true),
  jwksUri: section({
    /** Fetch client JWKS from loopback, private, link-local and unique-local addresses (tests only). */
    allowPrivateAddresses: z.boolean().default(false),
    /** Milliseconds before a JWKS fetch is abandoned. */
    timeout: z.number().int().min(100).max(30000).default(5000),
    /** Largest JWKS document accepted, in bytes. */
    maxBytes: z.number().int().min(1024).max(1048576).default(65536),
    /** Seconds a fetched JWKS is reused before it is fetched again. */
    cacheTtl: seconds(0, 86400).default(300),
  }),
});

export const tokensSchema = section({
  accessTokenTtl: seconds(300, maxAccessTokenTtl).default(600),
  idTokenTtl: seconds(60, 86400).default(3600),
  authorizationCodeTtl: seconds(10, 60).default(60),
  /** Absolute refresh-token lifetime, counted from the authorization; rotation never extends it. */
  refreshTokenTtl: seconds(3600, 365 * 86400).default(30 * 86400),
  /**
   * Idle refresh-token lifetime: a refresh token unused for this long expires; each use gives the next
   * token (or a kept one) this long again, never past the absolute lifetime. Unset: no idle limit.
   */
  refreshTokenIdleTtl: seconds(300, 365 * 86400).optional(),
  /**
   * `false`: a confidential client whose refresh request is sender-constrained (DPoP or mutual TLS)
   * keeps its refresh token instead of getting a new one (FAPI 2.0 §5.3.2.1; see protocol/profile.ts).
   */
  rotateSenderConstrainedRefreshTokens: z.boolean().default(true),
});

export const deviceSchema = section({
  /** Seconds a device code and its user code stay valid (RFC 8628 §3.2 expires_in). */
  codeTtl: seconds(60, 1800).default(600),
  /** Minimum seconds between polls (RFC 8628 §3.2 interval). */
  interval: seconds(1, 60).default(5),
  /** Wrong user codes one browser session may enter before code entry is locked for it. */
  maxUserCodeFailures: z.number().int().min(1).max(20).default(5),
});

/** OpenID Connect CIBA Core 1.0 (protocol/backchannel-authentication.ts). */
export const cibaSchema = section({
  /** Seconds a request lives when the client asks for no `requested_expiry` (CIBA Core §7.3 expires_in). */
  requestTtl: seconds(30, 3600).default(300),
  /** The longest `requested_expiry` granted; a longer one is shortened to this. */
  maxRequestTtl: seconds(30, 86400).default(1800),
  /** Minimum seconds between token requests of a polling client (CIBA Core §7.3 interval). */
  interval: seconds(1, 60).default(5),
  /** Longest `binding_message`, in characters (CIBA Core §7.1: short, shown on the user's device). */
  maxBindingMessageLength: z.number().int().min(8).max(256).default(64),
  /**
   * Where the server tells the user's side that a request waits: a POST of a signed JWT
   * (`application/jwt`, `typ: ciba-notification+jwt`) with the user's subject, the client's name, the
   * binding message and the one-time approval link. An embedding application may pass a notifier
   * function to buildServer instead. The URL is the operator's, so private addresses are allowed.
   */
  notifier: z
    .strictObject({
      webhookUrl: fetchableUrl,
      /** Milliseconds before the webhook is given up on (the request then fails with 503). */
      timeout: z.number().int().min(100).max(30000).default(5000),
    })
    .optional(),
  /** Milliseconds before a ping to a client's notification endpoint is given up on. */
  pingTimeout: z.number().int().min(100).max(30000).default(5000),
  /** Attempts per ping (doubling pauses from 1 s; network errors, timeouts, 408, 429, 5xx retried). */
  pingAttempts: z.number().int().min(1).max(5).default(3),
  /**
   * Send pings to loopback, private, link-local and unique-local addresses (tests only): by default
   * a client's notification endpoint is fetched through the same guard as a jwks_uri.
   */
  allowPrivateAddresses: z.boolean().default(false),
});

export const dpopSchema = section({
  /**
   * Every token request must carry a DPoP proof (as `requireDpop` on every client), except a client whose
   * tokens are bound to its TLS certificate instead (RFC 8705): sender-constrained tokens for all.
   */
  required: z.boolean().default(false),
  /** Algorithms accepted for DPoP proofs (RFC 9449 §4.3 point 5): asymmetric only, never `none` or HS*. */
  algorithms: z.array(z.enum(jwsAlgorithms)).min(1).default(['ES256', 'PS256', 'EdDSA', 'RS256']),
  /** Seconds after its `iat` a proof is still accepted (RFC 9449 §4.3 point 11, §11.1). */
  proofMaxAge: seconds(5, 300).default(60),
  /** Seconds a proof's `iat` may lie in the future (clock skew between client and server). */
  clockSkew: seconds(0, 60).default(5),
  nonce: section({
    /** Require a server-provided nonce (RFC 9449 §8, §9) in every proof at the token endpoint, /par and userinfo. */
    required: z.boolean().default(false),
    /** Seconds each nonce is handed out for; the previous one stays accepted for as long again. */
    lifetime: seconds(10, 3600).default(300),
    /** HMAC secret for nonces (at least 32 characters); every node must share it. Random per process when unset. */
    secret: z.string().min(32).optional(),
  }),
});

export const parSchema = section({
  /** RFC 9126 §5: every client must push its authorization requests (metadata `require_pushed_authorization_requests`). */
  required: z.boolean().default(false),
  /** Seconds a `request_uri` stays valid (RFC 9126 §2.2 `expires_in`; at most 60). */
  ttl: seconds(5, 60).default(60),
});

/**
 * Bounds on request parameters at /authorize, /par, /device_authorization and /end_session, which are
 * stored (pending sign-ins, pushed requests, device codes) or sent back (`state`). A longer parameter is
 * `invalid_request` naming it. Client credentials (`client_secret`, `client_assertion`) are not counted:
 * they are checked, never stored.
 */
export const requestParametersSchema = section({
  /** Longest value of any parameter not named in `maxLengths`, in characters. */
  maxLength: z.number().int().min(256).max(65536).default(2048),
  /**
   * Longest value of the parameters named here, over `maxLength`. The default gives ID tokens sent back
   * as `id_token_hint` room for many claims; a map set here replaces it.
   */
  maxLengths: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a parameter name'),
      z.number().int().min(1).max(65536),
    )
    .default({ id_token_hint: 4096 }),
  /** Longest total of every parameter's name and value in one request, in characters. */
  maxTotalLength: z.number().int().min(1024).max(1048576).default(8192),
});

export const logoutSchema = section({
  /** Seconds to wait for a back-channel logout receiver before giving up on one attempt. */
  backchannelTimeout: seconds(1, 30).default(5),
  /** Attempts per receiver (with doubling pauses between them) before the failure is logged. */
  backchannelAttempts: z.number().int().min(1).max(10).default(3),
});
