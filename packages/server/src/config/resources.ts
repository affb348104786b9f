/**
 * API scopes, API resources (RFC 8707 resource indicators, RFC 9068 access tokens) and identity resources
 * (OIDC Core §5.4 scopes), and the built-in admin API resource added when `admin.enabled`.
 */
import * as z from 'zod';
import { maxAccessTokenTtl } from '../model.ts';
import { absoluteUri, scopeToken, seconds, section } from './fields.ts';

export const apiScopeSchema = z.strictObject({
  name: scopeToken,
  description: z.string().min(1),
});

export const apiResourceSchema = z.strictObject({
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
  claims: section({
    /** Claims copied from the account (as userinfo would release them), e.g. `email`, `name`. */
    user: z.array(z.string().min(1)).default([]),
    /** `roles` always (true), never (false), or when the `roles` scope was granted (unset). */
    roles: z.boolean().optional(),
  }),
  /** The scopes as `scope` (a string, RFC 9068 §2.2.3), `scp` (an array, as Microsoft's), or `both`. */
  scopeClaim: z.enum(['scope', 'scp', 'both']).default('scope'),
});

export const identityResourceSchema = z.strictObject({
  name: scopeToken,
  description: z.string().min(1),
  claims: z.array(z.string().min(1)).default([]),
});

/** The audience (`aud`) of the admin API's access tokens: the built-in API resource's id. */
export const adminAudience = 'gatehouse-admin';
/** The admin API's scopes: reading, and every change. */
export const adminScopes = { read: 'admin.read', write: 'admin.write' } as const;

/**
 * With `admin.enabled`, the built-in admin API resource and its scopes join those of the file (before the
 * cross-field checks, so clients of the file may name the scopes); a file that declares them itself is
 * refused by those checks as a duplicate owner.
 */
export function withAdminApi<
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
