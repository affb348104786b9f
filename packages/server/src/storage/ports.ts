/**
 * What the rest of the server may ask of the store: one narrow interface per concept, and `Storage`, the
 * opened store. The SQL implementations are in sql/; callers depend on these interfaces only.
 *
 * Single use is decided by the store: consuming a code or rotating a refresh token succeeds for exactly one
 * caller, however many race for it. Everything issued from one authorization carries its `grant_id`, and
 * revoking the grant kills the whole family at once.
 */
import type {
  AuthorizationCode,
  BackchannelAuthenticationRequest,
  Client,
  ClientSecret,
  DeviceCode,
  Grant,
  Interaction,
  LoginSession,
  OpaqueAccessToken,
  PushedAuthorizationRequest,
  RefreshToken,
  SigningKeyRecord,
  TotpFactor,
  UpstreamAuthentication,
  User,
  WebAuthnChallenge,
  WebAuthnCredentialRecord,
} from '../model.ts';

export interface ClientRepository {
  find(clientId: string): Promise<Client | undefined>;
  list(): Promise<Client[]>;
  /** Inserts or replaces a client. */
  save(client: Client): Promise<void>;
  /** Replaces the client's secrets (hashes, newest first); false when there is no such client. */
  updateSecrets(clientId: string, secrets: ClientSecret[]): Promise<boolean>;
  remove(clientId: string): Promise<boolean>;
  /**
   * Disables the client from `at` (epoch seconds), or enables it again with null; false when there is no
   * such client. Like every client write it moves the change counter, so every node's cache drops the
   * client before its next request. A save never changes it.
   */
  setDisabled(clientId: string, at: number | null): Promise<boolean>;
  /** The SHA-256 of a registered client's registration access token (RFC 7592), or undefined. */
  registrationTokenHash(clientId: string): Promise<string | undefined>;
  /**
   * Replaces a registered client's registration access token hash, only while it is still `previous`
   * (null: none yet), so of two updates made with the same token exactly one succeeds; false otherwise.
   */
  setRegistrationTokenHash(clientId: string, hash: string, previous: string | null): Promise<boolean>;
}

export interface UserRepository {
  findById(id: string): Promise<User | undefined>;
  findByUsername(username: string): Promise<User | undefined>;
  /** Up to `limit` users whose `email` claim is this address, compared without regard to ASCII case. */
  findByEmail(email: string, limit: number): Promise<User[]>;
  /** Creates a user; returns false when the username is taken. */
  create(user: User, now: number): Promise<boolean>;
  list(): Promise<User[]>;
  /**
   * Disables the account from `at` (epoch seconds), or enables it again with null; false when there is no
   * such user. Sign-in, sessions, refresh and userinfo ask the account store on every request, so the
   * change counts from the next request on, on every node.
   */
  setDisabled(id: string, at: number | null, now: number): Promise<boolean>;
  /**
   * Deletes the user with what is kept only about them (consents, known browsers); false when there is no
   * such user. Its sessions and grants are the callers' to end (SessionRepository, GrantRepository).
   */
  remove(id: string): Promise<boolean>;
  /** Replaces the password hash (an operator's reset); false when there is no such user. */
  setPasswordHash(id: string, passwordHash: string, now: number): Promise<boolean>;
}

/** A page of a list in a stable order: at most `limit` items after the key `after` (none: the first). */
export interface PageRequest {
  after: string | undefined;
  limit: number;
}

/** Login sessions, found by the hash of the browser cookie's value. */
export interface SessionRepository {
  create(idHash: string, session: LoginSession, now: number): Promise<void>;
  /** The live session for a cookie value's hash, or undefined when unknown, ended or expired. */
  findActive(idHash: string, now: number): Promise<LoginSession | undefined>;
  end(idHash: string, now: number): Promise<void>;
  /** Ends the session with this sid; true only for the one caller that ended it (a logout runs once). */
  endBySid(sid: string, now: number): Promise<boolean>;
  /**
   * Re-authentication of the same user: the live session keeps its sid (clients bound to it stay signed
   * in) but gets a new cookie id (no fixation), a new auth_time and a new expiry. False when it has ended.
   */
  reauthenticate(
    idHash: string,
    newIdHash: string,
    /** `upstream`: null clears the session's upstream sign-in, absent keeps it. */
    session: Pick<LoginSession, 'authTime' | 'amr' | 'expiresAt'> & {
      upstream?: UpstreamAuthentication | null;
    },
    now: number,
  ): Promise<boolean>;
  /** Ends every live session of a user (a disabled or removed account); returns how many were live. */
  endAllForUser(userId: string, now: number): Promise<number>;
  /** The live session with this sid, or undefined when unknown, ended or expired. */
  findLiveBySid(sid: string, now: number): Promise<LoginSession | undefined>;
  /** Live sessions (of one user, when given), by sid, a page at a time. */
  listLive(filter: { userId?: string | undefined }, now: number, page: PageRequest): Promise<LoginSession[]>;
}

export interface InteractionRepository {
  create(interaction: Interaction, now: number): Promise<void>;
  findPending(id: string, now: number): Promise<Interaction | undefined>;
  attachSession(id: string, sid: string): Promise<void>;
  /** Marks the interaction finished; false when another request finished it first. */
  complete(id: string, now: number): Promise<boolean>;
}

/**
 * Browsers that signed in to an account before (OWASP's device cookies), by the SHA-256 of the browser
 * cookie's value; failed logins from elsewhere do not lock them out (sessions/login.ts).
 */
export interface KnownBrowserRepository {
  /** Records, or extends, that the browser signed in as the user, until `expiresAt`. */
  remember(browserHash: string, userId: string, expiresAt: number, now: number): Promise<void>;
  isKnown(browserHash: string, userId: string, now: number): Promise<boolean>;
}

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

/**
 * An upstream identity waiting to be linked to an existing local account (sessions/upstream-link.ts), for
 * one interaction (and so one browser), until `expiresAt`.
 */
export interface PendingUpstreamLink {
  interactionId: string;
  upstreamId: string;
  upstreamSubject: string;
  /** The upstream ID token's `sid`, for its back-channel logout once linked. */
  upstreamSid: string | null;
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
}

/** A local session started by an upstream sign-in, as its logout needs it (sessions/upstream-logout.ts). */
export interface UpstreamSession {
  /** The local session's sid. */
  sid: string;
  upstreamId: string;
  upstreamSubject: string;
  /** The upstream's `sid` claim, when its ID token had one. */
  upstreamSid: string | null;
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

/** One client's consent of a user: the scopes, and when they were last given. */
export interface Consent {
  clientId: string;
  scopes: string[];
  updatedAt: number;
}

/** The scopes a user has consented to, per client. */
export interface ConsentRepository {
  find(userId: string, clientId: string): Promise<string[]>;
  save(userId: string, clientId: string, scopes: string[], now: number): Promise<void>;
  /** Every consent of a user, by client id (the account page's connected applications). */
  listForUser(userId: string): Promise<Consent[]>;
  /** Forgets one user's consent to one client; false when there was none. */
  remove(userId: string, clientId: string): Promise<boolean>;
  /** Forgets every consent given to a client (when the client is removed). */
  removeForClient(clientId: string): Promise<void>;
}

export interface GrantRepository {
  create(grant: Grant): Promise<void>;
  find(id: string): Promise<Grant | undefined>;
  /** Every grant made in one login session (revoked ones included), oldest first. */
  listBySid(sid: string): Promise<Grant[]>;
  /** Grants not revoked (of one user and/or one client, when given), by id, a page at a time. */
  listActive(
    filter: { userId?: string | undefined; clientId?: string | undefined },
    page: PageRequest,
  ): Promise<Grant[]>;
  /**
   * Revokes a grant and everything issued from it: unredeemed codes and live refresh tokens are marked
   * consumed in the same transaction, so no member of the family can be used afterwards. True only for the
   * one caller that revoked it (an admin change racing another, endpoints/admin/authorizations.ts).
   */
  revoke(id: string, now: number): Promise<boolean>;
  /**
   * Revokes every grant of a client (and what was issued from them), for when the client is removed: a
   * client registered again later under the same id must not inherit its predecessor's tokens.
   */
  revokeAllForClient(clientId: string, now: number): Promise<void>;
  /**
   * Revokes every grant of a user (and what was issued from them), for a removed account or an operator
   * who wants a disabled account's refresh tokens gone for good.
   */
  revokeAllForUser(userId: string, now: number): Promise<void>;
}

/**
 * A code or refresh token can be redeemed when it is presented by its own client, is not used yet, has not
 * expired, and its grant is not revoked; `consume` checks all four in the one step that takes it.
 */
export interface AuthorizationCodeRepository {
  create(code: AuthorizationCode): Promise<void>;
  find(codeHash: string): Promise<AuthorizationCode | undefined>;
  /**
   * Redeems the code once: returns it (as now used) only to the one caller that got it and only when it can
   * be redeemed; undefined otherwise, and `find` tells why.
   */
  consume(codeHash: string, clientId: string, now: number): Promise<AuthorizationCode | undefined>;
}

export interface RefreshTokenRepository {
  create(token: RefreshToken): Promise<void>;
  find(tokenHash: string): Promise<RefreshToken | undefined>;
  /**
   * Rotates the token: returns it (as now used) only to the one caller that got it and only when it can be
   * redeemed; undefined otherwise, and `find` tells why.
   */
  consume(tokenHash: string, clientId: string, now: number): Promise<RefreshToken | undefined>;
  /** The token when it can be redeemed, without using it up: for a token that is kept. */
  findRedeemable(tokenHash: string, clientId: string, now: number): Promise<RefreshToken | undefined>;
  /**
   * As `findRedeemable`, and in the same statement moves the kept token's expiry to `idleUntil`, never past
   * its absolute expiry: a token kept rather than rotated stays alive while it is used.
   */
  keep(
    tokenHash: string,
    clientId: string,
    now: number,
    idleUntil: number,
  ): Promise<RefreshToken | undefined>;
}

export interface SigningKeyRepository {
  /** Keys still published (not past their expiry), oldest first. */
  listPublished(now: number): Promise<SigningKeyRecord[]>;
  create(key: SigningKeyRecord): Promise<void>;
  /** Every stored key, published or not (for sealing them all when at-rest encryption changes). */
  listAll(): Promise<SigningKeyRecord[]>;
  /** Replaces the stored private half of a key (sealed again with another secret, keys/key-encryption.ts). */
  replacePrivateJwk(kid: string, privateJwk: string): Promise<void>;
  /** Retires every key that is still signing (or scheduled to) other than `keepKid`. */
  retireOthers(keepKid: string, retiredAt: number, expiresAt: number): Promise<void>;
}

/** The user's decision on a device code (RFC 8628 §3.3). */
export type DeviceCodeDecision =
  | { status: 'approved'; userId: string; authTime: number; amr: string[]; sid: string }
  | { status: 'denied' };

/** RFC 8628 device authorization codes. */
export interface DeviceCodeRepository {
  /** Inserts a device code; false when the user code collides with a live one (the caller draws again). */
  create(code: DeviceCode): Promise<boolean>;
  findByHash(deviceCodeHash: string): Promise<DeviceCode | undefined>;
  findPendingByUserCode(userCode: string, now: number): Promise<DeviceCode | undefined>;
  /**
   * Records a poll. When the previous poll came sooner than the interval allows, the interval grows by
   * five seconds (RFC 8628 §3.5) and the result says to slow down.
   */
  recordPoll(
    deviceCodeHash: string,
    now: number,
    previous: number | null,
    interval: number,
  ): Promise<'ok' | 'slow_down'>;
  /** Approves or denies a pending code; false when it is no longer pending (or has expired). */
  decide(userCode: string, now: number, decision: DeviceCodeDecision): Promise<boolean>;
  /** Moves an approved code to consumed; true only for the one poll that gets the tokens. */
  consume(deviceCodeHash: string, now: number): Promise<boolean>;
}

/**
 * What redeeming a polled authorization needs of its repository (grants/polled-grant.ts): a device code
 * or a CIBA request, found by the hash of the handle the client polls with.
 */
export interface PolledAuthorizationRepository<Record> {
  findByHash(hash: string): Promise<Record | undefined>;
  /** As DeviceCodeRepository.recordPoll: the interval grows by five seconds when polled too soon. */
  recordPoll(
    hash: string,
    now: number,
    previous: number | null,
    interval: number,
  ): Promise<'ok' | 'slow_down'>;
  /** Moves an approved, unexpired record to consumed; true only for the one request that gets the tokens. */
  consume(hash: string, now: number): Promise<boolean>;
}

/** CIBA Core §7 authentication requests. */
export interface BackchannelRequestRepository
  extends PolledAuthorizationRepository<BackchannelAuthenticationRequest> {
  create(request: BackchannelAuthenticationRequest): Promise<void>;
  /** The request an approval link's token (its hash) belongs to, whatever its state. */
  findByApprovalHash(approvalHash: string): Promise<BackchannelAuthenticationRequest | undefined>;
  /** Approves or denies a pending, unexpired request; false when it is no longer pending (or expired). */
  decide(approvalHash: string, now: number, decision: DeviceCodeDecision): Promise<boolean>;
  /** Forgets the notification token and the plain auth_req_id once the ping is sent (CIBA Core §10.2). */
  forgetPing(authReqIdHash: string): Promise<void>;
}

/** Opaque access tokens, found by the hash of their handle. */
export interface AccessTokenRepository {
  create(token: OpaqueAccessToken): Promise<void>;
  find(tokenHash: string): Promise<OpaqueAccessToken | undefined>;
}

/**
 * Revocation state of access tokens. A JWT cannot be recalled, so a revoked one is remembered by `jti`
 * until it expires; tokens of a revoked grant are refused through the grant.
 */
export interface RevocationRepository {
  revokeJti(jti: string, expiresAt: number): Promise<void>;
  /**
   * Everything that can still make a live access token invalid: jtis revoked and not yet expired, and grants
   * revoked since `grantsSince` (an access token lives at most `maxAccessTokenTtl`, so a grant revoked longer
   * ago than that has no live token issued before its revocation, and it issues none after).
   */
  live(now: number, grantsSince: number): Promise<{ jtis: string[]; grantIds: string[] }>;
}

/** Pushed authorization requests (RFC 9126 §2). */
export interface PushedAuthorizationRequestRepository {
  create(request: PushedAuthorizationRequest): Promise<void>;
  /**
   * Uses the request once (RFC 9126 §4): returns its parameters only for its own client, before it expires
   * and the first time; undefined when it is unknown, another client's, expired or already used (a use by
   * another client does not consume it).
   */
  consume(
    requestUriHash: string,
    clientId: string,
    now: number,
  ): Promise<Record<string, string[]> | undefined>;
}

/** An API scope an operator added over the admin API; the config file's are not stored. */
export interface StoredApiScope {
  name: string;
  description: string;
  createdAt: number;
}

/** An API resource an operator added: the file's fields (no secret) and its introspection secret's SHA-256. */
export interface StoredApiResource {
  id: string;
  definition: Record<string, unknown>;
  secretHash: string | null;
  createdAt: number;
}

/** Stored API scopes and resources; every write announces a catalog change (Storage.catalogVersion). */
export interface ApiCatalogRepository {
  scopes(): Promise<StoredApiScope[]>;
  resources(): Promise<StoredApiResource[]>;
  /** Inserts or replaces by name / id. */
  saveScope(scope: StoredApiScope): Promise<void>;
  saveResource(resource: StoredApiResource): Promise<void>;
  removeScope(name: string): Promise<boolean>;
  removeResource(id: string): Promise<boolean>;
}

export interface Repositories {
  clients: ClientRepository;
  users: UserRepository;
  sessions: SessionRepository;
  interactions: InteractionRepository;
  knownBrowsers: KnownBrowserRepository;
  mfa: MfaRepository;
  webauthn: WebAuthnRepository;
  consents: ConsentRepository;
  grants: GrantRepository;
  authorizationCodes: AuthorizationCodeRepository;
  refreshTokens: RefreshTokenRepository;
  signingKeys: SigningKeyRepository;
  deviceCodes: DeviceCodeRepository;
  backchannelRequests: BackchannelRequestRepository;
  accessTokens: AccessTokenRepository;
  pushedAuthorizationRequests: PushedAuthorizationRequestRepository;
  revocations: RevocationRepository;
  upstreams: UpstreamRepository;
  upstreamSessions: UpstreamSessionRepository;
  apiCatalog: ApiCatalogRepository;
}

export interface Storage extends Repositories {
  dialect: 'sqlite' | 'postgres';
  /** `clients.find` through an in-process cache that never serves a client changed since it was read. */
  findClient(clientId: string): Promise<Client | undefined>;
  /** `clients.list` through the same cache: one array, the same until a client changes (on any node). */
  listClients(): Promise<readonly Client[]>;
  /** True when an access token's jti, or the grant it came from, was revoked (an in-memory view). */
  isAccessTokenRevoked(jti: string, grantId: string | undefined, now: number): Promise<boolean>;
  /** Moves when another process or node changes the stored API catalog (read at most once a loop turn). */
  catalogVersion(): number | Promise<number>;
  /** Runs `work` with repositories bound to one transaction: its changes land together or not at all. */
  transaction<T>(work: (repositories: Repositories) => Promise<T>): Promise<T>;
  /**
   * A transaction that no other process runs at the same time under the same `name`, for jobs exactly one
   * node may do, such as creating the first signing key or rotating keys on schedule.
   */
  exclusive<T>(name: string, work: (repositories: Repositories) => Promise<T>): Promise<T>;
  /**
   * Resolves when the database answers a read of the schema and accepts a small write (readiness, /readyz:
   * a full disk or a read-only file answers reads); rejects otherwise.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}
