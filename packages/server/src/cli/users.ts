/**
 * `gatehouse user add`: creates a user with an argon2id password hash (the config's login.argon2
 * parameters, the same hasher the login page verifies with). The password is read from stdin, never
 * taken as an argument, and an argument that looks like one is refused without being echoed.
 */
import { PasswordHasher } from '../protocol/passwords.ts';
import { randomHandle } from '../protocol/secrets.ts';
import { readNewPassword } from './password-input.ts';
import {
  loadConfig,
  parseCommand,
  print,
  runSubcommand,
  systemNow,
  UsageError,
  withStorage,
} from './support.ts';

export const userUsage = `Usage: gatehouse user add --username NAME [options] [--config FILE]

  add --username NAME          create a user; the password is read from standard input
      --email EMAIL            email claim (email_verified is false)
      --name NAME              name claim (display name)
      --role ROLE              repeatable; released in the roles claim
      --json                   print the new user's id as JSON

The password is never taken from the command line. At a terminal you are prompted (no echo, asked
twice); otherwise the first line of stdin is used, e.g.
  printf '%s\\n' "$PASSWORD" | gatehouse user add --username carol --config gatehouse.yaml
Passwords need at least 8 characters.
`;

const minPasswordLength = 8;
const usernamePattern = /^[^\s\p{Cc}]{1,100}$/u;
const emailPattern = /^[^\s@]+@[^\s@]+$/;
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
  const problems: string[] = [];
  const username = values.username;
  if (username === undefined) problems.push('--username is required');
  else if (!usernamePattern.test(username))
    problems.push('--username must be 1-100 characters without spaces or control characters');
  if (values.email !== undefined && !emailPattern.test(values.email))
    problems.push(`--email "${values.email}" is not an email address`);
  if (values.name !== undefined && values.name.trim() === '') problems.push('--name must not be empty');
  const roles = [...new Set(values.role ?? [])];
  if (roles.some((role) => role.trim() === '')) problems.push('--role must not be empty');
  if (problems.length > 0) throw new UsageError('cannot add the user:', problems);

  const config = loadConfig(values.config);
  if (config.users.some((user) => user.username === username))
    throw new UsageError(`user "${username}" already exists (declared in the config file)`);

  const created = await withStorage(config, async (storage) => {
    // Checked before the password is asked for, and again (atomically) by create().
    if (await storage.users.findByUsername(username!))
      throw new UsageError(`user "${username}" already exists`);
    const password = await readNewPassword();
    if ([...password].length < minPasswordLength)
      throw new UsageError(`the password needs at least ${minPasswordLength} characters`);
    const claims: Record<string, unknown> = {};
    if (values.name !== undefined) claims.name = values.name.trim();
    if (values.email !== undefined) Object.assign(claims, { email: values.email, email_verified: false });
    const user = {
      id: randomHandle(16),
      username: username!,
      passwordHash: await new PasswordHasher(config.login.argon2).hash(password),
      claims,
      roles,
      disabledAt: null,
    };
    if (!(await storage.users.create(user, systemNow())))
      throw new UsageError(`user "${username}" already exists`);
    return user;
  });
  if (values.json === true) print(JSON.stringify({ id: created.id, username: created.username }));
  else print(`Added user "${created.username}" (sub ${created.id}).`);
  return 0;
}

export function userCommand(subcommand: string | undefined, args: string[]): Promise<number> {
  return runSubcommand(subcommand, args, { add });
}
