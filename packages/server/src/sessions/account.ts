/**
 * What a signed-in user may do to their own account (the account page, endpoints/account.ts): the
 * applications they consented to or hold grants for and revoking one (the consent is forgotten and every
 * grant of theirs to it revoked with its codes and refresh tokens, RFC 7009 §2.1's cascade, so its access
 * tokens fail at introspection and userinfo), their live sessions and ending them (sessions/logout.ts,
 * with back-channel logout: OpenID Connect Back-Channel Logout 1.0 §2.7), and changing the password with
 * the current one. The user is always the session's; ids from a form only pick among that user's own.
 */

import type { Account } from '../accounts/accounts.ts';
import { minPasswordLength, passwordProblem } from '../admin/users.ts';
import type { ServerContext } from '../context.ts';
import type { Grant, LoginSession } from '../model.ts';
import type { SignInFailure } from './login.ts';
import { checkPassword } from './login.ts';

const pageSize = 200;

/** Every active grant of a user, a page at a time. */
async function activeGrants(ctx: ServerContext, userId: string): Promise<Grant[]> {
  const grants: Grant[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await ctx.storage.grants.listActive({ userId }, { after, limit: pageSize });
    grants.push(...page);
    if (page.length < pageSize) return grants;
    after = page.at(-1)!.id;
  }
}

/** An application the user consented to or holds an active grant for. */
export interface ConnectedApplication {
  clientId: string;
  /** The client's name; its id when it no longer exists. */
  name: string;
  /** The scopes consented to and granted, in the order first seen. */
  scopes: string[];
  /** When the consent was last given, else when the oldest active grant was made (seconds). */
  since: number;
}

export async function connectedApplications(
  ctx: ServerContext,
  userId: string,
): Promise<ConnectedApplication[]> {
  const [consents, grants] = await Promise.all([
    ctx.storage.consents.listForUser(userId),
    activeGrants(ctx, userId),
  ]);
  const byClient = new Map<string, { scopes: Set<string>; since: number; consented: boolean }>();
  for (const consent of consents)
    byClient.set(consent.clientId, {
      scopes: new Set(consent.scopes),
      since: consent.updatedAt,
      consented: true,
    });
  for (const grant of grants) {
    const entry = byClient.get(grant.clientId) ?? {
      scopes: new Set(),
      since: grant.createdAt,
      consented: false,
    };
    for (const scope of grant.scopes) entry.scopes.add(scope);
    if (!entry.consented) entry.since = Math.min(entry.since, grant.createdAt);
    byClient.set(grant.clientId, entry);
  }
  const applications: ConnectedApplication[] = [];
  for (const [clientId, entry] of byClient) {
    const client = await ctx.findClient(clientId);
    applications.push({
      clientId,
      name: client?.name ?? clientId,
      scopes: [...entry.scopes],
      since: entry.since,
    });
  }
  return applications.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Revokes an application for the user: its consent is forgotten and each of the user's active grants to it
 * revoked, in one transaction. False when the user had neither (another user's client id changes nothing).
 */
export async function revokeApplication(
  ctx: ServerContext,
  userId: string,
  clientId: string,
): Promise<boolean> {
  const now = ctx.now();
  const outcome = await ctx.storage.transaction(async (repositories) => {
    const forgotten = await repositories.consents.remove(userId, clientId);
    let revoked = 0;
    for (;;) {
      const grants = await repositories.grants.listActive(
        { userId, clientId },
        { after: undefined, limit: pageSize },
      );
      for (const grant of grants) await repositories.grants.revoke(grant.id, now);
      revoked += grants.length;
      if (grants.length < pageSize) return { forgotten, revoked };
    }
  });
  if (!outcome.forgotten && outcome.revoked === 0) return false;
  ctx.audit('account_application_revoked', {
    user_id: userId,
    client_id: clientId,
    consent_removed: outcome.forgotten,
    revoked_grants: outcome.revoked,
  });
  return true;
}

/** A live session of the user, with the names of the applications signed in with it. */
export interface UserSession {
  session: LoginSession;
  applications: string[];
}

export async function liveSessions(ctx: ServerContext, userId: string): Promise<UserSession[]> {
  const sessions: LoginSession[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await ctx.storage.sessions.listLive({ userId }, ctx.now(), { after, limit: pageSize });
    sessions.push(...page);
    if (page.length < pageSize) break;
    after = page.at(-1)!.sid;
  }
  return Promise.all(
    sessions.map(async (session) => {
      const clientIds = new Set(
        (await ctx.storage.grants.listBySid(session.sid)).map((grant) => grant.clientId),
      );
      const names = await Promise.all(
        [...clientIds].map(async (id) => (await ctx.findClient(id))?.name ?? id),
      );
      return { session, applications: names.sort() };
    }),
  );
}

/**
 * Ends one of the user's live sessions (its short-lived grants revoked, back-channel logout tokens sent).
 * False when `sid` names no live session of this user: another user's session is never touched.
 */
export async function endUserSession(ctx: ServerContext, userId: string, sid: string): Promise<boolean> {
  const session = await ctx.storage.sessions.findLiveBySid(sid, ctx.now());
  if (session === undefined || session.userId !== userId) return false;
  ctx.audit('account_session_ended', { user_id: userId, sid });
  await ctx.logout.endSession(session, undefined, ctx.audit);
  return true;
}

/** Ends every live session of the user but `keepSid`; the number ended. */
export async function endOtherSessions(ctx: ServerContext, userId: string, keepSid: string): Promise<number> {
  let ended = 0;
  for (const { session } of await liveSessions(ctx, userId)) {
    if (session.sid === keepSid) continue;
    await ctx.logout.endSession(session, undefined, ctx.audit);
    ended++;
  }
  ctx.audit('account_other_sessions_ended', { user_id: userId, sid: keepSid, ended });
  return ended;
}

/** True when the account store can change passwords (Gatehouse's own users table, or a store that can). */
export function passwordChangeSupported(ctx: ServerContext): boolean {
  return ctx.accounts.setPassword !== undefined;
}

/** Why a password change was refused: a message key of the page catalogues, and the field it is about. */
export type PasswordChangeFailure =
  | { key: 'account.password.tooShort'; params: { min: number }; field: 'new_password' }
  | { key: 'account.password.mismatch'; field: 'confirm_password' }
  | { key: 'account.password.wrong'; field: 'current_password' }
  | { key: SignInFailure['key']; params?: { seconds: number }; field: undefined };

export type PasswordChange =
  | { ok: true }
  | { ok: false; error: PasswordChangeFailure; status: number; retryAfter?: number };

/**
 * Changes the password of `account` after checking the current one under the login failure counters
 * (sessions/login.ts: a wrong current password counts as a failed sign-in, and a locked account checks
 * nothing). The new password follows the same rule as everywhere (admin/users.ts).
 */
export async function changePassword(
  ctx: ServerContext,
  account: Account,
  entered: { current: string | undefined; next: string | undefined; confirmation: string | undefined },
  from: { address: string; browserValue: string | undefined },
): Promise<PasswordChange> {
  const next = entered.next ?? '';
  const problem = passwordProblem(next);
  if (problem !== undefined || next.length > 1024)
    return {
      ok: false,
      error: { key: 'account.password.tooShort', params: { min: minPasswordLength }, field: 'new_password' },
      status: 400,
    };
  if (next !== entered.confirmation)
    return { ok: false, error: { key: 'account.password.mismatch', field: 'confirm_password' }, status: 400 };
  const check = await checkPassword(ctx, {
    username: account.username,
    password: entered.current,
    clientId: undefined,
    browserValue: from.browserValue,
    address: from.address,
  });
  if ('error' in check) {
    if (check.error.key === 'login.invalid' || check.error.key === 'login.missing') {
      ctx.audit('account_password_change_failed', { user_id: account.subject });
      return { ok: false, error: { key: 'account.password.wrong', field: 'current_password' }, status: 401 };
    }
    return {
      ok: false,
      error: { ...check.error, field: undefined },
      status: check.status,
      ...('retryAfter' in check ? { retryAfter: check.retryAfter } : {}),
    };
  }
  if (
    check.user.subject !== account.subject ||
    !(await ctx.accounts.setPassword?.(account.subject, next, ctx.now()))
  )
    return { ok: false, error: { key: 'account.password.wrong', field: 'current_password' }, status: 401 };
  ctx.audit('account_password_changed', { user_id: account.subject });
  return { ok: true };
}
