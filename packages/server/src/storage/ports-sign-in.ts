/**
 * Store interfaces of the sign-in steps beyond the password: upstream identity providers (logins in
 * flight, links, the upstream sessions behind local ones) and second factors (TOTP, recovery codes,
 * WebAuthn credentials and challenges). Part of ports.ts, which re-exports them.
 */
import type { TotpFactor, WebAuthnChallenge, WebAuthnCredentialRecord } from '../model.ts';

/** A sign-in waiting for an upstream provider's answer (sessions/upstream.ts). */
export interface UpstreamLogin {
  /** SHA-256 of the `state` sent upstream. */
  stateHash: string;
  upstreamId: string;
  interactionId: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  expiresAt: number;
}

/** Who signed in at an upstream provider: the provider, and the `sub` and `sid` of its ID token. */
export interface UpstreamSubject {
  upstreamId: string;
  upstreamSubject: string;
  /** The upstream ID token's `sid` claim, when it had one: what its back-channel logout tokens name. */
  upstreamSid: string | null;
}

/**
 * An upstream identity waiting to be linked to an existing local account (sessions/upstream-link.ts), for
 * one interaction (and so one browser), until `expiresAt`.
 */
export interface PendingUpstreamLink extends UpstreamSubject {
  interactionId: string;
  upstreamAmr: string[];
  upstreamAcr: string | null;
  /** The account offered for the upstream's verified e-mail address, when the provider is trusted for it. */
  offeredUserId: string | null;
  /** The account whose password was proven, while its second factor is still to come. */
  provenUserId: string | null;
  expiresAt: number;
}

/** Upstream identities and the upstream sign-ins in flight. */
export interface UpstreamRepository {
  createLogin(login: UpstreamLogin, now: number): Promise<void>;
  /** Takes the live sign-in with this state hash: one caller gets it, once; undefined otherwise. */
  takeLogin(stateHash: string, now: number): Promise<UpstreamLogin | undefined>;
  /** The local account subject an upstream `sub` is linked to. */
  findLinkedUser(upstreamId: string, upstreamSubject: string): Promise<string | undefined>;
  /** Links an upstream `sub` to a local account; false when that identity is already linked. */
  link(upstreamId: string, upstreamSubject: string, userId: string, now: number): Promise<boolean>;
  /** Stores the interaction's pending link, replacing an earlier one of the same interaction. */
  savePendingLink(link: PendingUpstreamLink, now: number): Promise<void>;
  /** The interaction's live pending link. */
  findPendingLink(interactionId: string, now: number): Promise<PendingUpstreamLink | undefined>;
  /** Records whose password was proven for the live pending link; false when there is none. */
  provePendingLink(interactionId: string, userId: string, now: number): Promise<boolean>;
  /** Takes the interaction's live pending link: one caller gets it, once. */
  takePendingLink(interactionId: string, now: number): Promise<PendingUpstreamLink | undefined>;
  /** How many linked identities and unexpired upstream sessions name each upstream provider, by its id. */
  usageByUpstream(now: number): Promise<Map<string, UpstreamUsage>>;
}

/** What is stored about the users of one upstream provider: counts only. */
export interface UpstreamUsage {
  linkedIdentities: number;
  sessions: number;
}

/** A local session started by an upstream sign-in, as its logout needs it (sessions/upstream-logout.ts). */
export interface UpstreamSession extends UpstreamSubject {
  /** The local session's sid. */
  sid: string;
  /** The upstream ID token as stored (sealed when `keys.encryptionSecrets` is set). */
  idToken: string | null;
  expiresAt: number;
}

/** Which local sessions came from which upstream session (OpenID Connect Back-Channel Logout 1.0 §2.6). */
export interface UpstreamSessionRepository {
  /** Records (or, for a re-authenticated session keeping its sid, replaces) the upstream a session came from. */
  record(session: UpstreamSession, now: number): Promise<void>;
  find(sid: string, now: number): Promise<UpstreamSession | undefined>;
  /**
   * The sids of the unexpired local sessions from upstream `upstreamId` that a logout token names: those of
   * its `sid` when given (and of `sub` too when both are given), else all of `sub`'s.
   */
  findSids(
    upstreamId: string,
    names: { sub: string | undefined; sid: string | undefined },
    now: number,
  ): Promise<string[]>;
}

/**
 * Second factors of accounts (sessions/mfa.ts): one TOTP factor per account and its recovery codes. Using a
 * time step or a recovery code is one conditional statement, so of two requests racing with the same
 * code exactly one succeeds.
 */
export interface MfaRepository {
  findTotp(userId: string): Promise<TotpFactor | undefined>;
  /**
   * Stores a new, unconfirmed secret for the account. A confirmed factor is kept until the new one is
   * confirmed (`confirmTotp`), so starting an enrolment never weakens the account.
   */
  startTotp(userId: string, secret: string, now: number): Promise<void>;
  /** Confirms the pending secret `secret` with the time step of its first code; false when not pending. */
  confirmTotp(userId: string, secret: string, step: number, now: number): Promise<boolean>;
  /** Records `step` as used when it is later than the last one used; false: a replayed or older code. */
  useTotpStep(userId: string, step: number): Promise<boolean>;
  removeTotp(userId: string): Promise<boolean>;
  /** Replaces every recovery code of the account with these hashes. */
  replaceRecoveryCodes(userId: string, codeHashes: string[], now: number): Promise<void>;
  /** Marks an unused recovery code used; false when unknown or already used. */
  useRecoveryCode(userId: string, codeHash: string, now: number): Promise<boolean>;
  /** How many unused recovery codes the account has. */
  unusedRecoveryCodes(userId: string): Promise<number>;
  /** Forgets every factor of the account (an account removed). */
  removeAll(userId: string): Promise<void>;
}

/**
 * WebAuthn credentials of accounts and the challenges of ceremonies under way (sessions/webauthn.ts).
 * Recording a use is one conditional UPDATE on the signature counter, and a challenge is taken by one
 * DELETE: of two requests racing with the same assertion or challenge, exactly one succeeds.
 */
export interface WebAuthnRepository {
  /** Stores a new credential; false when its id is already registered (to any account). */
  addCredential(credential: WebAuthnCredentialRecord): Promise<boolean>;
  findCredential(credentialId: string): Promise<WebAuthnCredentialRecord | undefined>;
  /** The account's credentials, oldest first. */
  listCredentials(userId: string): Promise<WebAuthnCredentialRecord[]>;
  /**
   * Records a successful assertion: the new counter, backup state and time of use. False when the stored
   * counter is not below `counter` (a replayed or cloned authenticator's assertion), unless both are 0
   * (authenticators without a counter, WebAuthn §6.1.1).
   */
  recordUse(credentialId: string, counter: number, backupState: boolean, now: number): Promise<boolean>;
  /** Removes one credential of the account; false when it has no such credential. */
  removeCredential(userId: string, credentialId: string): Promise<boolean>;
  /** Removes every credential of the account; returns how many there were. */
  removeAll(userId: string): Promise<number>;
  createChallenge(challenge: WebAuthnChallenge, now: number): Promise<void>;
  /** Takes (deletes) the challenge with this hash; undefined when unknown, already taken or expired. */
  takeChallenge(challengeHash: string, now: number): Promise<WebAuthnChallenge | undefined>;
}
