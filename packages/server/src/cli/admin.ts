/**
 * Admin commands (`gatehouse client|user|keys ...`), run against the database the server uses so a
 * running server sees the change without a restart. Exit codes: 0 done, 1 bad arguments or input,
 * 2 bad config file or unusable database. Bad input is answered with a message, never a stack trace;
 * secrets are printed once on stdout and never written anywhere else.
 */
import { ConfigError } from '../config/load.ts';
import { clientCommand, clientUsage } from './clients.ts';
import { keysCommand, keysUsage } from './keys.ts';
import { UsageError, wantsHelp } from './support.ts';
import { userCommand, userUsage } from './users.ts';

const groups = {
  client: { usage: clientUsage, run: clientCommand },
  user: { usage: userUsage, run: userCommand },
  keys: { usage: keysUsage, run: keysCommand },
} as const;

/** The first bare word is the subcommand, wherever `--config FILE` was put. */
function splitSubcommand(args: string[]): { subcommand: string | undefined; rest: string[] } {
  const index = args.findIndex(
    (arg, at) => !arg.startsWith('-') && args[at - 1] !== '--config' && args[at - 1] !== '-c',
  );
  if (index < 0) return { subcommand: undefined, rest: args };
  return { subcommand: args[index], rest: [...args.slice(0, index), ...args.slice(index + 1)] };
}

export async function adminCommands(command: string, args: string[]): Promise<number> {
  const group = Object.hasOwn(groups, command) ? groups[command as keyof typeof groups] : undefined;
  if (group === undefined) {
    process.stderr.write(`gatehouse: unknown command "${command}"\n`);
    return 1;
  }
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
