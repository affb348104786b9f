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
  UpstreamAuthentication,
  User,
} from '../model.ts';
import type {
  MfaRepository,
  UpstreamRepository,
  UpstreamSessionRepository,
  WebAuthnRepository,
} from './ports-sign-in.ts';

export type {
  MfaRepository,
  PendingUpstreamLink,
  UpstreamLogin,
  UpstreamRepository,
  UpstreamSession,
  UpstreamSessionRepository,
  UpstreamUsage,
  WebAuthnRepository,
} from './ports-sign-in.ts';

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
