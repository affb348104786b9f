/**
 * Audit events (the `Audit` of context.ts): one structured log record per security-relevant event, with a
 * stable `audit` name and the fields its call site chose. Events carry the request id of the request they
 * happened in, found through AsyncLocalStorage so protocol code needs no logger.
 *
 * Records are written by the fixed-shape logger (http/logging.ts): the fields are flat scalars chosen at
 * each call site, which the redaction paths (nested objects, headers) could never match anyway.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import type { Audit, AuditFields } from '../context.ts';

const requestIds = new AsyncLocalStorage<string>();

/** Runs the rest of a request with its id available to `audit`. */
export function withRequestId(requestId: string, next: () => void): void {
  requestIds.run(requestId, next);
}

export function createAudit(records: Logger): Audit {
  return function audit(event: string, fields: AuditFields = {}): void {
    const requestId = requestIds.getStore();
    records.info(
      requestId === undefined
        ? { audit: event, ...fields }
        : { request_id: requestId, audit: event, ...fields },
      `audit ${event}`,
    );
  };
}
