/**
 * Linking an upstream identity to an existing local account, only after the user proves control of that
 * account: its password (under the login failure counters, sessions/login.ts), then its second factor when
 * it has one (a TOTP or recovery code, sessions/mfa.ts, or a passkey, sessions/webauthn.ts). Offered when
 * an upstream sign-in finds no linked account and the provider is `existing-only`, or is `jit` but an
 * account already has the upstream's e-mail address.
 *
 * Matching by e-mail is never automatic: an account is only offered (its username filled in, the proof
 * still required) when the upstream said `email_verified: true` and the provider is `trustedForEmail`.
 * The pending link is server-side, one per interaction (so bound to the browser that started it, whose
 * forms carry its CSRF token), lives at most ten minutes, and is taken once when the link is stored.
 */
import type { Account } from '../accounts/accounts.ts';
import type { UpstreamConfig } from '../config/upstreams.ts';
import type { ServerContext } from '../context.ts';
import type { UpstreamAuthentication } from '../model.ts';
import { federatedAmr } from '../protocol/acr.ts';
import { isHintedUser } from '../protocol/authorization-request.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { PendingUpstreamLink } from '../storage/ports.ts';
import type { LoadedInteraction } from './interaction.ts';
import { checkPassword, type SignInAttempt, type SignInFailure } from './login.ts';
import { checkSecondFactor, factorSummary, type SecondFactorFailure } from './mfa.ts';
import type { UpstreamIdentity } from './upstream-logout.ts';
import { finishAuthentication, interactionBinding, type PostedCeremony } from './webauthn.ts';

/** Seconds a pending link waits for the user's proof (never past its interaction). */
const pendingLinkTtl = 600;

/** Accounts that already have the upstream's e-mail address, and whether the upstream's word counts. */
export interface EmailMatch {
  accounts: Account[];
  /** `email_verified: true` from a provider trusted for e-mail (mapped claims: sessions/upstream.ts). */
  verified: boolean;
}

/** The accounts with the e-mail address of an upstream identity's mapped claims (at most two: one, or many). */
export async function emailMatch(ctx: ServerContext, mapped: Record<string, unknown>): Promise<EmailMatch> {
  const email = typeof mapped.email === 'string' ? mapped.email : '';
  const accounts =
    email === '' || ctx.accounts.findByEmail === undefined ? [] : await ctx.accounts.findByEmail(email, 2);
  return { accounts, verified: mapped.email_verified === true };
}

/** Parks an upstream identity for linking in this interaction; the browser goes to its link page next. */
export async function offerLink(
  ctx: ServerContext,
  config: UpstreamConfig,
  loaded: LoadedInteraction,
  signIn: { upstream: UpstreamAuthentication; upstreamSession: UpstreamIdentity },
  match: EmailMatch,
): Promise<void> {
  const { upstream, upstreamSession } = signIn;
  const now = ctx.now();
  const [only] = match.accounts;
  const offered =
    config.trustedForEmail && match.verified && match.accounts.length === 1 && only !== undefined
      ? only.subject
      : null;
  await ctx.storage.upstreams.savePendingLink(
    {
      interactionId: loaded.interaction.id,
      upstreamId: config.id,
      upstreamSubject: upstreamSession.subject,
      upstreamSid: upstreamSession.sid ?? null,
      upstreamAmr: upstream.amr,
      upstreamAcr: upstream.acr,
      offeredUserId: offered,
      provenUserId: null,
      expiresAt: Math.min(now + pendingLinkTtl, loaded.interaction.expiresAt),
    },
    now,
  );
  ctx.audit('upstream_link_offered', {
    upstream: config.id,
    client_id: loaded.client.clientId,
    reason: config.provisioning === 'jit' ? 'email_taken' : 'no_linked_account',
    account_offered: offered !== null,
  });
}

function linkExpired(): OAuthError {
  return new OAuthError(
    'invalid_request',
    'This account linking has expired or was already used. Go back to the application and start again.',
    { pageMessage: 'error.upstreamLinkExpired' },
  );
}

/** The link page's state: the pending link, its provider, and the offered or proven account. */
export interface PendingLinkState {
  link: PendingUpstreamLink;
  config: UpstreamConfig;
  /** The account offered for the verified e-mail address: its username is filled in. */
  offered: Account | undefined;
  /** The account whose password was proven: its second factor is asked next. */
  proven: Account | undefined;
}

/** The interaction's live pending link; an error page when there is none or its provider is gone. */
export async function pendingLink(ctx: ServerContext, loaded: LoadedInteraction): Promise<PendingLinkState> {
  const link = await ctx.storage.upstreams.findPendingLink(loaded.interaction.id, ctx.now());
  const provider = link && ctx.upstreams.allowed(loaded.client, link.upstreamId);
  if (link === undefined || provider === undefined) throw linkExpired();
  const [offered, proven] = await Promise.all(
    [link.offeredUserId, link.provenUserId].map((id) =>
      id === null ? undefined : ctx.accounts.findBySubject(id),
    ),
  );
  return { link, config: provider.config, offered, proven };
}

/**
 * A finished link: the account to sign in, its session's `amr`, the upstream sign-in, and the upstream
 * session for logout (its `sub` and `sid`; the ID token is not kept while a link waits, so RP-initiated
 * logout does not continue at the upstream for this one session).
 */
export interface LinkedSignIn {
  account: Account;
  amr: string[];
  upstream: UpstreamAuthentication;
  upstreamSession: UpstreamIdentity;
}

/** A refused step, with the message key the form shows. */
export interface LinkRefused<Failure> {
  error: Failure;
  status: number;
  retryAfter?: number;
}

export type PasswordStep =
  | { linked: LinkedSignIn }
  /** The password was right and the account has a TOTP authenticator: its code is asked next. */
  | { factor: Account }
  | LinkRefused<SignInFailure | { key: 'login.otherAccount' }>;

export type FactorStep = { linked: LinkedSignIn } | LinkRefused<SecondFactorFailure>;

/**
 * The password step: checked as at the login form (the same failure counters). An account with a TOTP
 * authenticator is recorded as proven and its code asked next; else the link is stored now.
 */
export async function provePassword(
  ctx: ServerContext,
  loaded: LoadedInteraction,
  state: PendingLinkState,
  attempt: SignInAttempt,
): Promise<PasswordStep> {
  const check = await checkPassword(ctx, attempt);
  if ('error' in check) return check;
  const account = check.user;
  // OpenID Connect Core §3.1.2.1: with an id_token_hint, only the hinted user may finish this sign-in.
  if (!isHintedUser(loaded.interaction.request, account.subject))
    return { error: { key: 'login.otherAccount' }, status: 400 };
  if ((await factorSummary(ctx, account.subject)).any) {
    if (!(await ctx.storage.upstreams.provePendingLink(state.link.interactionId, account.subject, ctx.now())))
      throw linkExpired();
    return { factor: account };
  }
  return { linked: await storeLink(ctx, loaded, state, account, ['pwd']) };
}

/** The account whose password was proven, for the second-factor step. */
function provenAccount(state: PendingLinkState): Account {
  if (state.proven === undefined) throw linkExpired();
  return state.proven;
}

/** The second-factor step, for the account whose password was proven: a TOTP or a recovery code. */
export async function proveFactor(
  ctx: ServerContext,
  loaded: LoadedInteraction,
  state: PendingLinkState,
  entered: { code: string | undefined; recoveryCode: string | undefined },
): Promise<FactorStep> {
  const account = provenAccount(state);
  const check = await checkSecondFactor(ctx, account.subject, entered, loaded.client.clientId);
  if (!check.ok)
    return {
      error: check.error,
      status: check.status,
      ...(check.retryAfter === undefined ? {} : { retryAfter: check.retryAfter }),
    };
  return { linked: await storeLink(ctx, loaded, state, account, ['pwd', 'otp', 'mfa']) };
}

/**
 * The second-factor step with one of the proven account's passkeys (sessions/webauthn.ts): the assertion
 * answers a challenge bound to the interaction and must be that account's; failures count as its factor's.
 */
export async function provePasskey(
  ctx: ServerContext,
  loaded: LoadedInteraction,
  state: PendingLinkState,
  posted: PostedCeremony,
): Promise<FactorStep> {
  const account = provenAccount(state);
  const result = await finishAuthentication(
    ctx,
    interactionBinding(loaded.interaction.id),
    posted,
    account.subject,
    loaded.client.clientId,
  );
  if (!result.ok) return result;
  return { linked: await storeLink(ctx, loaded, state, account, ['pwd', 'hwk', 'mfa']) };
}

/** Takes the pending link (once) and stores the identity as the account's. */
async function storeLink(
  ctx: ServerContext,
  loaded: LoadedInteraction,
  state: PendingLinkState,
  account: Account,
  localAmr: string[],
): Promise<LinkedSignIn> {
  const now = ctx.now();
  const link = await ctx.storage.upstreams.takePendingLink(state.link.interactionId, now);
  // A link taken by a concurrent submission, or proven for another account, links nothing.
  if (link === undefined || (link.provenUserId !== null && link.provenUserId !== account.subject))
    throw linkExpired();
  if (!(await ctx.storage.upstreams.link(link.upstreamId, link.upstreamSubject, account.subject, now))) {
    ctx.audit('upstream_link_refused', { upstream: link.upstreamId, reason: 'already_linked' });
    throw new OAuthError('access_denied', 'This identity is already linked to another account.', {
      pageMessage: 'error.upstreamAlreadyLinked',
    });
  }
  ctx.audit('upstream_identity_linked', {
    upstream: link.upstreamId,
    user_id: account.subject,
    client_id: loaded.client.clientId,
    offered: link.offeredUserId === account.subject,
  });
  const upstream = { id: link.upstreamId, amr: link.upstreamAmr, acr: link.upstreamAcr };
  const amr = [...new Set([...federatedAmr(upstream.amr, state.config.trustedForMfa), ...localAmr])];
  const upstreamSession = {
    subject: link.upstreamSubject,
    sid: link.upstreamSid ?? undefined,
    idToken: undefined,
  };
  return { account, amr, upstream, upstreamSession };
}
