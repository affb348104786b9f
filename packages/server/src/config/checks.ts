/**
 * The configuration's cross-field checks: names that must exist (scopes, API resources, upstreams), FAPI 2.0
 * and RFC 8705 requirements on clients, and settings that must agree with each other.
 */
import type * as z from 'zod';
import { type ClientAuthMethod, reservedAccessTokenClaims } from '../model.ts';
import { fapi2Algorithms, fapi2AuthMethods, tlsAuthMethods } from './clients.ts';
import type { ConfigDocument } from './document.ts';

type Context = z.core.$RefinementCtx<ConfigDocument>;
/** Names of the scopes the file declares (API scopes, identity resources). */
type ScopeNames = { api: Set<string>; identity: Set<string> };

/** Adds an issue to `ctx` for each cross-field rule `config` breaks. */
export function checkConfig(config: ConfigDocument, ctx: Context): void {
  const names: ScopeNames = {
    api: new Set(config.apiScopes.map((scope) => scope.name)),
    identity: new Set(config.identityResources.map((resource) => resource.name)),
  };
  checkApiResources(config, ctx, names);
  checkWebauthn(config, ctx);
  checkClients(config, ctx, names);
  checkSettings(config, ctx, names);
  checkUpstreams(config, ctx);
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
}

/** A broken catalogue rule: the resource's index in the list, the path inside it, and what is wrong. */
export interface ApiResourceProblem {
  index: number;
  path: (string | number)[];
  message: string;
}

/**
 * The catalogue's rules, for the file and the admin API alike (admin/api-catalog.ts): API resources name
 * declared API scopes, each scope is owned by one resource, and no user claim is a reserved one.
 */
export function apiResourceProblems(
  apiScopeNames: ReadonlySet<string>,
  resources: readonly { id: string; scopes: string[]; claims: { user: string[] } }[],
): ApiResourceProblem[] {
  const problems: ApiResourceProblem[] = [];
  const owner = new Map<string, string>();
  resources.forEach((resource, index) => {
    resource.claims.user.forEach((claim, claimIndex) => {
      if (reservedAccessTokenClaims.has(claim))
        problems.push({
          index,
          path: ['claims', 'user', claimIndex],
          message: `"${claim}" is a reserved access-token claim and cannot be configured${claim === 'roles' ? ' (use claims.roles: true)' : ''}`,
        });
    });
    resource.scopes.forEach((scope, scopeIndex) => {
      const path = ['scopes', scopeIndex];
      if (!apiScopeNames.has(scope)) problems.push({ index, path, message: `unknown API scope "${scope}"` });
      const previous = owner.get(scope);
      if (previous !== undefined && previous !== resource.id)
        problems.push({ index, path, message: `scope "${scope}" already belongs to "${previous}"` });
      owner.set(scope, resource.id);
    });
  });
  return problems;
}

function checkApiResources(config: ConfigDocument, ctx: Context, names: ScopeNames): void {
  for (const { index, path, message } of apiResourceProblems(names.api, config.apiResources))
    ctx.addIssue({ code: 'custom', path: ['apiResources', index, ...path], message });
}

/** The WebAuthn RP ID is the issuer host or a parent domain of it (WebAuthn §5.1.2.3). */
function checkWebauthn(config: ConfigDocument, ctx: Context): void {
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
}

/** Clients name declared scopes and API resources, meet FAPI 2.0, and can see their certificates (RFC 8705). */
function checkClients(config: ConfigDocument, ctx: Context, names: ScopeNames): void {
  config.clients.forEach((client, index) => {
    client.scopes.forEach((scope, scopeIndex) => {
      if (!names.api.has(scope) && !names.identity.has(scope)) {
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
}

/** Settings that must agree with each other: proxies, listeners, accounts, languages, registration. */
function checkSettings(config: ConfigDocument, ctx: Context, names: ScopeNames): void {
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
    if (!names.api.has(scope) && !names.identity.has(scope))
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
}

/** Upstreams are unique and agree per issuer; clients name declared upstreams. */
function checkUpstreams(config: ConfigDocument, ctx: Context): void {
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
}

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
