/**
 * The operations on Gatehouse's own users that the CLI (`gatehouse user ...`) and the admin API
 * (`/admin/v1/users`) both run, so both accept and refuse the same things. Passwords are hashed with
 * argon2id under the config's login.argon2 parameters (the hasher the login page verifies with) and never
 * kept or logged. Disabling, enabling and removing are accounts/lifecycle.ts. Accounts kept in another
 * store (accounts.type postgres-legacy) are changed there, not here. An operator's change of one user runs
 * in a transaction no other operator change of that user runs beside (`changeUser`), so of two racing
 * with the same ETag exactly one wins. Removing second factors (TOTP, recovery codes, passkeys) is here
 * too, for `gatehouse user reset-factors` and `DELETE /admin/v1/users/{id}/factors`.
 */
import type { GatehouseConfig } from '../config/schema.ts';
import type { User } from '../model.ts';
import { type InputProblem, OAuthError } from '../protocol/errors.ts';
import { PasswordHasher } from '../protocol/passwords.ts';
import { randomHandle } from '../protocol/secrets.ts';
import type { Repositories, Storage } from '../storage/ports.ts';

export const minPasswordLength = 8;

/** Called with the stored user inside the change's transaction (the admin API's If-Match check). */
export type UserPrecondition = (current: User, repositories: Repositories) => Promise<void>;

/** The store as a change inside a transaction sees it: its repositories, and `transaction` running on them. */
export type ChangeStore = Repositories & Pick<Storage, 'transaction'>;

/**
 * Runs `change` on the user `id` in a transaction that no other operator change of that user runs beside,
 * after `precondition` accepted the stored user; `not_found` when there is none.
 */
export function changeUser<T>(
  storage: Storage,
  id: string,
  precondition: UserPrecondition | undefined,
  change: (user: User, store: ChangeStore) => Promise<T>,
): Promise<T> {
  return storage.exclusive(`admin-user-${id}`, async (repositories) => {
    const user = await repositories.users.findById(id);
    if (user === undefined) throw new OAuthError('not_found', `no user "${id}"`);
    await precondition?.(user, repositories);
    return change(user, { ...repositories, transaction: (work) => work(repositories) });
  });
}
const usernamePattern = /^[^\s\p{Cc}]{1,100}$/u;
const emailPattern = /^[^\s@]+@[^\s@]+$/;

/** What an operator gives for a new user (the password separately). */
export interface NewUserInput {
  username?: unknown;
  email?: unknown;
  name?: unknown;
  roles?: unknown;
}

/** Every problem with a new user's fields, by field; empty when it can be created. */
export function newUserProblems(input: NewUserInput): InputProblem[] {
  const problems: InputProblem[] = [];
  const { username, email, name, roles } = input;
  if (username === undefined) problems.push({ field: 'username', message: 'is required' });
  else if (typeof username !== 'string' || !usernamePattern.test(username))
    problems.push({
      field: 'username',
      message: 'must be 1-100 characters without spaces or control characters',
    });
  if (email !== undefined && (typeof email !== 'string' || !emailPattern.test(email)))
    problems.push({ field: 'email', message: `"${String(email)}" is not an email address` });
  if (name !== undefined && (typeof name !== 'string' || name.trim() === ''))
    problems.push({ field: 'name', message: 'must not be empty' });
  if (roles !== undefined) {
    if (!Array.isArray(roles) || roles.some((role) => typeof role !== 'string' || role.trim() === ''))
      problems.push({ field: 'role', message: 'must not be empty' });
  }
  return problems;
}

/** The password problem, by the same rule everywhere; undefined when it will do. */
export function passwordProblem(password: string): string | undefined {
  return [...password].length < minPasswordLength
    ? `the password needs at least ${minPasswordLength} characters`
    : undefined;
}

/** Refuses a change to users when accounts live in another store. */
export function requireBuiltinAccounts(config: GatehouseConfig): void {
  if (config.accounts.type !== 'builtin')
    throw new OAuthError(
      'conflict',
      `accounts come from ${config.accounts.type} (config accounts.type); change them in that table`,
    );
}

export function refuseTakenUsername(config: GatehouseConfig, username: string): void {
  if (config.users.some((user) => user.username === username))
    throw new OAuthError('conflict', `user "${username}" already exists (declared in the config file)`);
}

/**
 * Creates a user (the fields checked by newUserProblems first); `conflict` when the username is taken,
 * checked atomically by the store.
 */
export async function createUser(
  storage: Storage,
  config: GatehouseConfig,
  input: { username: string; email?: string | undefined; name?: string | undefined; roles: string[] },
  password: string,
  now: number,
): Promise<User> {
  const problem = passwordProblem(password);
  if (problem !== undefined)
    throw new OAuthError('invalid_request', problem, { details: [{ field: 'password', message: problem }] });
  const claims: Record<string, unknown> = {};
  if (input.name !== undefined) claims.name = input.name.trim();
  if (input.email !== undefined) Object.assign(claims, { email: input.email, email_verified: false });
  const user: User = {
    id: randomHandle(16),
    username: input.username,
    passwordHash: await new PasswordHasher(config.login.argon2).hash(password),
    claims,
    roles: [...new Set(input.roles)],
    disabledAt: null,
  };
  if (!(await storage.users.create(user, now)))
    throw new OAuthError('conflict', `user "${input.username}" already exists`);
  return user;
}

/** Sets a new password for the user `id` (an operator's reset); `not_found` when there is none. */
export async function resetPassword(
  storage: Storage,
  config: GatehouseConfig,
  id: string,
  password: string,
  now: number,
  precondition?: UserPrecondition,
): Promise<void> {
  const problem = passwordProblem(password);
  if (problem !== undefined)
    throw new OAuthError('invalid_request', problem, { details: [{ field: 'password', message: problem }] });
  // Hashed before the transaction: argon2id takes long enough to hold other writers up.
  const hash = await new PasswordHasher(config.login.argon2).hash(password);
  await changeUser(storage, id, precondition, (_user, store) => store.users.setPasswordHash(id, hash, now));
}

/** A passkey or security key as operators see it (sessions/webauthn.ts): never its key. */
export interface PasskeyView {
  id: string;
  nickname: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Backup eligible: a passkey synced between devices rather than bound to one. */
  synced: boolean;
  transports: string[];
}

/** An account's second factors as operators see them (never a secret or a code). */
export interface FactorView {
  totp: boolean;
  recoveryCodes: number;
  passkeys: PasskeyView[];
}

const isoTime = (seconds: number) => new Date(seconds * 1000).toISOString();

export async function factorsOf(
  repositories: Pick<Repositories, 'mfa' | 'webauthn'>,
  userId: string,
): Promise<FactorView> {
  const [totp, recoveryCodes, credentials] = await Promise.all([
    repositories.mfa.findTotp(userId),
    repositories.mfa.unusedRecoveryCodes(userId),
    repositories.webauthn.listCredentials(userId),
  ]);
  return {
    totp: totp !== undefined && totp.confirmedAt !== null && totp.secret !== null,
    recoveryCodes,
    passkeys: credentials.map((credential) => ({
      id: credential.credentialId,
      nickname: credential.nickname,
      createdAt: isoTime(credential.createdAt),
      lastUsedAt: credential.lastUsedAt === null ? null : isoTime(credential.lastUsedAt),
      synced: credential.backupEligible,
      transports: credential.transports,
    })),
  };
}

/**
 * Removes every second factor of the user `id` (a lost authenticator): the TOTP authenticator, the
 * recovery codes and the passkeys; returns the user and how many passkeys were removed.
 */
export function resetFactors(
  storage: Storage,
  id: string,
  precondition?: UserPrecondition,
): Promise<{ user: User; passkeysRemoved: number }> {
  return changeUser(storage, id, precondition, async (user, store) => {
    await store.mfa.removeAll(user.id);
    return { user, passkeysRemoved: await store.webauthn.removeAll(user.id) };
  });
}

/** Removes one passkey of the user `id`; `not_found` when it has no such passkey. */
export function removePasskey(
  storage: Storage,
  id: string,
  credentialId: string,
  precondition?: UserPrecondition,
): Promise<User> {
  return changeUser(storage, id, precondition, async (user, store) => {
    if (!(await store.webauthn.removeCredential(user.id, credentialId)))
      throw new OAuthError('not_found', `user "${id}" has no passkey "${credentialId}"`);
    return user;
  });
}
