/**
 * Loads the config file: YAML or JSON, `${VAR}` and `${VAR:-default}` replaced from the environment in
 * any string (the one way to keep secrets and the issuer URL out of the file), then validated by the schema.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type * as z from 'zod';
import { redirectUriProblem } from '../protocol/redirect-uri.ts';
import { configSchema, type GatehouseConfig } from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const placeholder = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{[^}]+\}$/.test(value);
    const replaced = value.replace(placeholder, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`config ${path || '(root)'}: environment variable ${name} is not set`);
    });
    // A value that is one placeholder takes the type its text has ("3000" is a number, "true" a boolean).
    if (whole && /^(\d+|true|false)$/.test(replaced))
      return replaced === 'true' ? true : replaced === 'false' ? false : Number(replaced);
    return replaced;
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, env, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        interpolate(item, env, path ? `${path}.${key}` : key),
      ]),
    );
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === 'number') return `${text}[${part}]`;
    return text ? `${text}.${String(part)}` : String(part);
  }, '');
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `config ${formatPath(issue.path) || '(root)'}: ${issue.message}`)
    .join('\n');
}

/**
 * `DATABASE_URL` (the variable hosting platforms set) selects PostgreSQL at that URL, whatever storage the
 * file names; the file's schema and pool settings still apply.
 */
function applyDatabaseUrl(config: unknown, env: NodeJS.ProcessEnv): unknown {
  const url = env.DATABASE_URL;
  if (url === undefined || url === '' || config === null || typeof config !== 'object') return config;
  const { storage } = config as { storage?: unknown };
  const {
    type: _type,
    path: _path,
    ...rest
  } = storage !== null && typeof storage === 'object' ? (storage as Record<string, unknown>) : {};
  return { ...config, storage: { ...rest, type: 'postgres', url } };
}

/** Validates an already-parsed config object (used by tests and by the file loader). */
export function parseConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
  baseDir = process.cwd(),
): GatehouseConfig {
  // Parsed once per process: zod's generated fast path would cost more to compile than it saves.
  const result = configSchema.safeParse(applyDatabaseUrl(interpolate(raw, env, ''), env), {
    jitless: true,
  });
  if (!result.success) throw new ConfigError(describeIssues(result.error));
  const config = result.data;
  config.clients.forEach((client, index) => {
    for (const [field, uris] of [
      ['redirectUris', client.redirectUris],
      ['postLogoutRedirectUris', client.postLogoutRedirectUris],
    ] as const) {
      uris.forEach((uri, uriIndex) => {
        const problem = redirectUriProblem(uri);
        if (problem !== undefined)
          throw new ConfigError(`config clients[${index}].${field}[${uriIndex}]: ${problem}`);
      });
    }
  });
  if (
    config.storage.type === 'sqlite' &&
    config.storage.path !== ':memory:' &&
    !isAbsolute(config.storage.path)
  ) {
    config.storage.path = resolve(baseDir, config.storage.path);
  }
  if (config.server.tls !== undefined) {
    config.server.tls.cert = resolve(baseDir, config.server.tls.cert);
    config.server.tls.key = resolve(baseDir, config.server.tls.key);
  }
  if (config.mtls.ca !== undefined) config.mtls.ca = resolve(baseDir, config.mtls.ca);
  for (const upstream of config.upstreams) {
    if (upstream.privateKeyJwt !== undefined)
      upstream.privateKeyJwt.keyFile = resolve(baseDir, upstream.privateKeyJwt.keyFile);
  }
  for (const field of ['logo', 'stylesheet'] as const) {
    const file = config.ui[field];
    if (file === undefined) continue;
    config.ui[field] = resolve(baseDir, file);
    checkUiFile(`ui.${field}`, config.ui[field]);
  }
  return config;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): GatehouseConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(
      `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  return parseConfig(raw, env, dirname(resolve(file)));
}

/** The largest logo or extra stylesheet served (they are held in memory). */
const maxUiFileBytes = 1024 * 1024;

/** A theme file must be there at start-up, a file, and small: else the field is named. */
function checkUiFile(field: string, file: string): void {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new ConfigError(`config ${field}: ${file} is not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(
      `config ${field}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  if (size > maxUiFileBytes) throw new ConfigError(`config ${field}: ${file} is larger than 1 MiB`);
}

/** Reads a theme file the config names (ui.logo, ui.stylesheet), failing with the config field in the message. */
export function readUiFile(field: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(
      `config ${field}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** Reads a file the config names (a certificate, a key), failing with the config field in the message. */
export function readConfiguredFile(field: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `config ${field}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
