/**
 * Signing in at an upstream OpenID Connect provider (OpenID Connect Core §3.1, Gatehouse as the relying
 * party). The flow runs inside a pending interaction (sessions/interaction.ts):
 * - start: an authorization request with PKCE S256 (RFC 7636), a fresh `state` and `nonce` (Core
 *   §3.1.2.1), built by @gatehouse/client; the sign-in is stored server-side under the SHA-256 of its
 *   `state`, bound to the interaction (and so to the browser that started it);
 * - callback: the sign-in is taken once by its `state` (a replay finds nothing), must belong to the
 *   provider whose callback URL was called, and its interaction must be this browser's; @gatehouse/client
 *   then checks the RFC 9207 `iss` parameter against the provider (mix-up, RFC 9700 §4.4), exchanges the
 *   code with the PKCE verifier and validates the ID token (signature by the provider's JWKS, `iss`,
 *   `aud`, `azp`, `exp`/`iat`, `nonce`; Core §3.1.3.7); a plain OAuth 2.0 upstream (`type: oauth2`) sends
 *   no nonce and no ID token: its identity is its userinfo answer (sessions/upstream-oauth2.ts);
 * - the upstream `sub` is looked up in the linked identities; unknown, it provisions an account (`jit`),
 *   unless an account already has its e-mail address, or it is `existing-only`: then linking to an existing
 *   account is offered, which needs that account's password (sessions/upstream-link.ts). Nothing is ever
 *   matched by e-mail alone;
 * - the upstream's `amr`/`acr` are kept with the session; its methods count locally (RFC 8176, beside
 *   `fed`) only when the provider is `trustedForMfa`.
 * Every outbound call goes through the address guard (protocol/outbound-fetch.ts).
 */
import { GatehouseClientError, type IdTokenClaims, type OAuthClient } from '@gatehouse/client';
import type { Account } from '../accounts/accounts.ts';
import type { UpstreamConfig } from '../config/upstreams.ts';
import type { ServerContext } from '../context.ts';
import type { UpstreamAuthentication } from '../model.ts';
import { federatedAmr } from '../protocol/acr.ts';
import { OAuthError } from '../protocol/errors.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { type LoadedInteraction, loadInteraction } from './interaction.ts';
import { type EmailMatch, emailMatch, offerLink } from './upstream-link.ts';
import type { UpstreamIdentity } from './upstream-logout.ts';
import { oauth2Claims, withoutPkce } from './upstream-oauth2.ts';
import type { UpstreamProvider } from './upstream-providers.ts';

/** Claims copied into a provisioned account when `claims` maps none: the same names locally. */
const defaultClaimMapping: Record<string, string> = {
  name: 'name',
  given_name: 'given_name',
  family_name: 'family_name',
  email: 'email',
  email_verified: 'email_verified',
  preferred_username: 'preferred_username',
};

function unavailable(): OAuthError {
  return new OAuthError('invalid_request', 'This sign-in option is not available for this application.', {
    pageMessage: 'error.upstreamUnavailable',
  });
}

/** Every refused callback: one message, with the reason in the audit log only. */
function failed(ctx: ServerContext, upstreamId: string, reason: string): OAuthError {
  ctx.audit('upstream_login_failed', { upstream: upstreamId, reason });
  return new OAuthError('access_denied', 'Signing in with the other provider did not succeed.', {
    pageMessage: 'error.upstreamFailed',
  });
}

/**
 * The upstream provider a pending interaction goes to without showing the chooser: the `idp` parameter,
 * else the provider whose `domains` include the domain of an e-mail-shaped `login_hint`.
 */
export function hintedUpstream(ctx: ServerContext, loaded: LoadedInteraction): UpstreamProvider | undefined {
  const { idp, loginHint } = loaded.interaction.request;
  const providers = ctx.upstreams.forClient(loaded.client);
  if (idp !== undefined) return providers.find((provider) => provider.config.id === idp);
  const domain = loginHint?.includes('@')
    ? loginHint.slice(loginHint.lastIndexOf('@') + 1).toLowerCase()
    : '';
  if (domain === '') return undefined;
  return providers.find((provider) => provider.config.domains.includes(domain));
}

/** Starts a sign-in at upstream `upstreamId` for a pending interaction; returns where to send the browser. */
export async function startUpstreamLogin(
  ctx: ServerContext,
  loaded: LoadedInteraction,
  upstreamId: string,
): Promise<string> {
  const provider = ctx.upstreams.allowed(loaded.client, upstreamId);
  if (provider === undefined) throw unavailable();
  let pending: Awaited<ReturnType<OAuthClient['authorizationRequest']>>;
  try {
    // A fresh sign-in asked of us (prompt=login, max_age) is asked of the upstream too, whose ID token's
    // auth_time is then checked against max_age; otherwise its own session could answer for it.
    const { prompt, maxAge } = loaded.interaction.request;
    pending = await provider.client.authorizationRequest({
      scope: provider.config.scopes.join(' '),
      ...(prompt.includes('login') ? { prompt: 'login' } : {}),
      ...(maxAge === undefined ? {} : { maxAge }),
    });
    if (!provider.config.pkce) withoutPkce(pending.url);
  } catch (error) {
    if (!(error instanceof GatehouseClientError)) throw error;
    // Discovery failed (unreachable, refused by the address guard, or a document naming another issuer).
    ctx.audit('upstream_unavailable', { upstream: upstreamId, reason: error.code });
    throw new OAuthError('temporarily_unavailable', 'The other provider cannot be reached just now.', {
      status: 502,
      pageMessage: 'error.upstreamFailed',
    });
  }
  const now = ctx.now();
  await ctx.storage.upstreams.createLogin(
    {
      stateHash: sha256Base64Url(pending.state),
      upstreamId,
      interactionId: loaded.interaction.id,
      nonce: pending.nonce ?? '',
      codeVerifier: pending.codeVerifier,
      redirectUri: pending.redirectUri,
      expiresAt: Math.min(now + ctx.config.login.interactionTtl, loaded.interaction.expiresAt),
    },
    now,
  );
  ctx.audit('upstream_login_started', { upstream: upstreamId, client_id: loaded.client.clientId });
  return pending.url.href;
}

/**
 * A finished upstream sign-in: the interaction it was for, the upstream's word on how the user signed in,
 * and the upstream session its logout needs (sessions/upstream-logout.ts); then the local account and the
 * session's `amr`, or no account when linking to an existing one is offered instead.
 */
export type UpstreamSignIn = {
  loaded: LoadedInteraction;
  upstream: UpstreamAuthentication;
  upstreamSession: UpstreamIdentity;
} & ({ account: Account; amr: string[] } | { account: undefined });

/** The upstream's `amr` (at most eight short strings) and `acr` of an ID token (OpenID Connect Core §2). */
function upstreamAuthentication(id: string, claims: IdTokenClaims): UpstreamAuthentication {
  const amr = Array.isArray(claims.amr)
    ? claims.amr.filter((value) => typeof value === 'string' && value.length <= 64).slice(0, 8)
    : [];
  const acr = typeof claims.acr === 'string' && claims.acr.length <= 255 ? claims.acr : null;
  return { id, amr, acr };
}

/**
 * Handles the browser's return to `/upstream/{upstreamId}/callback` (`callbackUrl`, with its query), for
 * the browser holding `browserValue`. Any failure is an `access_denied` error page; no session is started.
 */
export async function finishUpstreamLogin(
  ctx: ServerContext,
  upstreamId: string,
  callbackUrl: URL,
  browserValue: string | undefined,
): Promise<UpstreamSignIn> {
  const state = callbackUrl.searchParams.get('state');
  if (state === null || state.length > 512) throw failed(ctx, upstreamId, 'missing_state');
  const login = await ctx.storage.upstreams.takeLogin(sha256Base64Url(state), ctx.now());
  if (login === undefined) throw failed(ctx, upstreamId, 'unknown_or_used_state');
  // A state issued for one provider coming back through another's callback: a mix-up.
  if (login.upstreamId !== upstreamId) throw failed(ctx, upstreamId, 'state_of_another_upstream');
  const loaded = await loadInteraction(ctx, login.interactionId, browserValue);
  const provider = ctx.upstreams.allowed(loaded.client, upstreamId);
  if (provider === undefined) throw unavailable();
  let claims: IdTokenClaims | undefined;
  let accessToken = '';
  let tokenType = 'Bearer';
  let idToken: string | undefined;
  try {
    const tokens = await provider.client.handleCallback(callbackUrl, {
      url: new URL(provider.redirectUri),
      state,
      // A plain OAuth 2.0 upstream was sent no nonce and answers no ID token.
      nonce: login.nonce === '' ? undefined : login.nonce,
      codeVerifier: login.codeVerifier,
      redirectUri: login.redirectUri,
      // The max_age sent upstream is the interaction's own (see startUpstreamLogin).
      ...(loaded.interaction.request.maxAge === undefined
        ? {}
        : { maxAge: loaded.interaction.request.maxAge }),
    });
    accessToken = tokens.accessToken;
    tokenType = tokens.tokenType;
    idToken = tokens.idToken;
    claims =
      provider.config.type === 'oauth2'
        ? await oauth2Claims(provider.config, accessToken, tokenType)
        : tokens.claims;
  } catch (error) {
    if (!(error instanceof GatehouseClientError)) throw error;
    throw failed(
      ctx,
      upstreamId,
      error.code === 'id_token_invalid' ? error.message.slice(0, 120) : error.code,
    );
  }
  if (claims === undefined || typeof claims.sub !== 'string' || claims.sub === '' || claims.sub.length > 255)
    throw failed(ctx, upstreamId, 'no_subject');
  const idTokenClaims = claims;
  const upstream = upstreamAuthentication(upstreamId, claims);
  const upstreamSid = typeof claims.sid === 'string' && claims.sid.length <= 255 ? claims.sid : undefined;
  const upstreamSession = { subject: claims.sub, sid: upstreamSid, idToken };
  const found = await linkedAccount(ctx, provider, idTokenClaims, () =>
    userinfoClaims(ctx, provider, idTokenClaims, accessToken, tokenType),
  );
  if ('match' in found) {
    await offerLink(ctx, provider.config, loaded, { upstream, upstreamSession }, found.match);
    return { loaded, upstream, upstreamSession, account: undefined };
  }
  const { account } = found;
  if (!account.enabled) {
    ctx.audit('login_refused_disabled', { client_id: loaded.client.clientId, user_id: account.subject });
    throw new OAuthError('access_denied', 'This account is disabled.', {
      pageMessage: 'error.upstreamAccountDisabled',
    });
  }
  ctx.audit('upstream_login_succeeded', {
    upstream: upstreamId,
    user_id: account.subject,
    client_id: loaded.client.clientId,
  });
  const amr = federatedAmr(upstream.amr, provider.config.trustedForMfa);
  return { loaded, upstream, upstreamSession, account, amr };
}

/**
 * The ID token's claims, completed from the upstream's UserInfo endpoint (OpenID Connect Core §5.3) when the
 * claim mapping wants claims the ID token lacks (many providers put profile claims only in UserInfo). The
 * answer must be for the ID token's `sub` (§5.3.2, checked by @gatehouse/client); the ID token's claims win.
 */
async function userinfoClaims(
  ctx: ServerContext,
  provider: UpstreamProvider,
  claims: IdTokenClaims,
  accessToken: string,
  tokenType: string,
): Promise<Record<string, unknown>> {
  const wanted = Object.values(claimMapping(provider.config));
  if (wanted.every((name) => claims[name] !== undefined) || accessToken === '') return claims;
  try {
    if (typeof (await provider.client.metadata()).userinfo_endpoint !== 'string') return claims;
    const userinfo = await provider.client.userinfo(accessToken, { tokenType, expectedSubject: claims.sub });
    return { ...userinfo, ...claims };
  } catch (error) {
    if (!(error instanceof GatehouseClientError)) throw error;
    throw failed(ctx, provider.config.id, `userinfo_${error.code}`);
  }
}

/**
 * The local account linked to the upstream identity, provisioning one when the provider is `jit` and no
 * account has its e-mail address; otherwise the accounts with that address, for the link to offer
 * (sessions/upstream-link.ts).
 */
async function linkedAccount(
  ctx: ServerContext,
  provider: UpstreamProvider,
  claims: IdTokenClaims,
  profileClaims: () => Promise<Record<string, unknown>>,
): Promise<{ account: Account } | { match: EmailMatch }> {
  const { config } = provider;
  const linked = await ctx.storage.upstreams.findLinkedUser(config.id, claims.sub);
  const found = linked === undefined ? undefined : await ctx.accounts.findBySubject(linked);
  if (found !== undefined) return { account: found };
  const jit = config.provisioning === 'jit';
  // The e-mail address matters to a `jit` provider (a collision) and to one trusted for it (the offer).
  const emailMatters = jit || config.trustedForEmail;
  const profile = emailMatters ? await profileClaims() : claims;
  const match = emailMatters
    ? await emailMatch(ctx, mappedClaims(config, profile))
    : { accounts: [], verified: false };
  if (!jit || match.accounts.length > 0) return { match };
  const subject = await provisionAccount(ctx, provider, claims.sub, profile);
  const account = await ctx.accounts.findBySubject(subject);
  if (account === undefined) throw failed(ctx, config.id, 'provisioned_account_missing');
  return { account };
}

function claimMapping(config: UpstreamConfig): Record<string, string> {
  return Object.keys(config.claims).length > 0 ? config.claims : defaultClaimMapping;
}

/** The claims a provisioned account keeps: the configured mapping applied to the upstream's claims. */
export function mappedClaims(
  config: UpstreamConfig,
  claims: Record<string, unknown>,
): Record<string, unknown> {
  const profile: Record<string, unknown> = {};
  for (const [local, upstream] of Object.entries(claimMapping(config))) {
    const value = claims[upstream];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string' && value.length > 1024) continue;
    profile[local] = value;
  }
  // An upstream's word that an address is verified counts only when the provider is trusted for it.
  if (!config.trustedForEmail && 'email_verified' in profile) profile.email_verified = false;
  return profile;
}

/**
 * Creates the account of a first sign-in (`jit`): username `{upstream}:{preferred_username or sub}`,
 * so it never takes a local user's name, the mapped claims, and as password the argon2id hash of a random
 * 256-bit value that is never shown or stored elsewhere, so it cannot sign in with a password. Returns its
 * subject; when another sign-in of the same identity won the race, that one's account.
 */
async function provisionAccount(
  ctx: ServerContext,
  provider: UpstreamProvider,
  upstreamSubject: string,
  claims: Record<string, unknown>,
): Promise<string> {
  const upstreamId = provider.config.id;
  const profile = mappedClaims(provider.config, claims);
  const preferred = typeof profile.preferred_username === 'string' ? profile.preferred_username : undefined;
  const now = ctx.now();
  const user = {
    id: randomHandle(16),
    username: `${upstreamId}:${(preferred ?? upstreamSubject).slice(0, 200)}`,
    passwordHash: await ctx.upstreams.passwords.hash(randomHandle()),
    claims: profile,
    roles: [],
    disabledAt: null,
  };
  if (!(await ctx.storage.users.create(user, now))) {
    user.username = `${upstreamId}:${upstreamSubject}`;
    if (!(await ctx.storage.users.create(user, now))) throw failed(ctx, upstreamId, 'username_taken');
  }
  if (!(await ctx.storage.upstreams.link(upstreamId, upstreamSubject, user.id, now))) {
    await ctx.storage.users.remove(user.id);
    const winner = await ctx.storage.upstreams.findLinkedUser(upstreamId, upstreamSubject);
    if (winner === undefined) throw failed(ctx, upstreamId, 'link_failed');
    return winner;
  }
  ctx.audit('upstream_account_provisioned', { upstream: upstreamId, user_id: user.id });
  return user.id;
}
