/**
 * Configuration schema: one file (JSON or YAML), validated at start-up with typed defaults.
 * A bad value stops the server with a message naming the field (see load.ts).
 */
import { jwsAlgorithms } from '@gatehouse/jose-rules';
import * as z from 'zod';
import { type ClientAuthMethod, maxAccessTokenTtl, reservedAccessTokenClaims } from '../model.ts';
import { shippedLocales } from '../views/locales/index.ts';
import { accountsSchema } from './accounts.ts';
import { clientSchema, fapi2Algorithms, fapi2AuthMethods, tlsAuthMethods } from './clients.ts';
import { absoluteUri, fetchableUrl, postgresPool, postgresUrl, scopeToken, seconds } from './fields.ts';
import { upstreamSchema } from './upstreams.ts';

export const signingAlgorithms = ['ES256', 'RS256', 'PS256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

/** How log lines are written: JSON lines, readable lines (pino-pretty), or `auto` (readable at a terminal). */
export const logFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

/** The security profiles a server or a client can run (their rules: protocol/profile.ts). */
export const profiles = ['oauth2.1', 'fapi2'] as const;

/** The image types a logo may have, by file extension: the content type /ui/logo is served with. */
export const logoContentTypes: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};

/** A CSS hex colour: nothing else can reach the inline stylesheet, so a value cannot break out of it. */
const cssColor = z
  .string()
  .regex(
    /^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/,
    'must be a CSS hex colour (#rgb or #rrggbb)',
  );

/**
 * The look and languages of the pages (views/): product name, colours, a logo (served at /ui/logo) and an
 * extra stylesheet (served at /ui/theme.css, allowed by its URL in the CSP). Files are relative to the
 * config file and read once at start-up.
 */
const uiSchema = z
  .strictObject({
    productName: z.string().trim().min(1).max(100).default('Gatehouse'),
    logo: z
      .string()
      .min(1)
      .refine(
        (file) => Object.keys(logoContentTypes).some((extension) => file.toLowerCase().endsWith(extension)),
        `must be an image file ending in ${Object.keys(logoContentTypes).join(', ')}`,
      )
      .optional(),
    stylesheet: z
      .string()
      .min(1)
      .refine((file) => file.toLowerCase().endsWith('.css'), 'must be a .css file')
      .optional(),
    colors: z
      .strictObject({
        primary: cssColor.default('#2457d6'),
        background: cssColor.default('#f4f5f7'),
        text: cssColor.default('#1d2330'),
      })
      .prefault({}),
    /** The language when neither `ui_locales` nor `Accept-Language` names one offered. */
    defaultLocale: z.enum(shippedLocales).default('en'),
    /** The languages offered (discovery's `ui_locales_supported`). */
    locales: z
      .array(z.enum(shippedLocales))
      .min(1)
      .default([...shippedLocales])
      .transform((locales) => [...new Set(locales)]),
  })
  .prefault({});

const apiScopeSchema = z.strictObject({
  name: scopeToken,
  description: z.string().min(1),
});

const apiResourceSchema = z.strictObject({
  /** The audience (`aud`) of access tokens for this API. */
  id: z.string().min(1),
  /** RFC 8707 resource indicators that select this API. */
  uris: z.array(absoluteUri).default([]),
  scopes: z.array(scopeToken).min(1),
  /** Secret the API uses to call introspection; at least 32 characters. */
  secret: z.string().min(32).optional(),
  accessTokenTtl: seconds(300, maxAccessTokenTtl).optional(),
  /** `jwt` (RFC 9068, verified locally) or `opaque` (a handle the API must introspect; revocable at once). */
  accessTokenFormat: z.enum(['jwt', 'opaque']).default('jwt'),
  /** Claims this API's access tokens carry beyond RFC 9068's (tokens/access-token-claims.ts). */
  claims: z
    .strictObject({
      /** Claims copied from the account (as userinfo would release them), e.g. `email`, `name`. */
      user: z.array(z.string().min(1)).default([]),
      /** `roles` always (true), never (false), or when the `roles` scope was granted (unset). */
      roles: z.boolean().optional(),
    })
    .prefault({}),
  /** The scopes as `scope` (a string, RFC 9068 §2.2.3), `scp` (an array, as Microsoft's), or `both`. */
  scopeClaim: z.enum(['scope', 'scp', 'both']).default('scope'),
});

const identityResourceSchema = z.strictObject({
  name: scopeToken,
  description: z.string().min(1),
  claims: z.array(z.string().min(1)).default([]),
});

const sqliteStorageSchema = z.strictObject({
  type: z.literal('sqlite'),
  /** Path of the SQLite file, relative to the config file; `:memory:` for a throwaway store. */
  path: z.string().min(1).default('data/gatehouse.db'),
});

const postgresStorageSchema = z.strictObject({
  type: z.literal('postgres'),
  /** Connection URL (`postgres://user:password@host:port/database`); `DATABASE_URL` sets it too (load.ts). */
  url: postgresUrl,
  /** Schema holding Gatehouse's tables, created when missing. */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case identifier (a-z 0-9 _)')
    .default('public'),
  pool: postgresPool,
});

/** SQLite (the default, one file) or PostgreSQL (several nodes); `type` may be left out for SQLite. */
const storageSchema = z
  .preprocess(
    (value) =>
      value !== null && typeof value === 'object' && !('type' in value)
        ? { ...value, type: 'sqlite' }
        : value,
    z.discriminatedUnion('type', [sqliteStorageSchema, postgresStorageSchema]),
  )
  .prefault({});

const userSchema = z.strictObject({
  username: z.string().min(1),
  /** Plain password for demo users declared in the file; hashed with argon2id when seeded. */
  password: z.string().min(8),
  claims: z.record(z.string(), z.unknown()).default({}),
  roles: z.array(z.string().min(1)).default([]),
});

/** A fixed-window limit: at most `limit` requests per `window` seconds for one key (an IP, a client, a user). */
const rateLimitSchema = z.strictObject({
  limit: z.number().int().min(1),
  window: seconds(1, 86400),
});
const limit = (count: number, window: number) => rateLimitSchema.default({ limit: count, window });

export const configSchema = z
  .strictObject({
    /** `fapi2` applies the FAPI 2.0 Security Profile to every client (protocol/profile.ts). */
    profile: z.enum(profiles).default('oauth2.1'),
    issuer: z
      .string()
      .url()
      .refine((value) => {
        const url = new URL(value);
        return url.search === '' && url.hash === '' && !value.endsWith('/');
      }, 'must be an https (or loopback http) URL without query, fragment or trailing slash')
      .refine((value) => {
        const url = new URL(value);
        return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
      }, 'must use https unless the host is loopback'),
    server: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(3000),
        /** true, or the addresses / CIDR ranges of the reverse proxies whose X-Forwarded-* headers count. */
        trustProxy: z.union([z.boolean(), z.array(z.string().min(1)).min(1)]).default(false),
        bodyLimit: z.number().int().min(1024).max(1048576).default(65536),
        /**
         * Serve HTTPS directly (PEM files, relative to the config file). Client certificates are requested
         * but not required, so clients without one still connect; mutual-TLS client authentication
         * (RFC 8705) reads them. Without this, put a TLS-terminating proxy in front (see `mtls`).
         */
        tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
      })
      .prefault({}),
    mtls: z
      .strictObject({
        /** PEM file of the CA certificates trusted for `tls_client_auth` (relative to the config file). */
        ca: z.string().min(1).optional(),
        /**
         * A header in which a TLS-terminating proxy passes the client certificate (URL-encoded PEM, as
         * nginx `$ssl_client_escaped_cert`). Off by default; read only from `server.trustProxy` addresses.
         */
        trustedProxyHeader: z
          .string()
          .regex(/^[A-Za-z0-9-]+$/, 'must be a header name')
          .transform((name) => name.toLowerCase())
          .optional(),
      })
      .prefault({}),
    clientAuth: z
      .strictObject({
        /**
         * Longest accepted lifetime of a client assertion (RFC 7523 §3): `exp` at most this far ahead. An
         * hour, as common client libraries sign them (Authlib); FAPI 2.0 clients get at most 300 s
         * (protocol/profile.ts). The jti replay cache keeps each jti until its assertion expires.
         */
        assertionMaxLifetime: seconds(10, 3600).default(3600),
        /** Algorithms accepted for client assertions (published in discovery): asymmetric only. */
        signingAlgorithms: z
          .array(z.enum(jwsAlgorithms))
          .min(1)
          .default(['ES256', 'RS256', 'PS256', 'EdDSA']),
        /** Accept the token endpoint URL as an assertion `aud` besides the issuer (older clients send it). */
        acceptTokenEndpointAudience: z.boolean().default(true),
        jwksUri: z
          .strictObject({
            /** Fetch client JWKS from loopback, private, link-local and unique-local addresses (tests only). */
            allowPrivateAddresses: z.boolean().default(false),
            /** Milliseconds before a JWKS fetch is abandoned. */
            timeout: z.number().int().min(100).max(30000).default(5000),
            /** Largest JWKS document accepted, in bytes. */
            maxBytes: z.number().int().min(1024).max(1048576).default(65536),
            /** Seconds a fetched JWKS is reused before it is fetched again. */
            cacheTtl: seconds(0, 86400).default(300),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Upstream OpenID Connect providers users may sign in with (config/upstreams.ts); none by default. */
    upstreams: z.array(upstreamSchema).default([]),
    storage: storageSchema,
    /** Where accounts come from: Gatehouse's own users table, or an existing PostgreSQL one (accounts.ts). */
    accounts: accountsSchema,
    /**
     * Redis shared by every node for rate-limit counters and the jti replay cache (DPoP proofs, client
     * assertions). Without it both live in memory: right for one node, wrong for several (a replay sent to
     * another node would pass, and each node would allow the whole limit).
     */
    redis: z
      .strictObject({
        url: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL'),
        /** Prefix of every key Gatehouse writes, so one Redis can serve several deployments. */
        keyPrefix: z
          .string()
          .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 : _ . -')
          .default('gatehouse:'),
      })
      .optional(),
    keys: z
      .strictObject({
        algorithm: z.enum(signingAlgorithms).default('ES256'),
        /** Seconds a new key is published in the JWKS before it signs. */
        publishBeforeUse: seconds(0, 7 * 86400).default(600),
        /** Seconds between reloads of the key set from storage (picks up rotations by other processes). */
        reloadInterval: seconds(1, 3600).default(30),
        /**
         * Rotate automatically when the newest key is this old (one node does it; see keys/keystore.ts).
         * Unset: keys rotate only with `gatehouse keys rotate`.
         */
        rotateEvery: seconds(3600, 366 * 86400).optional(),
        /**
         * Master secrets that encrypt the stored private keys (AES-256-GCM, keys/key-encryption.ts), newest
         * first; at least 32 characters each, e.g. `['${GATEHOUSE_KEYS_SECRET}']`. Unset: stored in plain.
         */
        encryptionSecrets: z.array(z.string().min(32)).min(1).max(5).optional(),
      })
      .prefault({}),
    tokens: z
      .strictObject({
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
      })
      .prefault({}),
    login: z
      .strictObject({
        sessionTtl: seconds(300, 30 * 86400).default(8 * 3600),
        interactionTtl: seconds(60, 3600).default(900),
        /**
         * Seconds a browser that signed in to an account stays known to it after its last sign-in; failed
         * logins from elsewhere never lock a known browser out (OWASP device cookies, sessions/login.ts).
         */
        knownBrowserTtl: seconds(86400, 400 * 86400).default(90 * 86400),
        argon2: z
          .strictObject({
            memoryCost: z.number().int().min(19456).default(19456),
            timeCost: z.number().int().min(2).default(2),
            parallelism: z.number().int().min(1).max(8).default(1),
          })
          .prefault({}),
      })
      .prefault({}),
    /**
     * Multi-factor authentication (sessions/mfa.ts): when a second factor is required, and the `acr` values
     * that name the two levels (discovery's `acr_values_supported`, `acr` in ID and access tokens).
     */
    mfa: z
      .strictObject({
        acrValues: z
          .strictObject({
            pwd: z.string().min(1).max(256).default('urn:gatehouse:acr:pwd'),
            mfa: z.string().min(1).max(256).default('urn:gatehouse:acr:mfa'),
          })
          .prefault({})
          .refine((values) => values.pwd !== values.mfa, 'pwd and mfa must differ'),
        /** Every sign-in needs a second factor. */
        requireForAll: z.boolean().default(false),
        /** Sign-ins of accounts with any of these roles need a second factor. */
        requireForRoles: z.array(z.string().min(1)).default([]),
        /** The issuer label of `otpauth://` URIs shown by authenticator apps; default `ui.productName`. */
        totpIssuer: z.string().min(1).max(100).optional(),
      })
      .prefault({}),
    /**
     * Passkeys and security keys (WebAuthn Level 3, sessions/webauthn.ts): off by default. The relying
     * party id is the issuer's host unless `rpId` names a registrable suffix of it; the origin is the issuer's.
     */
    webauthn: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** The RP ID (WebAuthn §5.1.2.3): the issuer's host or a parent domain of it; default the host. */
        rpId: z
          .string()
          .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'must be a domain name')
          .optional(),
        /** The name authenticators show beside the account; default `ui.productName`. */
        rpName: z.string().trim().min(1).max(100).optional(),
        /** A "Sign in with a passkey" button on the login page: discoverable credentials, no username typed. */
        passkeyFirst: z.boolean().default(true),
        /** Milliseconds the browser gives a ceremony; its challenge is kept as long, plus a minute. */
        timeout: z.number().int().min(30_000).max(600_000).default(300_000),
      })
      .prefault({}),
    device: z
      .strictObject({
        /** Seconds a device code and its user code stay valid (RFC 8628 §3.2 expires_in). */
        codeTtl: seconds(60, 1800).default(600),
        /** Minimum seconds between polls (RFC 8628 §3.2 interval). */
        interval: seconds(1, 60).default(5),
        /** Wrong user codes one browser session may enter before code entry is locked for it. */
        maxUserCodeFailures: z.number().int().min(1).max(20).default(5),
      })
      .prefault({}),
    /** OpenID Connect CIBA Core 1.0 (protocol/backchannel-authentication.ts). */
    ciba: z
      .strictObject({
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
      })
      .prefault({}),
    dpop: z
      .strictObject({
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
        nonce: z
          .strictObject({
            /** Require a server-provided nonce (RFC 9449 §8, §9) in every proof at the token endpoint, /par and userinfo. */
            required: z.boolean().default(false),
            /** Seconds each nonce is handed out for; the previous one stays accepted for as long again. */
            lifetime: seconds(10, 3600).default(300),
            /** HMAC secret for nonces (at least 32 characters); every node must share it. Random per process when unset. */
            secret: z.string().min(32).optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    par: z
      .strictObject({
        /** RFC 9126 §5: every client must push its authorization requests (metadata `require_pushed_authorization_requests`). */
        required: z.boolean().default(false),
        /** Seconds a `request_uri` stays valid (RFC 9126 §2.2 `expires_in`; at most 60). */
        ttl: seconds(5, 60).default(60),
      })
      .prefault({}),
    rateLimits: z
      .strictObject({
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
      })
      .prefault({}),
    /**
     * Bounds on request parameters at /authorize, /par, /device_authorization and /end_session, which are
     * stored (pending sign-ins, pushed requests, device codes) or sent back (`state`). A longer parameter is
     * `invalid_request` naming it. Client credentials (`client_secret`, `client_assertion`) are not counted:
     * they are checked, never stored.
     */
    requestParameters: z
      .strictObject({
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
      })
      .prefault({}),
    logout: z
      .strictObject({
        /** Seconds to wait for a back-channel logout receiver before giving up on one attempt. */
        backchannelTimeout: seconds(1, 30).default(5),
        /** Attempts per receiver (with doubling pauses between them) before the failure is logged. */
        backchannelAttempts: z.number().int().min(1).max(10).default(3),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** When set, /metrics requires `Authorization: Bearer <token>` (at least 32 characters). */
        bearerToken: z.string().min(32).optional(),
      })
      .prefault({}),
    /**
     * The management listener: /metrics, /healthz and /readyz on a host and port of their own, loopback by
     * default; the issuer's port serves /healthz and /readyz but never /metrics. Port 0: chosen by the system.
     */
    management: z
      .strictObject({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .prefault({}),
    logging: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** `json` lines, `pretty` (readable, for a terminal), or `auto`: pretty when stdout is a terminal. */
        format: z.enum(logFormats).default('auto'),
      })
      .prefault({}),
    /**
     * RFC 7591 dynamic client registration at /register and RFC 7592 management of the registered clients
     * (protocol/registration.ts). Off by default.
     */
    registration: z
      .strictObject({
        enabled: z.boolean().default(false),
        /**
         * `initial-access-token`: a registration must carry one of `initialAccessTokens` as a Bearer token
         * (RFC 7591 §3); `open`: anyone may register, within the policy and `rateLimits.registerPerIp`.
         */
        mode: z.enum(['open', 'initial-access-token']).default('initial-access-token'),
        /** The initial access tokens (at least 32 characters each; kept only as SHA-256 hashes once loaded). */
        initialAccessTokens: z.array(z.string().min(32)).max(20).default([]),
        /** What a registered client may be; a request asking for more is refused (RFC 7591 §3.2.2). */
        policy: z
          .strictObject({
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
          })
          .prefault({}),
      })
      .prefault({}),
    /**
     * OAuth Client ID Metadata Documents (IETF draft): a `client_id` that is an https URL names a JSON
     * document describing the client, fetched when the client is used (protocol/client-metadata-document.ts).
     * Such clients follow `registration.policy`, and are public or private_key_jwt. Off by default.
     */
    clientIdMetadataDocuments: z
      .strictObject({
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
      })
      .prefault({}),
    ui: uiSchema,
    /**
     * The admin API at `/admin/v1` (endpoints/admin/): off by default. When on, the built-in API resource
     * `gatehouse-admin` with the scopes `admin.read` and `admin.write` is registered, so an operator's
     * client_credentials client can be given those scopes and get a token for it.
     */
    admin: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
    /**
     * The account page at `/account` (endpoints/account.ts): on by default, as signed-in users expect to
     * see and revoke what they granted. `reauthMaxAge`: seconds since the last sign-in within which a
     * password change, a factor change or ending other sessions is allowed without signing in again.
     */
    account: z
      .strictObject({
        enabled: z.boolean().default(true),
        reauthMaxAge: seconds(30, 86400).default(300),
      })
      .prefault({}),
    apiScopes: z.array(apiScopeSchema).default([]),
    apiResources: z.array(apiResourceSchema).default([]),
    identityResources: z.array(identityResourceSchema).default([]),
    clients: z.array(clientSchema).default([]),
    users: z.array(userSchema).default([]),
  })
  .transform(withAdminApi)
  .superRefine((config, ctx) => {
    const apiScopeNames = new Set(config.apiScopes.map((scope) => scope.name));
    const identityNames = new Set(config.identityResources.map((resource) => resource.name));
    const owner = new Map<string, string>();
    config.apiResources.forEach((resource, index) => {
      resource.claims.user.forEach((claim, claimIndex) => {
        if (reservedAccessTokenClaims.has(claim))
          ctx.addIssue({
            code: 'custom',
            path: ['apiResources', index, 'claims', 'user', claimIndex],
            message: `"${claim}" is a reserved access-token claim and cannot be configured${claim === 'roles' ? ' (use claims.roles: true)' : ''}`,
          });
      });
      resource.scopes.forEach((scope, scopeIndex) => {
        if (!apiScopeNames.has(scope)) {
          ctx.addIssue({
            code: 'custom',
            path: ['apiResources', index, 'scopes', scopeIndex],
            message: `unknown API scope "${scope}"`,
          });
        }
        const previous = owner.get(scope);
        if (previous !== undefined && previous !== resource.id) {
          ctx.addIssue({
            code: 'custom',
            path: ['apiResources', index, 'scopes', scopeIndex],
            message: `scope "${scope}" already belongs to "${previous}"`,
          });
        }
        owner.set(scope, resource.id);
      });
    });
    if (config.webauthn.enabled) {
      const host = new URL(config.issuer).hostname;
      const rpId = config.webauthn.rpId ?? host;
      if (/^[0-9.]+$|^\[/.test(host) && config.webauthn.rpId === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['webauthn', 'rpId'],
          message: 'WebAuthn needs a domain name: the issuer host is an IP address',
        });
      else if (rpId !== host && !host.endsWith(`.${rpId}`))
        ctx.addIssue({
          code: 'custom',
          path: ['webauthn', 'rpId'],
          message: `must be the issuer host "${host}" or a parent domain of it`,
        });
    }
    config.clients.forEach((client, index) => {
      client.scopes.forEach((scope, scopeIndex) => {
        if (!apiScopeNames.has(scope) && !identityNames.has(scope)) {
          ctx.addIssue({
            code: 'custom',
            path: ['clients', index, 'scopes', scopeIndex],
            message: `unknown scope "${scope}"`,
          });
        }
      });
    });
    config.clients.forEach((client, index) => {
      if (config.profile !== 'fapi2' && client.profile !== 'fapi2') return;
      const issue = (path: string, message: string) =>
        ctx.addIssue({ code: 'custom', path: ['clients', index, path], message });
      if (!fapi2AuthMethods.includes(client.tokenEndpointAuthMethod))
        issue('tokenEndpointAuthMethod', 'the FAPI 2.0 profile needs private_key_jwt or mutual TLS');
      const alg = client.tokenEndpointAuthSigningAlg;
      if (alg !== undefined && !fapi2Algorithms.includes(alg))
        issue('tokenEndpointAuthSigningAlg', 'the FAPI 2.0 profile allows ES256 or PS256 only');
      if (!fapi2Algorithms.includes(config.keys.algorithm))
        ctx.addIssue({
          code: 'custom',
          path: ['keys', 'algorithm'],
          message: `client "${client.clientId}" uses the FAPI 2.0 profile, which needs ES256 or PS256 keys`,
        });
    });
    const resourceIds = new Set(config.apiResources.map((resource) => resource.id));
    config.clients.forEach((client, index) => {
      client.tokenExchange?.audiences.forEach((audience, audienceIndex) => {
        if (!resourceIds.has(audience)) {
          ctx.addIssue({
            code: 'custom',
            path: ['clients', index, 'tokenExchange', 'audiences', audienceIndex],
            message: `unknown API resource "${audience}"`,
          });
        }
      });
      for (const message of certificateSettingsProblems(config, client))
        ctx.addIssue({ code: 'custom', path: ['clients', index, 'tokenEndpointAuthMethod'], message });
    });
    if (config.mtls.trustedProxyHeader !== undefined && config.server.trustProxy === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['mtls', 'trustedProxyHeader'],
        message: 'a proxy certificate header needs server.trustProxy (the proxies it is read from)',
      });
    }
    if (
      config.management.enabled &&
      config.management.port !== 0 &&
      config.management.port === config.server.port
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['management', 'port'],
        message: 'must differ from server.port (the management listener is a listener of its own)',
      });
    }
    if (config.accounts.type !== 'builtin' && config.users.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['users'],
        message: `users of the file go to Gatehouse's own table, which accounts.type ${config.accounts.type} does not use`,
      });
    }
    if (!config.ui.locales.includes(config.ui.defaultLocale)) {
      ctx.addIssue({
        code: 'custom',
        path: ['ui', 'defaultLocale'],
        message: `must be one of ui.locales (${config.ui.locales.join(', ')})`,
      });
    }
    config.registration.policy.scopes?.forEach((scope, index) => {
      if (!config.registration.enabled) return;
      if (!apiScopeNames.has(scope) && !identityNames.has(scope))
        ctx.addIssue({
          code: 'custom',
          path: ['registration', 'policy', 'scopes', index],
          message: `unknown scope "${scope}"`,
        });
    });
    if (
      config.registration.enabled &&
      config.registration.mode === 'initial-access-token' &&
      config.registration.initialAccessTokens.length === 0
    )
      ctx.addIssue({
        code: 'custom',
        path: ['registration', 'initialAccessTokens'],
        message: 'registration mode initial-access-token needs at least one initial access token',
      });
    const upstreamIds = new Set<string>();
    config.upstreams.forEach((upstream, index) => {
      if (upstreamIds.has(upstream.id))
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', index, 'id'],
          message: `duplicate upstream "${upstream.id}"`,
        });
      upstreamIds.add(upstream.id);
      // Discovery documents are cached per issuer (@gatehouse/client): one issuer, one address policy.
      const sameIssuer = config.upstreams.find((other) => other.issuer === upstream.issuer);
      if (sameIssuer !== undefined && sameIssuer.allowPrivateAddresses !== upstream.allowPrivateAddresses)
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', index, 'allowPrivateAddresses'],
          message: `must be the same for every upstream of issuer ${upstream.issuer}`,
        });
      if (upstream.provisioning === 'jit' && config.accounts.type !== 'builtin')
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', index, 'provisioning'],
          message: `jit provisioning creates accounts in Gatehouse's own table, which accounts.type ${config.accounts.type} does not use`,
        });
    });
    config.clients.forEach((client, index) => {
      client.upstreams.forEach((id, upstreamIndex) => {
        if (!upstreamIds.has(id))
          ctx.addIssue({
            code: 'custom',
            path: ['clients', index, 'upstreams', upstreamIndex],
            message: `unknown upstream "${id}"`,
          });
      });
    });
    const seen = new Set<string>();
    config.clients.forEach((client, index) => {
      if (seen.has(client.clientId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', index, 'clientId'],
          message: `duplicate client "${client.clientId}"`,
        });
      }
      seen.add(client.clientId);
    });
  });

export type GatehouseConfig = z.infer<typeof configSchema>;

/**
 * What a client's certificates need of the server's settings (RFC 8705 §2): the server must see client
 * certificates (server.tls, or a trusted proxy's header), and tls_client_auth needs the CAs that issue
 * them. Checked for the file's clients at start-up and for the admin API's writes (admin/clients.ts).
 */
export function certificateSettingsProblems(
  config: { server: { tls?: unknown }; mtls: { trustedProxyHeader?: unknown; ca?: unknown } },
  client: {
    tokenEndpointAuthMethod: ClientAuthMethod;
    tlsClientCertificateBoundAccessTokens?: boolean | undefined;
  },
): string[] {
  const problems: string[] = [];
  const needsCertificate =
    tlsAuthMethods.includes(client.tokenEndpointAuthMethod) ||
    client.tlsClientCertificateBoundAccessTokens === true;
  if (needsCertificate && config.server.tls === undefined && config.mtls.trustedProxyHeader === undefined)
    problems.push('client certificates need server.tls or mtls.trustedProxyHeader');
  if (client.tokenEndpointAuthMethod === 'tls_client_auth' && config.mtls.ca === undefined)
    problems.push('tls_client_auth needs mtls.ca (the CAs that issue client certificates)');
  return problems;
}

/** The audience (`aud`) of the admin API's access tokens: the built-in API resource's id. */
export const adminAudience = 'gatehouse-admin';
/** The admin API's scopes: reading, and every change. */
export const adminScopes = { read: 'admin.read', write: 'admin.write' } as const;

/**
 * With `admin.enabled`, the built-in admin API resource and its scopes join those of the file (before the
 * cross-field checks, so clients of the file may name the scopes); a file that declares them itself is
 * refused by those checks as a duplicate owner.
 */
function withAdminApi<
  Config extends {
    issuer: string;
    admin: { enabled: boolean };
    apiScopes: { name: string; description: string }[];
    apiResources: z.infer<typeof apiResourceSchema>[];
  },
>(config: Config): Config {
  if (!config.admin.enabled) return config;
  return {
    ...config,
    apiScopes: [
      ...config.apiScopes,
      { name: adminScopes.read, description: 'Read Gatehouse settings (admin API)' },
      { name: adminScopes.write, description: 'Change Gatehouse settings (admin API)' },
    ],
    apiResources: [
      ...config.apiResources,
      {
        id: adminAudience,
        uris: [`${config.issuer}/admin/v1`],
        scopes: [adminScopes.read, adminScopes.write],
        accessTokenFormat: 'jwt',
        claims: { user: [] },
        scopeClaim: 'scope',
      },
    ],
  };
}
export type ClientConfig = GatehouseConfig['clients'][number];
export type ApiResourceConfig = GatehouseConfig['apiResources'][number];
