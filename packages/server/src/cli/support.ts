/**
 * Shared plumbing of the admin commands: one error type per exit code (1 for bad input, 2 for a bad config
 * or an unusable database), argument parsing that turns parseArgs failures into usage errors instead of
 * stack traces, and the store opened the same way the server opens it, so both see one database.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import { OAuthError } from '../protocol/errors.ts';
import { openStorage, storageLocation } from '../storage/index.ts';
import type { Storage } from '../storage/ports.ts';

/** Bad arguments or input: the command prints the message and exits 1. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** Extra lines printed after the message (e.g. every validation problem). */
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Said under every secret the CLI prints (client secrets, API resources' introspection secrets). */
export const secretNotice = 'Store it now: it cannot be shown again (only its SHA-256 hash is kept).';

/** How a command words the refusals of a shared operation: `heading` over the problems, each named by `optionOf`. */
export interface RefusalWording {
  heading: string;
  optionOf(path: readonly string[]): string;
}

/**
 * A shared operation's refusal (admin/*.ts) as the CLI says it: a problem with a field is named by the
 * option it came from; the description is the message.
 */
export function refusal(error: OAuthError, wording: RefusalWording): UsageError {
  if (error.details.length === 0) return new UsageError(error.description);
  return new UsageError(
    wording.heading,
    error.details.map((problem) => `${wording.optionOf(problem.field.split('.'))}: ${problem.message}`),
  );
}

/** Runs a shared operation (the admin API's), its refusals turned into usage errors (exit code 1). */
export function adminOperation<T>(wording: RefusalWording, operation: () => T): T {
  const rethrow = (error: unknown): never => {
    throw error instanceof OAuthError ? refusal(error, wording) : error;
  };
  try {
    const result = operation();
    return (result instanceof Promise ? result.catch(rethrow) : result) as T;
  } catch (error) {
    return rethrow(error);
  }
}

/** The options every admin command takes. */
const commonOptions = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
} as const;

type OptionsConfig = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

/**
 * Parses a command's arguments strictly: its own `options` and the common ones. A parse failure (unknown
 * option, missing value, a positional where none is allowed) is a usage error, not a stack trace.
 */
export function parseCommand<Options extends OptionsConfig, Positionals extends boolean>(
  args: string[],
  options: Options,
  allowPositionals: Positionals,
): ReturnType<
  typeof parseArgs<{
    args: string[];
    options: typeof commonOptions & Options;
    strict: true;
    allowPositionals: Positionals;
  }>
> {
  try {
    return parseArgs({ args, options: { ...commonOptions, ...options }, strict: true, allowPositionals });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((error as Error).message.split('. To specify a positional')[0]!);
    }
    throw error;
  }
}

/** Options of one type for `parseCommand`, one for each name (`--name VALUE` or the flag `--name`). */
export function optionsOf<Type extends 'string' | 'boolean', Name extends string>(
  type: Type,
  names: readonly Name[],
): Record<Name, { type: Type }> {
  return Object.fromEntries(names.map((name) => [name, { type }])) as Record<Name, { type: Type }>;
}

/** Repeatable string options for `parseCommand` (`--grant A --grant B`), one for each name. */
export function repeatableOptions<Name extends string>(
  names: readonly Name[],
): Record<Name, { type: 'string'; multiple: true }> {
  return Object.fromEntries(names.map((name) => [name, { type: 'string', multiple: true }])) as Record<
    Name,
    { type: 'string'; multiple: true }
  >;
}

/** One command of `gatehouse` with subcommands (`client`, `user`, ...): its `--help` text, and what runs one. */
export interface CommandGroup {
  usage: string;
  run(subcommand: string | undefined, args: string[]): Promise<number>;
}

/** Runs the subcommand named `subcommand` with `args`; a missing or unknown name is a usage error. */
export async function runSubcommand(
  subcommand: string | undefined,
  args: string[],
  subcommands: Readonly<Record<string, (args: string[]) => Promise<number>>>,
): Promise<number> {
  if (subcommand !== undefined && Object.hasOwn(subcommands, subcommand))
    return subcommands[subcommand]!(args);
  throw new UsageError(
    subcommand === undefined
      ? `a subcommand is required (${Object.keys(subcommands).join(', ')})`
      : `unknown subcommand "${subcommand}"`,
  );
}

/** True when the arguments ask for help anywhere (checked before the config is loaded). */
export function wantsHelp(args: readonly string[]): boolean {
  return args.some((arg) => arg === '--help' || arg === '-h');
}

export function loadConfig(file: string | undefined): GatehouseConfig {
  return loadConfigFile(file ?? 'gatehouse.yaml');
}

/**
 * Opens the configured store (migrating it, as `serve` does). An in-memory store is refused: changes
 * made there would vanish when the command exits.
 */
export async function openAdminStorage(config: GatehouseConfig): Promise<Storage> {
  if (config.storage.type === 'sqlite' && config.storage.path === ':memory:') {
    throw new ConfigError(
      'config storage.path is ":memory:"; admin commands need the database file the server uses',
    );
  }
  try {
    return await openStorage(config.storage);
  } catch (error) {
    throw new ConfigError(`cannot open the database ${describeStorage(config)}: ${(error as Error).message}`);
  }
}

/** Where the store is, for messages: the SQLite path, or the PostgreSQL host, database and schema. */
export function describeStorage(config: GatehouseConfig): string {
  const storage = config.storage;
  return storage.type === 'sqlite' ? `at ${storage.path}` : storageLocation(storage);
}

/** Opens the store, runs `work`, and always closes it. */
export async function withStorage<T>(
  config: GatehouseConfig,
  work: (storage: Storage) => Promise<T>,
): Promise<T> {
  const storage = await openAdminStorage(config);
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

export const systemNow = (): number => Math.floor(Date.now() / 1000);

const durationUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A duration option (`30m`, `24h`, `7d`, `90s`, or whole seconds) in seconds; anything else is a usage
 * error naming the option.
 */
export function parseDuration(value: string, option: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim());
  if (match === null)
    throw new UsageError(
      `${option} must be a duration such as 30m, 24h or 7d (s, m, h, d; a bare number is seconds), not "${value}"`,
    );
  return Number(match[1]) * durationUnits[match[2] || 's']!;
}

/** An epoch-seconds time as ISO 8601 UTC without milliseconds; '-' for none. */
export function formatTime(seconds: number | null): string {
  if (seconds === null) return '-';
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** Left-aligned columns separated by two spaces, with a header row. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** Prints listed records as JSON (`--json`), else `empty` when there are none, else as a table; exits 0. */
export function printList<T>(
  rows: readonly T[],
  json: boolean,
  empty: string,
  header: readonly string[],
  cells: (row: T) => readonly string[],
): number {
  if (json) print(JSON.stringify(rows, null, 2));
  else if (rows.length === 0) print(empty);
  else print(formatTable(header, rows.map(cells)));
  return 0;
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
