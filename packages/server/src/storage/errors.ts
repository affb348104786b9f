/**
 * Errors that say the database is unreachable or busy for now, not that the request was wrong: SQLite's lock
 * still held after the busy timeout, PostgreSQL connection failures, shutdowns, too many connections,
 * serialization failures and deadlocks (SQLSTATE classes 08, 57P, 53300, 40001, 40P01), and the pool's own
 * connection timeouts. The error handler answers them 503 temporarily_unavailable with Retry-After.
 */
export function isTransientStorageError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') return true;
    if (/^(08...|57P0[1-3]|53300|40001|40P01)$/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'].includes(code)) return true;
  }
  const message = (error as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /^(timeout exceeded when trying to connect|Connection terminated( unexpectedly)?|Client has encountered a connection error)/.test(
      message,
    )
  );
}
