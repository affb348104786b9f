/**
 * The `gatehouse` command line: serve | migrate | client | user | scope | api | keys.
 * Every command takes `--config FILE` (default: ./gatehouse.yaml). Secrets are printed once, never logged;
 * passwords are read from standard input, never from arguments (which other users can read in `ps`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import { type GatehouseConfig, type LogFormat, logFormats } from '../config/schema.ts';
import { bannerLines } from './banner.ts';
import { describeStorage } from './support.ts';

const usage = `Usage: gatehouse <command> [options]

Commands:
  serve   --config FILE [--show-demo-credentials] [--log-format json|pretty|auto]
                                                    run the authorization server
  migrate --config FILE                             apply database migrations
  client  add|list|remove|rotate-secret ...         manage clients (gatehouse client --help)
  user    add|disable|enable|remove ...             manage users (gatehouse user --help)
  scope   add|list|remove ...                       manage API scopes (gatehouse scope --help)
  api     add|list|remove ...                       manage API resources (gatehouse api --help)
  keys    rotate|list ...                           manage signing keys (gatehouse keys --help)
  --version                                         print the version
`;

/** The package's version, from its package.json (two levels up from src/cli/ and from dist/cli/). */
function version(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export function configFrom(args: string[]): { config: GatehouseConfig; rest: string[] } {
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' } },
    strict: false,
    allowPositionals: true,
  });
  const file = typeof values.config === 'string' ? values.config : 'gatehouse.yaml';
  const rest = args.filter(
    (arg, index) =>
      arg !== '--config' &&
      arg !== '-c' &&
      args[index - 1] !== '--config' &&
      args[index - 1] !== '-c' &&
      !arg.startsWith('--config='),
  );
  void positionals;
  return { config: loadConfigFile(file), rest };
}

/** `--log-format json|pretty|auto` overrides the file's `logging.format`. */
function withLogFormat(config: GatehouseConfig, args: string[]): GatehouseConfig {
  const { values } = parseArgs({
    args,
    options: { 'log-format': { type: 'string' } },
    strict: false,
    allowPositionals: true,
  });
  const format = values['log-format'];
  if (format === undefined) return config;
  if (typeof format !== 'string' || !(logFormats as readonly string[]).includes(format)) {
    throw new ConfigError(`--log-format must be one of ${logFormats.join(', ')}`);
  }
  return { ...config, logging: { ...config.logging, format: format as LogFormat } };
}

async function serve(args: string[]): Promise<void> {
  const config = withLogFormat(configFrom(args).config, args);
  // Each command loads only the modules it runs: the HTTP stack is for `serve` alone.
  const { buildServer } = await import('../server.ts');
  // Listening starts before the config users' hashes are stored: sign-ins and /readyz wait for them.
  const server = await buildServer(config, { seedUsersInBackground: true });
  const address = await server.listen();
  const lines = bannerLines(
    config,
    { issuerListener: address, management: server.management?.listeningOrigin },
    args.includes('--show-demo-credentials'),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    server.app.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  server.ready.catch((error: unknown) => {
    server.app.log.fatal({ err: error }, 'could not store the users of the config file');
    process.exitCode = 1;
    shutdown('startup failure');
  });
}

async function migrate(args: string[]): Promise<void> {
  const { config } = configFrom(args);
  const { openStorage } = await import('../storage/index.ts');
  const storage = await openStorage(config.storage);
  await storage.close();
  process.stdout.write(`Database ${describeStorage(config)} is up to date.\n`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'serve':
        await serve(args);
        return -1;
      case 'migrate':
        await migrate(args);
        return 0;
      case 'client':
      case 'user':
      case 'scope':
      case 'api':
      case 'keys':
        return await (await import('./admin.ts')).adminCommands(command, args);
      case '--version':
      case '-v':
        process.stdout.write(`${version()}\n`);
        return 0;
      case undefined:
      case '--help':
      case 'help':
        process.stdout.write(usage);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`gatehouse: unknown command "${command}"\n${usage}`);
        return 1;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`gatehouse: ${(error as Error).message}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
