/**
 * The backend drivers (`pg` for PostgreSQL, `ioredis` for Redis) are optional peer dependencies: a
 * deployment installs the one it configures. Importing a missing one fails with a message that names the
 * package to install, instead of Node's module-resolution error.
 */
import { ConfigError } from '../config/load.ts';

/** Runs `load` (an import that needs the package `name`); `feature` says which setting needs it. */
export async function importOptionalPackage<T>(
  name: string,
  feature: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (code === 'ERR_MODULE_NOT_FOUND' && String(message).includes(`'${name}'`)) {
      throw new ConfigError(
        `${feature} needs the package ${name}, which is not installed: npm install ${name}`,
      );
    }
    throw error;
  }
}
