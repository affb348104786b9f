/**
 * The Redis connection shared by the rate limiter and the jti replay cache when several nodes run
 * (config `redis`). Connected at start-up, so a wrong URL stops the server with a message instead of
 * failing requests later. Commands fail fast while Redis is unreachable (no offline queue, one retry);
 * protocol/redis-call.ts answers such a failure 503 temporarily_unavailable.
 */
import type { Redis } from 'ioredis';
import { importOptionalPackage } from './optional-package.ts';

export async function connectRedis(url: string): Promise<Redis> {
  // Loaded only when Redis is configured, so single-node setups and the CLI start without it.
  const { Redis } = await importOptionalPackage('ioredis', 'redis', () => import('ioredis'));
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
  });
  // Connection errors are retried by ioredis and surface per command; an unhandled 'error' event would
  // otherwise end the process.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis: ${(error as Error).message}`);
  }
  return redis;
}
