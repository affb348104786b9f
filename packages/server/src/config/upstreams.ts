/**
 * Upstream identity providers (`upstreams`): OpenID Connect providers a user may sign in with instead of a
 * local password (OpenID Connect Core §3.1, as a relying party). Each is found by its issuer's discovery
 * document (OpenID Connect Discovery 1.0 §4) and used with the authorization code flow, PKCE S256, `state`,
 * `nonce` and the RFC 9207 `iss` check (sessions/upstream.ts). Clients name the upstreams they may offer
 * (`clients[].upstreams`); none by default.
 */
import * as z from 'zod';

/** A local claim name and the upstream ID token claim it is copied from. */
const claimName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a claim name');

export const upstreamSchema = z
  .strictObject({
    /** Stable id: part of the callback URL (`/upstream/{id}/callback`) and of every stored link. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and -, at most 40'),
    /** The name on the sign-in button. */
    name: z.string().min(1).max(80),
    type: z.literal('oidc'),
    /** The issuer identifier; its discovery document must name exactly this issuer (RFC 8414 §3.3). */
    issuer: z
      .string()
      .url()
      .refine((value) => {
        const url = new URL(value);
        return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
      }, 'must use https unless the host is loopback'),
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
    /** The upstream's `email_verified` may be trusted (reserved: no matching by e-mail is done yet). */
    trustedForEmail: z.boolean().default(false),
    /** The upstream's `amr` is kept in the session beside `fed` (its MFA may count locally). */
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
    if (!upstream.scopes.includes('openid'))
      ctx.addIssue({
        code: 'custom',
        path: ['scopes'],
        message: 'an OpenID Connect upstream needs the openid scope',
      });
  });

export type UpstreamConfig = z.infer<typeof upstreamSchema>;
