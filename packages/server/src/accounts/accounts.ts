/**
 * Accounts: who can sign in, and what is said about them. The core asks an `AccountStore` for an account by
 * subject or username, to check a password, and for the claims released for a set of scopes; it never reads
 * a users table itself. `SqlAccountStore` (Gatehouse's own users table) is the default; an application
 * embedding Gatehouse passes its own (`createGatehouse({ accounts })`), and `accounts.type:
 * postgres-legacy` adapts an existing PostgreSQL users table (legacy.ts).
 *
 * A disabled or deleted account stops at once: it cannot sign in, its browser sessions no longer count,
 * and its refresh tokens and access tokens are refused at the token and userinfo endpoints, because each
 * of those asks the store on every request (on every node).
 */
import type { User } from '../model.ts';
import type { PasswordHasher } from '../protocol/passwords.ts';
import type { ScopeCatalog } from '../protocol/scopes.ts';
import type { UserRepository } from '../storage/ports.ts';

export interface Account {
  /** The `sub` claim: stable and never given to another account. */
  subject: string;
  /** What the user types to sign in; shown on the consent and logout pages. */
  username: string;
  /** False for a disabled account: no sign-in, no refresh, no userinfo. */
  enabled: boolean;
  /** Roles, released as the `roles` claim (RFC 9068 §2.2.3.1) when the `roles` scope is granted. */
  roles: readonly string[];
}

/** Which claims are asked for (OpenID Connect Core §5.4, §5.5). */
export interface ClaimsRequest {
  /** The scopes granted. */
  scopes: readonly string[];
  /**
   * Every claim name wanted: those the granted identity scopes list in the scope catalogue and those
   * requested one by one (the `claims` request parameter). The server fills it in before a store is asked
   * (`withScopeClaims`); a store releases those of them it has.
   */
  claims?: readonly string[];
}

export interface AccountStore {
  findBySubject(subject: string): Promise<Account | undefined>;
  /** The account a username signs in as (case as the store compares it), or undefined. */
  findByUsername(username: string): Promise<Account | undefined>;
  /**
   * Checks a password: the account when it is correct (enabled or not; the caller refuses a disabled
   * one), undefined otherwise. It should take as long for an unknown username as for a wrong password.
   */
  authenticate(username: string, password: string): Promise<Account | undefined>;
  /** The claims about the account for these scopes and named claims; `sub` is set by the caller. */
  claims(account: Account, request: ClaimsRequest): Promise<Record<string, unknown>>;
  /**
   * Replaces the account's password (hashed by the store; the caller has checked the current one and the
   * new one's length); false when the account is gone. A store without it offers no password change on
   * the account page.
   */
  setPassword?(subject: string, password: string, now: number): Promise<boolean>;
  /**
   * Up to `limit` accounts with this e-mail address. Optional: an upstream identity is then never offered
   * an account for its e-mail, nor found to collide with one (sessions/upstream-link.ts).
   */
  findByEmail?(email: string, limit: number): Promise<Account[]>;
}

/**
 * The claims a stored profile releases for a request (OpenID Connect Core §5.1): each claim named that the
 * profile has, `roles` from the account's roles, and `preferred_username` falling back to the username.
 * Custom stores may use it with their own profile object.
 */
export function profileClaims(
  account: Account,
  profile: Record<string, unknown>,
  request: ClaimsRequest,
): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const name of request.claims ?? []) {
    if (name === 'sub') continue;
    if (name === 'roles') claims.roles = [...account.roles];
    else if (name === 'preferred_username')
      claims.preferred_username = profile.preferred_username ?? account.username;
    else if (profile[name] !== undefined) claims[name] = profile[name];
  }
  return claims;
}

/**
 * The store the server uses: `store`, with each claims request completed by the claims of the granted
 * identity scopes, as the scope catalogue lists them, so a store never needs the catalogue.
 */
export function withScopeClaims(store: AccountStore, catalog: ScopeCatalog): AccountStore {
  const setPassword = store.setPassword?.bind(store);
  return {
    ...(setPassword === undefined ? {} : { setPassword }),
    findBySubject: (subject) => store.findBySubject(subject),
    findByUsername: (username) => store.findByUsername(username),
    authenticate: (username, password) => store.authenticate(username, password),
    ...(store.findByEmail === undefined
      ? {}
      : { findByEmail: (email, limit) => store.findByEmail!(email, limit) }),
    claims(account, request) {
      const names = new Set<string>(request.claims ?? []);
      for (const scope of request.scopes) {
        for (const claim of catalog.identityScopes.get(scope)?.claims ?? []) names.add(claim);
      }
      return store.claims(account, { scopes: request.scopes, claims: [...names] });
    },
  };
}

/** The account of a stored user. */
function accountOf(user: User): Account {
  return {
    subject: user.id,
    username: user.username,
    enabled: user.disabledAt === null,
    roles: user.roles,
  };
}

/** Accounts in Gatehouse's own `users` table (config file users and `gatehouse user add`). */
export class SqlAccountStore implements AccountStore {
  /** The stored profile of each account this store handed out, for `claims` without a second read. */
  private readonly profiles = new WeakMap<Account, Record<string, unknown>>();

  /** `ready`: the config users are stored (sign-ins at start-up wait for it). */
  constructor(
    private readonly users: UserRepository,
    private readonly passwords: PasswordHasher,
    private readonly ready?: Promise<unknown>,
  ) {}

  private remember(user: User | undefined): Account | undefined {
    if (user === undefined) return undefined;
    const account = accountOf(user);
    this.profiles.set(account, user.claims);
    return account;
  }

  async findBySubject(subject: string): Promise<Account | undefined> {
    await this.ready;
    return this.remember(await this.users.findById(subject));
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    await this.ready;
    return this.remember(await this.users.findByUsername(username));
  }

  async findByEmail(email: string, limit: number): Promise<Account[]> {
    await this.ready;
    return (await this.users.findByEmail(email, limit)).map((user) => this.remember(user)!);
  }

  async authenticate(username: string, password: string): Promise<Account | undefined> {
    await this.ready;
    const user = await this.users.findByUsername(username);
    // An unknown username is verified against a dummy hash: the answer takes as long either way.
    const valid = await this.passwords.verify(user?.passwordHash, password);
    return valid ? this.remember(user) : undefined;
  }

  async claims(account: Account, request: ClaimsRequest): Promise<Record<string, unknown>> {
    const profile = this.profiles.get(account) ?? (await this.users.findById(account.subject))?.claims ?? {};
    return profileClaims(account, profile, request);
  }

  /** An argon2id hash under the config's login.argon2 parameters (the hasher sign-in verifies with). */
  async setPassword(subject: string, password: string, now: number): Promise<boolean> {
    return this.users.setPasswordHash(subject, await this.passwords.hash(password), now);
  }
}
