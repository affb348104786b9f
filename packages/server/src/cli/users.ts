/**
 * `gatehouse user add | disable | enable | remove | reset-factors`: Gatehouse's own users table. `add` creates a user with an
 * argon2id password hash (the config's login.argon2 parameters, the same hasher the login page verifies
 * with); the password is read from stdin, never taken as an argument, and an argument that looks like one
 * is refused without being echoed. `disable`, `enable` and `remove` are accounts/lifecycle.ts: they take
 * effect at every node's next request. `reset-factors` removes a user's second factors (TOTP, recovery
 * codes, passkeys) through the same operation as the admin API (admin/users.ts).
 */
import { disableAccount, enableAccount, removeAccount } from '../accounts/lifecycle.ts';
import { createUser, newUserProblems, refuseTakenUsername, resetFactors } from '../admin/users.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import { OAuthError } from '../protocol/errors.ts';
import { readNewPassword } from './password-input.ts';
import {
  type CommandGroup,
  loadConfig,
  parseCommand,
  print,
  runSubcommand,
  systemNow,
  UsageError,
  withStorage,
} from './support.ts';

const userUsage = `Usage: gatehouse user <add|disable|enable|remove|reset-factors> [options] [--config FILE]

  add --username NAME          create a user; the password is read from standard input
      --email EMAIL            email claim (email_verified is false)
      --name NAME              name claim (display name)
      --role ROLE              repeatable; released in the roles claim
      --json                   print the new user's id as JSON
  disable NAME [--json]        the user can no longer sign in, refresh or call userinfo; its browser
      --revoke-grants          sessions end; its refresh tokens work again once enabled, unless revoked
  enable NAME [--json]         the user may sign in again
  remove NAME [--json]         delete the user, its consents and sessions, and revoke its grants
  reset-factors NAME [--json]  remove the user's second factors (authenticator app, recovery codes,
                               passkeys and security keys), for a user who lost them

The password is never taken from the command line. At a terminal you are prompted (no echo, asked
twice); otherwise the first line of stdin is used, e.g.
  printf '%s\\n' "$PASSWORD" | gatehouse user add --username carol --config gatehouse.yaml
Passwords need at least 8 characters. Every change counts at every server's next request.
`;

const passwordFlag = /^-{1,2}(p|password|passwd|pass|pw|secret)(=|$)/i;

async function add(args: string[]): Promise<number> {
  if (args.some((arg) => passwordFlag.test(arg))) {
    throw new UsageError(
      'passwords are never accepted as arguments (they show up in ps and shell history); ' +
        'pipe the password on stdin or type it at the prompt',
    );
  }
  const { values, positionals } = parseCommand(
    args,
    {
      username: { type: 'string' },
      email: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string', multiple: true },
    },
    true,
  );
  if (positionals.length > 0) {
    // Not echoed: a stray positional is most likely a password typed on the command line.
    throw new UsageError(
      'user add takes no positional arguments; the password is read from stdin, never from arguments',
    );
  }
  const username = values.username;
  const roles = [...new Set(values.role ?? [])];
  // The same rules as the admin API (admin/users.ts), each said in the words of its option.
  const problems = newUserProblems({ username, email: values.email, name: values.name, roles });
  if (problems.length > 0)
    throw new UsageError(
      'cannot add the user:',
      problems.map((problem) => `--${problem.field} ${problem.message}`),
    );

  const config = builtinAccountsConfig(values.config);
  const created = await withStorage(config, async (storage) => {
    refuseTakenUsername(config, username!);
    // Checked before the password is asked for, and again (atomically) by createUser.
    if (await storage.users.findByUsername(username!))
      throw new OAuthError('conflict', `user "${username}" already exists`);
    const password = await readNewPassword();
    return createUser(
      storage,
      config,
      { username: username!, email: values.email, name: values.name, roles },
      password,
      systemNow(),
    );
  }).catch((error: unknown) => {
    throw error instanceof OAuthError ? new UsageError(error.description) : error;
  });
  if (values.json === true) print(JSON.stringify({ id: created.id, username: created.username }));
  else print(`Added user "${created.username}" (sub ${created.id}).`);
  return 0;
}

/** The config, when accounts live in Gatehouse's own table; the commands cannot change another store. */
function builtinAccountsConfig(file: string | undefined): GatehouseConfig {
  const config = loadConfig(file);
  if (config.accounts.type !== 'builtin') {
    throw new UsageError(
      `accounts come from ${config.accounts.type} (config accounts.type); change them in that table, not with gatehouse user`,
    );
  }
  return config;
}

/** The one username a lifecycle command names, and its options. */
function oneUsername(
  args: string[],
  command: string,
  options: { 'revoke-grants'?: { type: 'boolean' } } = {},
) {
  const { values, positionals } = parseCommand(args, options, true);
  if (positionals.length !== 1) {
    const extra = 'revoke-grants' in options ? ' [--revoke-grants]' : '';
    throw new UsageError(`usage: gatehouse user ${command} NAME${extra} [--json] [--config FILE]`);
  }
  return {
    username: positionals[0]!,
    config: builtinAccountsConfig(values.config),
    json: values.json === true,
    revokeGrants: (values as { 'revoke-grants'?: boolean })['revoke-grants'] === true,
  };
}

async function disable(args: string[]): Promise<number> {
  const { username, config, json, revokeGrants } = oneUsername(args, 'disable', {
    'revoke-grants': { type: 'boolean' },
  });
  const change = await withStorage(config, (storage) =>
    disableAccount(storage, username, systemNow(), { revokeGrants }),
  );
  if (change === undefined) throw new UsageError(`no user "${username}"`);
  if (json) {
    print(
      JSON.stringify({
        id: change.user.id,
        username,
        disabled: true,
        sessionsEnded: change.sessionsEnded,
        grantsRevoked: revokeGrants,
      }),
    );
  } else {
    print(
      `Disabled user "${username}"; ${change.sessionsEnded} session(s) ended` +
        (revokeGrants ? ', its grants and refresh tokens are revoked.' : '.'),
    );
  }
  return 0;
}

async function enable(args: string[]): Promise<number> {
  const { username, config, json } = oneUsername(args, 'enable');
  const change = await withStorage(config, (storage) => enableAccount(storage, username, systemNow()));
  if (change === undefined) throw new UsageError(`no user "${username}"`);
  if (json) print(JSON.stringify({ id: change.user.id, username, disabled: false }));
  else print(`Enabled user "${username}".`);
  return 0;
}

async function remove(args: string[]): Promise<number> {
  const { username, config, json } = oneUsername(args, 'remove');
  if (config.users.some((user) => user.username === username)) {
    throw new UsageError(
      `user "${username}" is declared in the config file; remove it from the file first ` +
        '(the server creates the users of the file on every start), or disable it',
    );
  }
  const change = await withStorage(config, (storage) => removeAccount(storage, username, systemNow()));
  if (change === undefined) throw new UsageError(`no user "${username}"`);
  if (json)
    print(
      JSON.stringify({ id: change.user.id, username, removed: true, sessionsEnded: change.sessionsEnded }),
    );
  else
    print(
      `Removed user "${username}"; ${change.sessionsEnded} session(s) ended, its grants and refresh tokens are revoked.`,
    );
  return 0;
}

async function resetFactorsCommand(args: string[]): Promise<number> {
  const { username, config, json } = oneUsername(args, 'reset-factors');
  const result = await withStorage(config, async (storage) => {
    const user = await storage.users.findByUsername(username);
    return user === undefined ? undefined : resetFactors(storage, user.id);
  });
  if (result === undefined) throw new UsageError(`no user "${username}"`);
  if (json) print(JSON.stringify({ id: result.user.id, username, passkeysRemoved: result.passkeysRemoved }));
  else
    print(
      `Removed the second factors of "${username}" (authenticator app, recovery codes and ${result.passkeysRemoved} passkey(s)).`,
    );
  return 0;
}

function userCommand(subcommand: string | undefined, args: string[]): Promise<number> {
  return runSubcommand(subcommand, args, {
    add,
    disable,
    enable,
    remove,
    'reset-factors': resetFactorsCommand,
  });
}

export const userGroup: CommandGroup = { usage: userUsage, run: userCommand };
