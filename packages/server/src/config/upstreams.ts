/**
 * Upstream identity providers (`upstreams`): providers a user may sign in with instead of a local password.
 * `type: oidc` is an OpenID Connect provider (Core §3.1, as a relying party), found by its issuer's discovery
 * document (Discovery 1.0 §4) and used with the authorization code flow, PKCE S256, `state`, `nonce` and the
 * RFC 9207 `iss` check (sessions/upstream.ts). `type: oauth2` is a plain OAuth 2.0 provider without ID
 * tokens (GitHub): its endpoints are configured, the identity is its userinfo answer mapped to claims
 * (sessions/upstream-oauth2.ts). `preset` fills in a known provider (config/upstream-presets.ts). Clients
 * name the upstreams they may offer (`clients[].upstreams`); none by default.
 */
import * as z from 'zod';
import { section } from './fields.ts';
import { expandUpstreamPreset } from './upstream-presets.ts';

/** A local claim name and the upstream ID token claim it is copied from. */
const claimName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a claim name');

/** https, or http on a loopback host (tests). */
const providerUrl = z
  .string()
  .url()
  .refine((value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  }, 'must use https unless the host is loopback');

const upstreamObject = z
  .strictObject({
    /** Stable id: part of the callback URL (`/upstream/{id}/callback`) and of every stored link. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and -, at most 40'),
    /** The name on the sign-in button. */
    name: z.string().min(1).max(80),
    type: z.enum(['oidc', 'oauth2']),
    /** A known provider whose settings are filled in (config/upstream-presets.ts): `entra`, `google`, `github`. */
    preset: z.enum(['entra', 'google', 'github']).optional(),
    /**
     * The issuer identifier. `oidc`: its discovery document must name exactly this issuer (RFC 8414 §3.3).
     * `oauth2`: the provider's name in RFC 9207 `iss` checks (its site's origin when it has no issuer).
     */
    issuer: providerUrl,
    /** `oauth2`: the provider's endpoints (there is no discovery); `emails` answers GitHub's /user/emails. */
    endpoints: z
      .strictObject({
        authorization: providerUrl,
        token: providerUrl,
        userinfo: providerUrl,
        emails: providerUrl.optional(),
      })
      .optional(),
    /** `oauth2`: the userinfo field that identifies the account (GitHub: the numeric `id`, kept as a string). */
    subjectField: claimName.default('sub'),
    /** PKCE S256 (RFC 7636); off only for a provider that refuses the parameters. */
    pkce: z.boolean().default(true),
    /** How the client secret is sent to the token endpoint (RFC 6749 §2.3.1). */
    tokenEndpointAuthMethod: z
      .enum(['client_secret_basic', 'client_secret_post'])
      .default('client_secret_basic'),
    /** `preset: entra`: the tenant id, or `organizations` / `common` for multi-tenant sign-in. */
    tenant: z
      .string()
      .regex(/^[A-Za-z0-9.-]{1,64}$/, 'must be a tenant id or domain')
      .optional(),
    /** `preset: entra` with a multi-tenant `tenant`: the tenant ids (`tid`) allowed; all when absent. */
    allowedTenants: z.array(z.string().regex(/^[A-Za-z0-9-]{1,64}$/)).optional(),
    /**
     * Logout at the upstream (sessions/upstream-logout.ts): `endUpstreamSession` sends RP-initiated logouts
     * on to the upstream's `end_session_endpoint`; `backchannel` accepts its back-channel logout tokens at
     * `/upstream/{id}/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0).
     */
    logout: section({
      endUpstreamSession: z.boolean().default(false),
      backchannel: z.boolean().default(true),
    }),
    clientId: z.string().min(1),
    /** `client_secret_basic` at the upstream's token endpoint. */
    clientSecret: z.string().min(1).optional(),
    /** `private_key_jwt` (RFC 7523): a private JWK in a JSON file, relative to the config file. */
    privateKeyJwt: z
      .strictObject({
        keyFile: z.string().min(1),
        algorithm: z.enum(['ES256', 'RS256', 'PS256', 'EdDSA']).optional(),
      })
      .optional(),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default(['openid', 'profile', 'email']),
    /** Local claim: upstream claim. `preferred_username` also names a provisioned account. */
    claims: z.record(claimName, claimName).default({}),
    /** `jit` creates an account at the first sign-in; `existing-only` signs in only identities linked before. */
    provisioning: z.enum(['jit', 'existing-only']).default('existing-only'),
    /**
     * The upstream's `email_verified` may be trusted: kept in a provisioned account's claims, and an
     * account with that verified address is offered for linking (its password still required).
     */
    trustedForEmail: z.boolean().default(false),
    /** The upstream's `amr` counts in the session beside `fed`: its `mfa` meets a local MFA policy. */
    trustedForMfa: z.boolean().default(false),
    /** E-mail domains of `login_hint` that go straight to this upstream (`user@example.com`). */
    domains: z.array(z.string().regex(/^[a-z0-9.-]+$/, 'must be a lowercase domain name')).default([]),
    /**
     * Fetch discovery, the JWKS and the token endpoint from loopback and private addresses (tests only):
     * otherwise refused (protocol/outbound-address.ts).
     */
    allowPrivateAddresses: z.boolean().default(false),
  })
  .superRefine((upstream, ctx) => {
    const methods =
      Number(upstream.clientSecret !== undefined) + Number(upstream.privateKeyJwt !== undefined);
    if (methods !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['clientSecret'],
        message: 'give either clientSecret or privateKeyJwt',
      });
    if (upstream.type === 'oidc' && !upstream.scopes.includes('openid'))
      ctx.addIssue({
        code: 'custom',
        path: ['scopes'],
        message: 'an OpenID Connect upstream needs the openid scope',
      });
    if (upstream.type === 'oauth2' && upstream.endpoints === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['endpoints'],
        message: 'an OAuth 2.0 upstream needs its authorization, token and userinfo endpoints',
      });
    if (upstream.type === 'oauth2' && upstream.privateKeyJwt !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['privateKeyJwt'],
        message: 'an OAuth 2.0 upstream authenticates with clientSecret',
      });
  });

/** One upstream; a `preset` is expanded first, so every field it fills may still be overridden. */
export const upstreamSchema = z.preprocess(expandUpstreamPreset, upstreamObject);

export type UpstreamConfig = z.infer<typeof upstreamSchema>;
