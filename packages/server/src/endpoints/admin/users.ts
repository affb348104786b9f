/**
 * `/admin/v1/users`: Gatehouse's own users, with the operations the CLI runs: create (admin/users.ts),
 * disable, enable and remove (accounts/lifecycle.ts: every node counts the change from its next request),
 * a password reset, and removing the second factors of a user who lost them (TOTP, recovery codes and
 * passkeys, or one passkey). Password hashes are never shown; a user's tag changes with its password.
 * Each change checks If-Match inside its own transaction (admin/users.ts changeUser).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { disableAccount, enableAccount, removeAccount } from '../../accounts/lifecycle.ts';
import {
  changeUser,
  createUser,
  type FactorView,
  factorsOf,
  newUserProblems,
  refuseTakenUsername,
  removePasskey,
  requireBuiltinAccounts,
  resetFactors,
  resetPassword,
} from '../../admin/users.ts';
import type { ServerContext } from '../../context.ts';
import type { User } from '../../model.ts';
import { OAuthError } from '../../protocol/errors.ts';
import type { Repositories } from '../../storage/ports.ts';
import {
  authenticateOperator,
  disableOptions,
  entityTag,
  ifMatchOf,
  invalidInput,
  jsonFields,
  parameter,
  sendJson,
  sendListPage,
} from './support.ts';

export function userView(user: User, factors: FactorView): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    claims: user.claims,
    roles: user.roles,
    disabledAt: user.disabledAt === null ? null : new Date(user.disabledAt * 1000).toISOString(),
    factors,
  };
}

/** The user's tag: its view and its password hash (a reset changes the user, not its view). */
export function userTag(user: User, factors: FactorView): string {
  return entityTag(userView(user, factors), user.passwordHash);
}

function passwordOf(body: Record<string, unknown>): string {
  if (typeof body.password !== 'string')
    throw invalidInput([{ field: 'password', message: 'is required (a string)' }]);
  return body.password;
}

export function adminUserEndpoints(ctx: ServerContext) {
  /** The operator's If-Match, checked against the stored user inside the change's transaction. */
  const precondition = (request: FastifyRequest) =>
    ifMatchOf(request, async (user: User, repositories: Repositories) =>
      userTag(user, await factorsOf(repositories, user.id)),
    );
  /** Runs `change` on the user of the path once the operator's If-Match matched it (admin/users.ts). */
  const changeTarget = <T>(request: FastifyRequest, change: Parameters<typeof changeUser<T>>[3]) =>
    changeUser(ctx.storage, parameter(request, 'id'), precondition(request), change);
  /** Reads the user again after a change, for the answer and its new tag. */
  const answerUser = async (reply: FastifyReply, id: string) => {
    const user = await ctx.storage.users.findById(id);
    if (user === undefined) throw new OAuthError('not_found', `no user "${id}"`);
    const factors = await factorsOf(ctx.storage, user.id);
    sendJson(reply, 200, userView(user, factors), userTag(user, factors));
  };
  return {
    list: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const users = await ctx.storage.users.list();
      const view = async (user: User) => userView(user, await factorsOf(ctx.storage, user.id));
      await sendListPage(request, reply, users, (user) => user.id, view);
    },

    read: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      await answerUser(reply, parameter(request, 'id'));
    },

    create: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      requireBuiltinAccounts(ctx.config);
      const body = jsonFields(request, ['username', 'password', 'email', 'name', 'roles']);
      const problems = newUserProblems(body);
      if (typeof body.password !== 'string')
        problems.push({ field: 'password', message: 'is required (a string)' });
      if (problems.length > 0) throw invalidInput(problems);
      const username = body.username as string;
      refuseTakenUsername(ctx.config, username);
      const user = await createUser(
        ctx.storage,
        ctx.config,
        {
          username,
          email: body.email as string | undefined,
          name: body.name as string | undefined,
          roles: (body.roles as string[] | undefined) ?? [],
        },
        body.password as string,
        ctx.now(),
      );
      operator.audit('admin_user_created', { user_id: user.id });
      reply.header('location', `${ctx.issuer}/admin/v1/users/${encodeURIComponent(user.id)}`);
      const factors: FactorView = { totp: false, recoveryCodes: 0, passkeys: [] };
      sendJson(reply, 201, userView(user, factors), userTag(user, factors));
    },

    remove: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      requireBuiltinAccounts(ctx.config);
      const change = await changeTarget(request, async (user, store) => {
        if (ctx.config.users.some((declared) => declared.username === user.username))
          throw new OAuthError(
            'conflict',
            `user "${user.username}" is declared in the config file; remove it from the file first ` +
              '(the server creates the users of the file on every start), or disable it',
          );
        return removeAccount(store, user.username, ctx.now());
      });
      if (change === undefined) throw new OAuthError('not_found', `no user "${parameter(request, 'id')}"`);
      operator.audit('admin_user_removed', { user_id: change.user.id, sessions_ended: change.sessionsEnded });
      reply.code(204).headers({ 'cache-control': 'no-store' }).send();
    },

    disable: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      requireBuiltinAccounts(ctx.config);
      const { revokeGrants } = disableOptions(request, true);
      const change = await changeTarget(request, (user, store) =>
        disableAccount(store, user.username, ctx.now(), { revokeGrants }),
      );
      if (change === undefined) throw new OAuthError('not_found', `no user "${parameter(request, 'id')}"`);
      operator.audit('admin_user_disabled', {
        user_id: change.user.id,
        sessions_ended: change.sessionsEnded,
        grants_revoked: revokeGrants,
      });
      await answerUser(reply, change.user.id);
    },

    enable: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      requireBuiltinAccounts(ctx.config);
      const user = await changeTarget(request, async (user, store) => {
        await enableAccount(store, user.username, ctx.now());
        return user;
      });
      operator.audit('admin_user_enabled', { user_id: user.id });
      await answerUser(reply, user.id);
    },

    /** Removes the account's second factors (TOTP, recovery codes, passkeys): a lost authenticator. */
    removeFactors: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      requireBuiltinAccounts(ctx.config);
      const { user, passkeysRemoved } = await resetFactors(
        ctx.storage,
        parameter(request, 'id'),
        precondition(request),
      );
      operator.audit('admin_user_factors_removed', { user_id: user.id, passkeys_removed: passkeysRemoved });
      await answerUser(reply, user.id);
    },

    /** Removes one passkey or security key of the account (sessions/webauthn.ts). */
    removePasskey: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      requireBuiltinAccounts(ctx.config);
      const user = await removePasskey(
        ctx.storage,
        parameter(request, 'id'),
        parameter(request, 'credentialId'),
        precondition(request),
      );
      operator.audit('admin_user_passkey_removed', { user_id: user.id });
      await answerUser(reply, user.id);
    },

    resetPassword: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      requireBuiltinAccounts(ctx.config);
      const check = precondition(request);
      const id = parameter(request, 'id');
      const body = jsonFields(request, ['password']);
      await resetPassword(ctx.storage, ctx.config, id, passwordOf(body), ctx.now(), check);
      operator.audit('admin_user_password_reset', { user_id: id });
      await answerUser(reply, id);
    },
  };
}
