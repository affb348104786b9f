/**
 * Clients that come from outside the file: RFC 7591/7592 dynamic registration (`registration`) and OAuth
 * Client ID Metadata Documents (`clientIdMetadataDocuments`).
 */
import * as z from 'zod';
import { maxAccessTokenTtl } from '../model.ts';
import { scopeToken, seconds, section } from './fields.ts';

/**
 * RFC 7591 dynamic client registration at /register and RFC 7592 management of the registered clients
 * (protocol/registration.ts). Off by default.
 */
export const registrationSchema = section({
  enabled: z.boolean().default(false),
  /**
   * `initial-access-token`: a registration must carry one of `initialAccessTokens` as a Bearer token
   * (RFC 7591 §3); `open`: anyone may register, within the policy and `rateLimits.registerPerIp`.
   */
  mode: z.enum(['open', 'initial-access-token']).default('initial-access-token'),
  /** The initial access tokens (at least 32 characters each; kept only as SHA-256 hashes once loaded). */
  initialAccessTokens: z.array(z.string().min(32)).max(20).default([]),
  /** What a registered client may be; a request asking for more is refused (RFC 7591 §3.2.2). */
  policy: section({
    grantTypes: z
      .array(z.enum(['authorization_code', 'refresh_token', 'client_credentials']))
      .min(1)
      .default(['authorization_code', 'refresh_token']),
    tokenEndpointAuthMethods: z
      .array(z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']))
      .min(1)
      .default(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    /**
     * Scopes a registered client may hold; one that names none gets all of these. Unset: the
     * identityResources' scopes (API scopes only when listed here).
     */
    scopes: z.array(scopeToken).optional(),
    /**
     * RFC 8252 §7.1, §7.3: `application_type: native` clients may register private-use URI schemes
     * (reverse domain names) and loopback IP literal redirect URIs; web clients only https.
     */
    nativeRedirectUris: z.boolean().default(true),
    /** Access-token lifetime of registered clients (default `tokens.accessTokenTtl`). */
    accessTokenTtl: seconds(300, maxAccessTokenTtl).optional(),
    /** Refresh-token lifetimes of registered clients (default the `tokens` ones). */
    refreshTokenLifetime: z
      .strictObject({
        absolute: seconds(3600, 365 * 86400).optional(),
        idle: seconds(300, 365 * 86400).optional(),
      })
      .optional(),
  }),
});

/**
 * OAuth Client ID Metadata Documents (IETF draft): a `client_id` that is an https URL names a JSON
 * document describing the client, fetched when the client is used (protocol/client-metadata-document.ts).
 * Such clients follow `registration.policy`, and are public or private_key_jwt. Off by default.
 */
export const clientIdMetadataDocumentsSchema = section({
  enabled: z.boolean().default(false),
  /** Fetch from loopback and private addresses, and accept http on loopback hosts (tests only). */
  allowPrivateAddresses: z.boolean().default(false),
  /** Milliseconds before a fetch is abandoned. */
  timeout: z.number().int().min(100).max(30000).default(5000),
  /** Largest document accepted, in bytes. */
  maxBytes: z.number().int().min(1024).max(65536).default(5120),
  /** Seconds a document is reused when its answer says nothing about caching. */
  cacheTtl: seconds(0, 86400).default(300),
  /** The bounds put on the lifetime the answer's Cache-Control or Expires gives. */
  minCacheTtl: seconds(0, 3600).default(60),
  maxCacheTtl: seconds(60, 7 * 86400).default(86400),
  /** Documents kept at most (the oldest is dropped first). */
  maxCachedDocuments: z.number().int().min(1).max(100000).default(1000),
});
