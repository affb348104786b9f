/**
 * Admin commands (`gatehouse client|user|scope|api|keys ...`), run against the database the server uses so a
 * running server sees the change without a restart. Exit codes: 0 done, 1 bad arguments or input,
 * 2 bad config file or unusable database. Bad input is answered with a message, never a stack trace;
 * secrets are printed once on stdout and never written anywhere else.
 */
import { ConfigError } from '../config/load.ts';
import { type CommandGroup, UsageError, wantsHelp } from './support.ts';

/** Each group is loaded when it runs (a client command never loads the password hasher). */
const groups: Readonly<Record<string, () => Promise<CommandGroup>>> = {
  client: async () => (await import('./clients.ts')).clientGroup,
  user: async () => (await import('./users.ts')).userGroup,
  scope: async () => (await import('./catalog.ts')).scopeGroup,
  api: async () => (await import('./catalog.ts')).apiGroup,
  keys: async () => (await import('./keys.ts')).keysGroup,
};

/** The first bare word is the subcommand, wherever `--config FILE` was put. */
function splitSubcommand(args: string[]): { subcommand: string | undefined; rest: string[] } {
  const index = args.findIndex(
    (arg, at) => !arg.startsWith('-') && args[at - 1] !== '--config' && args[at - 1] !== '-c',
  );
  if (index < 0) return { subcommand: undefined, rest: args };
  return { subcommand: args[index], rest: [...args.slice(0, index), ...args.slice(index + 1)] };
}

export async function adminCommands(command: string, args: string[]): Promise<number> {
  const load = Object.hasOwn(groups, command) ? groups[command] : undefined;
  if (load === undefined) {
    process.stderr.write(`gatehouse: unknown command "${command}"\n`);
    return 1;
  }
  const group = await load();
  const { subcommand, rest } = splitSubcommand(args);
  if (subcommand === 'help' || wantsHelp(args)) {
    process.stdout.write(group.usage);
    return 0;
  }
  try {
    return await group.run(subcommand, rest);
  } catch (error) {
    if (error instanceof UsageError) {
      const details = error.details.map((line) => `  - ${line}\n`).join('');
      process.stderr.write(`gatehouse ${command}: ${error.message}\n${details}`);
      process.stderr.write(`Run "gatehouse ${command} --help" for usage.\n`);
      return 1;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
