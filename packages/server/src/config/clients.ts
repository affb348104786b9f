/**
 * Client schema: one OAuth client declared in the configuration file (or added with the CLI), with the
 * rules that tie its authentication method, keys and grant types together.
 */
import { jwsAlgorithms } from '@gatehouse/jose-rules';
import * as z from 'zod';
import { type ClientAuthMethod, clientAuthMethods, maxAccessTokenTtl, maxClientSecrets } from '../model.ts';
import { fetchableUrl, scopeToken, seconds } from './fields.ts';

export const tokenExchangeGrantType = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** OpenID Connect CIBA Core 1.0 §10.1. */
export const cibaGrantType = 'urn:openid:params:grant-type:ciba';

export const grantTypes = [
  'authorization_code',
  'client_credentials',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
  tokenExchangeGrantType,
  cibaGrantType,
] as const;

export const secretAuthMethods: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post'];
export const tlsAuthMethods: readonly ClientAuthMethod[] = ['tls_client_auth', 'self_signed_tls_client_auth'];

/** FAPI 2.0 Security Profile §5.4.1 signing algorithms, narrowed to ES256 and PS256. */
export const fapi2Algorithms: readonly string[] = ['ES256', 'PS256'];

/** FAPI 2.0 Security Profile §5.3.2.1 points 3-4: private_key_jwt or mutual TLS. */
export const fapi2AuthMethods: readonly ClientAuthMethod[] = [
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
];

/** A public JWK (RFC 7517 §4): asymmetric only, without private members. */
const publicJwkSchema = z
  .looseObject({
    kty: z.enum(['EC', 'RSA', 'OKP']),
    kid: z.string().min(1).optional(),
    use: z.literal('sig').optional(),
    alg: z.enum(jwsAlgorithms).optional(),
    x5c: z.array(z.string().min(1)).min(1).optional(),
  })
  .refine(
    (jwk) => !['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((member) => member in jwk),
    'must be a public key (no private members)',
  );

export const jwksSchema = z.strictObject({ keys: z.array(publicJwkSchema).min(1).max(20) });

export const clientSchema = z
  .strictObject({
    clientId: z.string().regex(/^[A-Za-z0-9._~-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 . _ ~ -'),
    name: z.string().min(1),
    /** Plain secret for confidential clients declared in the file (at least 32 characters; hashed at load). */
    secret: z.string().min(32).optional(),
    /**
     * Instead of `secret`: up to two secrets, each with an optional expiry (ISO 8601 date-time with a zone),
     * so a new secret can be given while the old one keeps working until the client has switched.
     */
    secrets: z
      .array(
        z.strictObject({
          value: z.string().min(32),
          expiresAt: z.iso
            .datetime({
              offset: true,
              error: 'must be an ISO 8601 date-time with a zone, e.g. 2026-01-31T12:00:00Z',
            })
            .optional(),
        }),
      )
      .min(1)
      .max(maxClientSecrets, `at most ${maxClientSecrets} secrets (the current one and the one it replaces)`)
      .optional(),
    tokenEndpointAuthMethod: z.enum(clientAuthMethods).default('client_secret_basic'),
    /** `private_key_jwt` and `self_signed_tls_client_auth`: the client's public keys, inline... */
    jwks: jwksSchema.optional(),
    /** ...or where to fetch them (RFC 7591 §2 `jwks_uri`; see `clientAuth.jwksUri` for the fetch rules). */
    jwksUri: fetchableUrl.optional(),
    /** RFC 7591 §2 `token_endpoint_auth_signing_alg`: the one algorithm its assertions may use. */
    tokenEndpointAuthSigningAlg: z.enum(jwsAlgorithms).optional(),
    /** `tls_client_auth` (RFC 8705 §2.1.2): exactly one of the subject DN (RFC 4514) or a SAN entry. */
    tlsClientAuthSubjectDn: z.string().min(1).optional(),
    tlsClientAuthSanDns: z.string().min(1).optional(),
    tlsClientAuthSanUri: z.string().min(1).optional(),
    tlsClientAuthSanIp: z.union([z.ipv4(), z.ipv6()]).optional(),
    tlsClientAuthSanEmail: z.string().min(1).optional(),
    /** RFC 8705 §3.4: access tokens are bound to the client certificate (a certificate is then required). */
    tlsClientCertificateBoundAccessTokens: z.boolean().default(false),
    /** RFC 8693 token exchange: the API resource ids this client may exchange tokens into. */
    tokenExchange: z.strictObject({ audiences: z.array(z.string().min(1)).min(1) }).optional(),
    grantTypes: z.array(z.enum(grantTypes)).min(1),
    redirectUris: z.array(z.string().min(1)).default([]),
    postLogoutRedirectUris: z.array(z.string().min(1)).default([]),
    scopes: z.array(scopeToken).default([]),
    requireConsent: z.boolean().default(true),
    accessTokenTtl: seconds(300, maxAccessTokenTtl).optional(),
    /** CIBA Core §4 `backchannel_token_delivery_mode`: required with the CIBA grant (push is not offered). */
    backchannelTokenDeliveryMode: z.enum(['poll', 'ping']).optional(),
    /** CIBA Core §4 `backchannel_client_notification_endpoint`: where pings go (ping mode only). */
    backchannelClientNotificationEndpoint: fetchableUrl.optional(),
    /** CIBA Core §4 `backchannel_user_code_parameter`: user codes are not supported, so only false. */
    backchannelUserCodeParameter: z
      .literal(false, {
        error: 'user_code is not supported (backchannel_user_code_parameter_supported is false)',
      })
      .optional(),
    /** OpenID Connect Back-Channel Logout 1.0: where logout tokens are POSTed. */
    backchannelLogoutUri: z.string().url().optional(),
    /**
     * Browser origins allowed to call the token, userinfo, revocation and PAR endpoints, discovery and the
     * JWKS (CORS); a public client also gets the origins of its web redirect URIs (http/cors.ts).
     */
    corsOrigins: z
      .array(z.string().regex(/^https?:\/\/[^/?#]+$/, 'must be an origin: scheme://host[:port], no path'))
      .default([]),
    /** RFC 9449 §5.2 (`dpop_bound_access_tokens`): every token request of this client must carry a DPoP proof. */
    requireDpop: z.boolean().default(false),
    /** Ids of the upstream providers (config `upstreams`) the sign-in page offers for this client. */
    upstreams: z.array(z.string().min(1)).default([]),
    /** RFC 9126 §6: this client's authorization requests must be pushed to /par first. */
    requirePushedAuthorizationRequests: z.boolean().default(false),
    /** Every sign-in for this client needs a second factor (`mfa`, sessions/mfa.ts). */
    requireMfa: z.boolean().default(false),
    /** `fapi2`: the FAPI 2.0 Security Profile for this client even when the server runs `oauth2.1` (protocol/profile.ts). */
    profile: z.literal('fapi2').optional(),
    /**
     * Refresh-token lifetimes in seconds for this client (tokens/user-tokens.ts): `absolute` from the
     * authorization (default `tokens.refreshTokenTtl`), `idle` since the last use (default
     * `tokens.refreshTokenIdleTtl`).
     */
    refreshTokenLifetime: z
      .strictObject({
        absolute: seconds(3600, 365 * 86400).optional(),
        idle: seconds(300, 365 * 86400).optional(),
      })
      .optional(),
  })
  .superRefine((client, ctx) => {
    const method = client.tokenEndpointAuthMethod;
    const isPublic = method === 'none';
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const hasSecret = client.secret !== undefined || client.secrets !== undefined;
    if (client.secret !== undefined && client.secrets !== undefined) {
      issue('secrets', 'give either secret or secrets, not both');
    }
    if (isPublic && hasSecret) {
      issue('secret', 'a public client (auth method none) has no secret');
    } else if (!secretAuthMethods.includes(method) && hasSecret) {
      issue('secret', `a client using ${method} has no secret`);
    }
    if (secretAuthMethods.includes(method) && !hasSecret) {
      issue('secret', 'a confidential client needs a secret');
    }
    const lifetime = client.refreshTokenLifetime;
    if (lifetime !== undefined && !client.grantTypes.includes('refresh_token')) {
      issue('refreshTokenLifetime', 'refreshTokenLifetime needs the refresh_token grant type');
    }
    if (
      lifetime?.absolute !== undefined &&
      lifetime.idle !== undefined &&
      lifetime.idle > lifetime.absolute
    ) {
      issue('refreshTokenLifetime', 'refreshTokenLifetime.idle cannot be longer than its absolute lifetime');
    }
    const usesKeys = method === 'private_key_jwt' || method === 'self_signed_tls_client_auth';
    if (usesKeys && (client.jwks === undefined) === (client.jwksUri === undefined)) {
      issue('jwks', `${method} needs exactly one of jwks or jwksUri`);
    }
    if (!usesKeys && (client.jwks !== undefined || client.jwksUri !== undefined)) {
      issue('jwks', 'jwks and jwksUri are only for private_key_jwt and self_signed_tls_client_auth');
    }
    if (method !== 'private_key_jwt' && client.tokenEndpointAuthSigningAlg !== undefined) {
      issue('tokenEndpointAuthSigningAlg', 'tokenEndpointAuthSigningAlg is only for private_key_jwt');
    }
    const tlsIdentities = [
      client.tlsClientAuthSubjectDn,
      client.tlsClientAuthSanDns,
      client.tlsClientAuthSanUri,
      client.tlsClientAuthSanIp,
      client.tlsClientAuthSanEmail,
    ].filter((value) => value !== undefined);
    if (method === 'tls_client_auth' && tlsIdentities.length !== 1) {
      issue(
        'tlsClientAuthSubjectDn',
        'tls_client_auth needs exactly one of tlsClientAuthSubjectDn, tlsClientAuthSanDns, tlsClientAuthSanUri, tlsClientAuthSanIp, tlsClientAuthSanEmail',
      );
    }
    if (method !== 'tls_client_auth' && tlsIdentities.length > 0) {
      issue('tlsClientAuthSubjectDn', 'the tlsClientAuth* fields are only for tls_client_auth');
    }
    // RFC 8705 §4: a public client's refresh tokens would have to be bound to its certificate too, which
    // this server does not do; refuse the combination rather than issue refresh tokens anyone could use.
    if (
      isPublic &&
      client.tlsClientCertificateBoundAccessTokens &&
      client.grantTypes.includes('refresh_token')
    ) {
      issue(
        'tlsClientCertificateBoundAccessTokens',
        'certificate-bound tokens for a public client cannot be combined with refresh_token',
      );
    }
    const ciba = client.grantTypes.includes(cibaGrantType);
    const mode = client.backchannelTokenDeliveryMode;
    if (ciba && mode === undefined) {
      issue(
        'backchannelTokenDeliveryMode',
        `the ${cibaGrantType} grant needs backchannelTokenDeliveryMode (poll or ping)`,
      );
    }
    if (!ciba && mode !== undefined) {
      issue(
        'backchannelTokenDeliveryMode',
        `backchannelTokenDeliveryMode needs the ${cibaGrantType} grant type`,
      );
    }
    if (ciba && isPublic) {
      issue('grantTypes', `the ${cibaGrantType} grant needs a confidential client (CIBA Core §4)`);
    }
    if ((mode === 'ping') !== (client.backchannelClientNotificationEndpoint !== undefined)) {
      issue(
        'backchannelClientNotificationEndpoint',
        'backchannelClientNotificationEndpoint is required in ping mode and only there',
      );
    }
    const exchanges = client.grantTypes.includes(tokenExchangeGrantType);
    if (exchanges && client.tokenExchange === undefined) {
      issue('tokenExchange', 'the token-exchange grant needs tokenExchange.audiences');
    }
    if (!exchanges && client.tokenExchange !== undefined) {
      issue('tokenExchange', `tokenExchange needs the ${tokenExchangeGrantType} grant type`);
    }
    if (isPublic && client.grantTypes.includes('client_credentials')) {
      ctx.addIssue({
        code: 'custom',
        path: ['grantTypes'],
        message: 'client_credentials needs a confidential client',
      });
    }
    if (client.grantTypes.includes('authorization_code') && client.redirectUris.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['redirectUris'],
        message: 'authorization_code needs at least one redirect URI',
      });
    }
  });
