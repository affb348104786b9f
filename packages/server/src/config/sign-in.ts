/**
 * Sign-in settings: sessions and passwords (`login`), second factors (`mfa`), passkeys (`webauthn`), the
 * account page (`account`) and the demo users declared in the file (`users`).
 */
import * as z from 'zod';
import { seconds, section } from './fields.ts';

export const loginSchema = section({
  sessionTtl: seconds(300, 30 * 86400).default(8 * 3600),
  interactionTtl: seconds(60, 3600).default(900),
  /**
   * Seconds a browser that signed in to an account stays known to it after its last sign-in; failed
   * logins from elsewhere never lock a known browser out (OWASP device cookies, sessions/login.ts).
   */
  knownBrowserTtl: seconds(86400, 400 * 86400).default(90 * 86400),
  argon2: section({
    memoryCost: z.number().int().min(19456).default(19456),
    timeCost: z.number().int().min(2).default(2),
    parallelism: z.number().int().min(1).max(8).default(1),
  }),
});

/**
 * Multi-factor authentication (sessions/mfa.ts): when a second factor is required, and the `acr` values
 * that name the two levels (discovery's `acr_values_supported`, `acr` in ID and access tokens).
 */
export const mfaSchema = section({
  acrValues: section({
    pwd: z.string().min(1).max(256).default('urn:gatehouse:acr:pwd'),
    mfa: z.string().min(1).max(256).default('urn:gatehouse:acr:mfa'),
  }).refine((values) => values.pwd !== values.mfa, 'pwd and mfa must differ'),
  /** Every sign-in needs a second factor. */
  requireForAll: z.boolean().default(false),
  /** Sign-ins of accounts with any of these roles need a second factor. */
  requireForRoles: z.array(z.string().min(1)).default([]),
  /** The issuer label of `otpauth://` URIs shown by authenticator apps; default `ui.productName`. */
  totpIssuer: z.string().min(1).max(100).optional(),
});

/**
 * Passkeys and security keys (WebAuthn Level 3, sessions/webauthn.ts): off by default. The relying
 * party id is the issuer's host unless `rpId` names a registrable suffix of it; the origin is the issuer's.
 */
export const webauthnSchema = section({
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
});

/**
 * The account page at `/account` (endpoints/account.ts): on by default, as signed-in users expect to
 * see and revoke what they granted. `reauthMaxAge`: seconds since the last sign-in within which a
 * password change, a factor change or ending other sessions is allowed without signing in again.
 */
export const accountSchema = section({
  enabled: z.boolean().default(true),
  reauthMaxAge: seconds(30, 86400).default(300),
});

export const userSchema = z.strictObject({
  username: z.string().min(1),
  /** Plain password for demo users declared in the file; hashed with argon2id when seeded. */
  password: z.string().min(8),
  claims: z.record(z.string(), z.unknown()).default({}),
  roles: z.array(z.string().min(1)).default([]),
});
