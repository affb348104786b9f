/**
 * Disabling, enabling and removing accounts of Gatehouse's own users table (`gatehouse user disable |
 * enable | remove`). Sign-in, browser sessions, code and refresh redemption and userinfo ask the account
 * store on every request, so each change counts from the next request on, on every node; what is written
 * here is what that check cannot undo by itself:
 *
 * - Disabling ends the account's login sessions, so re-enabling it does not bring an old browser session
 *   back (the user signs in again). Its grants are kept: while the account is disabled its refresh tokens
 *   are refused by the account check, and once it is enabled they work again, so a suspension does not
 *   sign the user out of every application. `revokeGrants` revokes them as well (a compromised account).
 * - Removing deletes the user with its consents and known browsers, ends its sessions and revokes its
 *   grants: nothing issued to it may outlive it, whatever account later takes its username (a new
 *   account gets a new subject in any case).
 *
 * Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0) are not sent from here: the CLI
 * runs without the server; clients learn of it when their refresh tokens or userinfo calls are refused.
 */
import type { User } from '../model.ts';
import type { Storage } from '../storage/ports.ts';

/** What the changes here use of the store (the admin API gives one bound to its transaction). */
type AccountsStore = Pick<Storage, 'users' | 'transaction'>;

export interface AccountChange {
  user: User;
  /** Login sessions that were live and are now ended. */
  sessionsEnded: number;
}

/**
 * Applies `change` to the account `username`; undefined when there is none. `change` answers how many
 * login sessions it ended.
 */
async function changeAccount(
  storage: AccountsStore,
  username: string,
  change: (user: User) => Promise<number>,
): Promise<AccountChange | undefined> {
  const user = await storage.users.findByUsername(username);
  if (user === undefined) return undefined;
  return { user, sessionsEnded: await change(user) };
}

/**
 * Disables the account `username` from `now`; undefined when there is none. An account already disabled
 * keeps its original time (and its sessions are ended again, in case one was started by a race).
 */
export function disableAccount(
  storage: AccountsStore,
  username: string,
  now: number,
  options: { revokeGrants?: boolean } = {},
): Promise<AccountChange | undefined> {
  return changeAccount(storage, username, (user) =>
    storage.transaction(async (repositories) => {
      await repositories.users.setDisabled(user.id, user.disabledAt ?? now, now);
      if (options.revokeGrants === true) await repositories.grants.revokeAllForUser(user.id, now);
      return repositories.sessions.endAllForUser(user.id, now);
    }),
  );
}

/** Enables the account `username` again; undefined when there is none. */
export function enableAccount(
  storage: AccountsStore,
  username: string,
  now: number,
): Promise<AccountChange | undefined> {
  return changeAccount(storage, username, async (user) => {
    await storage.users.setDisabled(user.id, null, now);
    return 0;
  });
}

/** Removes the account `username` (see the module comment); undefined when there is none. */
export function removeAccount(
  storage: AccountsStore,
  username: string,
  now: number,
): Promise<AccountChange | undefined> {
  return changeAccount(storage, username, (user) =>
    storage.transaction(async (repositories) => {
      await repositories.users.remove(user.id);
      await repositories.mfa.removeAll(user.id);
      await repositories.webauthn.removeAll(user.id);
      await repositories.grants.revokeAllForUser(user.id, now);
      return repositories.sessions.endAllForUser(user.id, now);
    }),
  );
}
