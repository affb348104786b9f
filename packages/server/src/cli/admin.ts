/**
 * Admin commands (`gatehouse client|user|scope|api|keys ...`), run against the database the server uses so a
 * running server sees the change without a restart. Exit codes: 0 done, 1 bad arguments or input,
 * 2 bad config file or unusable database. Bad input is answered with a message, never a stack trace;
 * secrets are printed once on stdout and never written anywhere else.
 */
import { ConfigError } from '../config/load.ts';
import { UsageError, wantsHelp } from './support.ts';

interface Group {
  usage: string;
  run(subcommand: string | undefined, args: string[]): Promise<number>;
}

/** Each group is loaded when it runs (a client command never loads the password hasher). */
const groups: Readonly<Record<string, () => Promise<Group>>> = {
  client: async () => {
    const { clientCommand, clientUsage } = await import('./clients.ts');
    return { usage: clientUsage, run: clientCommand };
  },
  user: async () => {
    const { userCommand, userUsage } = await import('./users.ts');
    return { usage: userUsage, run: userCommand };
  },
  scope: async () => {
    const { scopeCommand, scopeUsage } = await import('./catalog.ts');
    return { usage: scopeUsage, run: scopeCommand };
  },
  api: async () => {
    const { apiCommand, apiUsage } = await import('./catalog.ts');
    return { usage: apiUsage, run: apiCommand };
  },
  keys: async () => {
    const { keysCommand, keysUsage } = await import('./keys.ts');
    return { usage: keysUsage, run: keysCommand };
  },
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
