/**
 * Commands to the shared Redis (rate limits, the jti replay cache) fail fast while it is unreachable
 * (storage/redis.ts). Such a failure is answered 503 temporarily_unavailable: the stricter outcome
 * (refusing the request) rather than skipping a rate limit or a replay check, and never a 500.
 */
import { OAuthError } from './errors.ts';

/** Runs a Redis command, answering 503 temporarily_unavailable when Redis cannot be reached. */
export async function redisCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch {
    throw new OAuthError(
      'temporarily_unavailable',
      'the service is temporarily unavailable; try again later',
      {
        status: 503,
        retryAfter: 1,
      },
    );
  }
}
