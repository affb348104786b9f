/**
 * The sections of the configuration file and their typed defaults, before the built-in admin API resource
 * is added and the cross-field checks run (schema.ts).
 */
import * as z from 'zod';
import { accountsSchema } from './accounts.ts';
import { clientSchema } from './clients.ts';
import { seconds, section } from './fields.ts';
import {
  cibaSchema,
  clientAuthSchema,
  deviceSchema,
  dpopSchema,
  logoutSchema,
  parSchema,
  requestParametersSchema,
  tokensSchema,
} from './protocol.ts';
import { rateLimitsSchema } from './rate-limits.ts';
import { clientIdMetadataDocumentsSchema, registrationSchema } from './registration.ts';
import { apiResourceSchema, apiScopeSchema, identityResourceSchema } from './resources.ts';
import { accountSchema, loginSchema, mfaSchema, userSchema, webauthnSchema } from './sign-in.ts';
import { redisSchema, storageSchema } from './storage.ts';
import { uiSchema } from './ui.ts';
import { upstreamSchema } from './upstreams.ts';

export const signingAlgorithms = ['ES256', 'RS256', 'PS256', 'EdDSA'] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

/** How log lines are written: JSON lines, readable lines (pino-pretty), or `auto` (readable at a terminal). */
export const logFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

/** The security profiles a server or a client can run (their rules: protocol/profile.ts). */
export const profiles = ['oauth2.1', 'fapi2'] as const;

export const configDocumentSchema = z.strictObject({
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
  server: section({
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
  }),
  mtls: section({
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
  }),
  clientAuth: clientAuthSchema,
  /** Upstream OpenID Connect providers users may sign in with (config/upstreams.ts); none by default. */
  upstreams: z.array(upstreamSchema).default([]),
  storage: storageSchema,
  /** Where accounts come from: Gatehouse's own users table, or an existing PostgreSQL one (accounts.ts). */
  accounts: accountsSchema,
  redis: redisSchema,
  keys: section({
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
  }),
  tokens: tokensSchema,
  login: loginSchema,
  mfa: mfaSchema,
  webauthn: webauthnSchema,
  device: deviceSchema,
  ciba: cibaSchema,
  dpop: dpopSchema,
  par: parSchema,
  rateLimits: rateLimitsSchema,
  requestParameters: requestParametersSchema,
  logout: logoutSchema,
  metrics: section({
    enabled: z.boolean().default(true),
    /** When set, /metrics requires `Authorization: Bearer <token>` (at least 32 characters). */
    bearerToken: z.string().min(32).optional(),
  }),
  /**
   * The management listener: /metrics, /healthz and /readyz on a host and port of their own, loopback by
   * default; the issuer's port serves /healthz and /readyz but never /metrics. Port 0: chosen by the system.
   */
  management: section({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9464),
  }),
  logging: section({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `json` lines, `pretty` (readable, for a terminal), or `auto`: pretty when stdout is a terminal. */
    format: z.enum(logFormats).default('auto'),
  }),
  registration: registrationSchema,
  clientIdMetadataDocuments: clientIdMetadataDocumentsSchema,
  ui: uiSchema,
  /**
   * The admin API at `/admin/v1` (endpoints/admin/): off by default. When on, the built-in API resource
   * `gatehouse-admin` with the scopes `admin.read` and `admin.write` is registered, so an operator's
   * client_credentials client can be given those scopes and get a token for it.
   */
  admin: section({ enabled: z.boolean().default(false) }),
  account: accountSchema,
  apiScopes: z.array(apiScopeSchema).default([]),
  apiResources: z.array(apiResourceSchema).default([]),
  identityResources: z.array(identityResourceSchema).default([]),
  clients: z.array(clientSchema).default([]),
  users: z.array(userSchema).default([]),
});

export type ConfigDocument = z.output<typeof configDocumentSchema>;
