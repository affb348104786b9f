/**
 * Errors that say the database cannot serve for now, not that the request was wrong: SQLite's lock still
 * held after the busy timeout, a full disk, a read-only or unwritable file (SQLITE_FULL, SQLITE_READONLY*,
 * SQLITE_IOERR*, SQLITE_CANTOPEN); PostgreSQL connection failures, shutdowns, insufficient resources (disk
 * full, out of memory, too many connections), a read-only transaction on a standby, serialization failures
 * and deadlocks (SQLSTATE classes 08, 53, 57P01-03, 25006, 40001, 40P01, 58030), and the pool's own
 * connection timeouts. The error handler answers them 503 temporarily_unavailable with Retry-After, and
 * /readyz reports not ready while they last.
 */
export function isTransientStorageError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN)(_|$)/.test(code)) return true;
    if (/^(08...|53...|57P0[1-3]|25006|40001|40P01|58030)$/.test(code)) return true;
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
