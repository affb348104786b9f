/**
 * Presets for well-known upstream providers (`upstreams[].preset`), expanded before the upstream's schema
 * (config/upstreams.ts) reads it; every field a preset fills may be given in the config to override it.
 * - `entra`: Microsoft Entra ID, OpenID Connect at `https://login.microsoftonline.com/{tenant}/v2.0`. For
 *   the multi-tenant `organizations` and `common`, discovery names the issuer with a `{tenantid}`
 *   placeholder, and an ID token's `iss` must be that template with the token's own `tid` put in
 *   (`entraIssuerRule`), the tenant optionally on `allowedTenants`;
 * - `google`: OpenID Connect at `https://accounts.google.com`;
 * - `github`: plain OAuth 2.0 (no ID token), GitHub's endpoints, the numeric user `id` as the subject and
 *   GitHub's profile fields mapped to claims.
 */

/** Tenants of Entra ID that stand for many (OpenID Connect discovery names a `{tenantid}` template). */
const entraMultiTenant = ['organizations', 'common'];
const entraHost = 'https://login.microsoftonline.com';
/** The issuer Entra's multi-tenant discovery documents name (Microsoft identity platform v2.0). */
export const entraIssuerTemplate = `${entraHost}/{tenantid}/v2.0`;

type Raw = Record<string, unknown>;

function entraPreset(input: Raw): Raw {
  const tenant = typeof input.tenant === 'string' ? input.tenant : '';
  return {
    type: 'oidc',
    name: 'Microsoft',
    // Without a tenant the schema reports `tenant`, not a made-up issuer.
    ...(tenant === '' ? { tenant: '' } : { issuer: `${entraHost}/${tenant}/v2.0` }),
    scopes: ['openid', 'profile', 'email'],
  };
}

const presets: Record<string, (input: Raw) => Raw> = {
  entra: entraPreset,
  google: () => ({
    type: 'oidc',
    name: 'Google',
    issuer: 'https://accounts.google.com',
    scopes: ['openid', 'profile', 'email'],
  }),
  github: () => ({
    type: 'oauth2',
    name: 'GitHub',
    issuer: 'https://github.com',
    endpoints: {
      authorization: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      userinfo: 'https://api.github.com/user',
      emails: 'https://api.github.com/user/emails',
    },
    scopes: ['read:user', 'user:email'],
    subjectField: 'id',
    tokenEndpointAuthMethod: 'client_secret_post',
    claims: {
      preferred_username: 'login',
      name: 'name',
      email: 'email',
      email_verified: 'email_verified',
      picture: 'avatar_url',
      profile: 'html_url',
    },
  }),
};

/**
 * The upstream as configured, with its preset's fields under it (the config's own fields win; `endpoints`
 * merge field by field). A plain OAuth 2.0 upstream asks for no scope unless told (no `openid`).
 */
export function expandUpstreamPreset(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const raw = input as Raw;
  const preset = typeof raw.preset === 'string' ? presets[raw.preset]?.(raw) : undefined;
  const merged: Raw = { ...preset, ...raw };
  if (typeof preset?.endpoints === 'object' && typeof raw.endpoints === 'object')
    merged.endpoints = { ...(preset.endpoints as Raw), ...(raw.endpoints as Raw) };
  if (merged.type === 'oauth2' && merged.scopes === undefined) merged.scopes = [];
  return merged;
}

/** What an upstream of the multi-tenant Entra kind checks instead of a fixed issuer. */
export interface IssuerRule {
  /** The issuer the discovery document must name. */
  documentIssuer: string;
  /** True when an ID token's `iss` is acceptable given its other claims. */
  accepts(iss: string, claims: Record<string, unknown>): boolean;
}

/**
 * For `preset: entra` with a multi-tenant `tenant`: the ID token's `iss` must be the discovery template with
 * the token's `tid` substituted, and `tid` on `allowedTenants` when that is set. Undefined otherwise (the
 * issuer is compared as configured).
 */
export function entraIssuerRule(config: {
  preset?: string | undefined;
  tenant?: string | undefined;
  allowedTenants?: string[] | undefined;
}): IssuerRule | undefined {
  if (config.preset !== 'entra' || !entraMultiTenant.includes(config.tenant ?? '')) return undefined;
  const allowed = config.allowedTenants;
  return {
    documentIssuer: entraIssuerTemplate,
    accepts(iss, claims) {
      const tid = claims.tid;
      if (typeof tid !== 'string' || !/^[0-9a-f-]{36}$/.test(tid)) return false;
      if (allowed !== undefined && !allowed.includes(tid)) return false;
      return iss === entraIssuerTemplate.replace('{tenantid}', tid);
    },
  };
}
