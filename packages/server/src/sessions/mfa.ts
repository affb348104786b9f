/**
 * The second factor of a sign-in (OpenID Connect Core §3.1.2.3; RFC 8176 `amr`): when one is required,
 * checking a TOTP code (RFC 6238) or a recovery code under the login failure counters, enrolling a TOTP
 * authenticator, and stepping the browser's session up to the `mfa` level in place (same sid: the clients
 * signed in with it stay signed in; new session value, new auth_time).
 *
 * A second factor is required when the server says so for everyone (`mfa.requireForAll`), for the
 * account's roles (`mfa.requireForRoles`), for the client (`requireMfa`), or when the request asks for the
 * `mfa` level (`acr_values`, an essential `acr`: protocol/acr.ts). Factors are stored by subject id
 * (storage/ports.ts MfaRepository); TOTP secrets are sealed with `keys.encryptionSecrets` when it is set and
 * are never logged.
 */
import type { Account } from '../accounts/accounts.ts';
import { generateRecoveryCodes, normaliseRecoveryCode, recoveryCodeHash } from '../authn/recovery-codes.ts';
import { generateTotpSecret, matchTotp, otpauthUri } from '../authn/totp.ts';
import type { ServerContext } from '../context.ts';
import { KeyEncryption } from '../keys/key-encryption.ts';
import type { LoginSession } from '../model.ts';
import { steppedUpAmr } from '../protocol/acr.ts';
import { sha256Base64Url } from '../protocol/secrets.ts';
import type { StartedSession } from './login.ts';

/** What an account has as second factors. */
export interface FactorSummary {
  totp: boolean;
  recoveryCodes: number;
  /** WebAuthn credentials (sessions/webauthn.ts), counted only while `webauthn.enabled`. */
  passkeys: number;
  /** True when the account has a factor that can step a session up (TOTP or a passkey). */
  any: boolean;
}

export async function factorSummary(ctx: ServerContext, userId: string): Promise<FactorSummary> {
  const [totp, recoveryCodes, credentials] = await Promise.all([
    ctx.storage.mfa.findTotp(userId),
    ctx.storage.mfa.unusedRecoveryCodes(userId),
    ctx.config.webauthn.enabled ? ctx.storage.webauthn.listCredentials(userId) : [],
  ]);
  const hasTotp = totp?.confirmedAt != null;
  return {
    totp: hasTotp,
    recoveryCodes,
    passkeys: credentials.length,
    any: hasTotp || credentials.length > 0,
  };
}

/** The sealing of TOTP secrets at rest, with the account as authenticated data (keys/key-encryption.ts). */
function sealing(ctx: ServerContext): KeyEncryption {
  return new KeyEncryption(ctx.config.keys.encryptionSecrets);
}

function sealAad(userId: string): string {
  return `totp:${userId}`;
}

/** Why a second factor was refused, as a message key of the page catalogues. */
export type SecondFactorFailure =
  | { key: 'mfa.invalid' | 'mfa.missing' | 'webauthn.failed' | 'webauthn.cancelled' | 'webauthn.unknown' }
  | { key: 'login.throttled'; params: { seconds: number } };

export type SecondFactorCheck =
  | { ok: true; method: 'totp' | 'recovery' }
  | { ok: false; error: SecondFactorFailure; status: 401 | 429; retryAfter?: number };

/**
 * The failure counter of an account's second factor: the login limits (`loginFreeFailures`, up to
 * `loginMaxDelay`), per account, since the password was right and only this account's factor is guessed.
 */
function factorCounter(ctx: ServerContext, userId: string) {
  const limits = ctx.config.rateLimits;
  return { key: `mfa:${userId}`, freeFailures: limits.loginFreeFailures, maxDelay: limits.loginMaxDelay };
}

type FactorRefusal = Extract<SecondFactorCheck, { ok: false }>;

/** The refusal while the account's second factor is locked by failures; undefined when it is not. */
export async function factorLock(
  ctx: ServerContext,
  userId: string,
  clientId: string | undefined,
): Promise<FactorRefusal | undefined> {
  const locked = await ctx.rateLimits.lockedSeconds(factorCounter(ctx, userId).key);
  if (locked <= 0) return undefined;
  ctx.audit('mfa_throttled', { client_id: clientId, user_id: userId, retry_after: locked });
  return {
    ok: false,
    error: { key: 'login.throttled', params: { seconds: locked } },
    status: 429,
    retryAfter: locked,
  };
}

/** Counts a wrong second factor of the account as a failed login. */
export async function recordFactorFailure(
  ctx: ServerContext,
  userId: string,
  clientId: string | undefined,
  detail: Record<string, boolean> = {},
): Promise<void> {
  const counter = factorCounter(ctx, userId);
  const failures = await ctx.rateLimits.countFailure(counter.key, counter.freeFailures, counter.maxDelay);
  ctx.audit('mfa_failed', { client_id: clientId, user_id: userId, failures, ...detail });
}

/** Forgets the failures of the account's second factor after a success. */
export async function forgetFactorFailures(ctx: ServerContext, userId: string): Promise<void> {
  await ctx.rateLimits.forgetFailures(factorCounter(ctx, userId).key);
}

/**
 * Checks a TOTP code (accepted once per time step: RFC 6238 §5.2) or a recovery code (once) of `userId`.
 * Wrong codes count as failed logins of the account; while it is locked nothing is checked.
 */
export async function checkSecondFactor(
  ctx: ServerContext,
  userId: string,
  entered: { code: string | undefined; recoveryCode: string | undefined },
  clientId: string | undefined,
): Promise<SecondFactorCheck> {
  const code = entered.code?.replace(/\s/g, '');
  const recovery = entered.recoveryCode?.trim();
  if (!code && !recovery) return { ok: false, error: { key: 'mfa.missing' }, status: 401 };
  const locked = await factorLock(ctx, userId, clientId);
  if (locked !== undefined) return locked;
  const now = ctx.now();
  let method: 'totp' | 'recovery' | undefined;
  if (code) {
    const factor = await ctx.storage.mfa.findTotp(userId);
    if (factor?.secret != null && factor.confirmedAt !== null) {
      const secret = sealing(ctx).open(sealAad(userId), factor.secret);
      const step = matchTotp(secret, code, now);
      if (step !== undefined && (await ctx.storage.mfa.useTotpStep(userId, step))) method = 'totp';
      else if (step !== undefined) ctx.audit('mfa_code_replayed', { client_id: clientId, user_id: userId });
    }
  } else if (recovery) {
    const normalised = normaliseRecoveryCode(recovery);
    if (
      normalised !== undefined &&
      (await ctx.storage.mfa.useRecoveryCode(userId, recoveryCodeHash(userId, normalised), now))
    ) {
      method = 'recovery';
      ctx.audit('mfa_recovery_code_used', { client_id: clientId, user_id: userId });
    }
  }
  if (method === undefined) {
    await recordFactorFailure(ctx, userId, clientId);
    return { ok: false, error: { key: 'mfa.invalid' }, status: 401 };
  }
  await forgetFactorFailures(ctx, userId);
  return { ok: true, method };
}

/** A TOTP enrolment under way: the secret to show, and its `otpauth://` URI for the QR code. */
export interface TotpEnrolment {
  secret: string;
  uri: string;
}

/**
 * Starts (or restarts) a TOTP enrolment of `account`: a new secret, pending until a first code confirms it.
 * A confirmed factor stays in force until then.
 */
export async function startTotpEnrolment(ctx: ServerContext, account: Account): Promise<TotpEnrolment> {
  const secret = generateTotpSecret();
  await ctx.storage.mfa.startTotp(
    account.subject,
    sealing(ctx).seal(sealAad(account.subject), secret),
    ctx.now(),
  );
  return { secret, uri: totpUri(ctx, account, secret) };
}

/** The enrolment under way for `account`, if one is pending (the page shown again after a wrong code). */
export async function pendingTotpEnrolment(
  ctx: ServerContext,
  account: Account,
): Promise<TotpEnrolment | undefined> {
  const factor = await ctx.storage.mfa.findTotp(account.subject);
  if (factor?.pendingSecret == null) return undefined;
  const secret = sealing(ctx).open(sealAad(account.subject), factor.pendingSecret);
  return { secret, uri: totpUri(ctx, account, secret) };
}

function totpUri(ctx: ServerContext, account: Account, secret: string): string {
  return otpauthUri(ctx.config.mfa.totpIssuer ?? ctx.config.ui.productName, account.username, secret);
}

/**
 * Confirms the pending enrolment of `account` with its first code: the factor is in force from now on and
 * that code's time step counts as used. Wrong codes count as failed logins. Returns ten new recovery codes
 * (replacing any earlier ones) to show once.
 */
export async function confirmTotpEnrolment(
  ctx: ServerContext,
  account: Account,
  code: string | undefined,
  clientId: string | undefined,
): Promise<{ ok: true; recoveryCodes: string[] } | FactorRefusal> {
  const locked = await factorLock(ctx, account.subject, clientId);
  if (locked !== undefined) return locked;
  const factor = await ctx.storage.mfa.findTotp(account.subject);
  const entered = code?.replace(/\s/g, '');
  if (!entered) return { ok: false, error: { key: 'mfa.missing' }, status: 401 };
  const now = ctx.now();
  const pending = factor?.pendingSecret;
  const step =
    pending == null
      ? undefined
      : matchTotp(sealing(ctx).open(sealAad(account.subject), pending), entered, now);
  if (
    pending == null ||
    step === undefined ||
    !(await ctx.storage.mfa.confirmTotp(account.subject, pending, step, now))
  ) {
    await recordFactorFailure(ctx, account.subject, clientId, { enrolment: true });
    return { ok: false, error: { key: 'mfa.invalid' }, status: 401 };
  }
  await forgetFactorFailures(ctx, account.subject);
  ctx.audit('mfa_totp_enrolled', { client_id: clientId, user_id: account.subject });
  return { ok: true, recoveryCodes: await regenerateRecoveryCodes(ctx, account.subject) };
}

/** Ten new recovery codes for the account, replacing the earlier ones; only their hashes are stored. */
export async function regenerateRecoveryCodes(ctx: ServerContext, userId: string): Promise<string[]> {
  const codes = generateRecoveryCodes();
  await ctx.storage.mfa.replaceRecoveryCodes(
    userId,
    codes.map((code) => recoveryCodeHash(userId, normaliseRecoveryCode(code)!)),
    ctx.now(),
  );
  ctx.audit('mfa_recovery_codes_generated', { user_id: userId });
  return codes;
}

/**
 * Steps the browser's live session up to the `mfa` level (RFC 8176: `pwd` or `fed`, then `otp` for a code or
 * `hwk` for a passkey, and `mfa`): same sid, a new session value and auth_time. Undefined when the session
 * ended meanwhile.
 */
export async function stepUpSession(
  ctx: ServerContext,
  sessionValue: string,
  session: LoginSession,
  newSessionValue: string,
  clientId: string | undefined,
  method: 'otp' | 'hwk' = 'otp',
): Promise<StartedSession | undefined> {
  const now = ctx.now();
  const stepped = {
    authTime: now,
    amr: steppedUpAmr(session.amr, method),
    expiresAt: now + ctx.config.login.sessionTtl,
  };
  const done = await ctx.storage.sessions.reauthenticate(
    sha256Base64Url(sessionValue),
    sha256Base64Url(newSessionValue),
    stepped,
    now,
  );
  if (!done) return undefined;
  ctx.audit('mfa_succeeded', { user_id: session.userId, sid: session.sid, client_id: clientId });
  return { session: { ...session, ...stepped }, sessionValue: newSessionValue };
}
