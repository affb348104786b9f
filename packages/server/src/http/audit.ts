/**
 * Audit events (the `Audit` of context.ts): one structured log record per security-relevant event, with a
 * stable `audit` name, the fields its call site chose and, for the audit of a request's context, the
 * request's id.
 *
 * Records are written by the fixed-shape logger (http/logging.ts): the fields are flat scalars chosen at
 * each call site, which the redaction paths (nested objects, headers) could never match anyway.
 */
import type { Logger } from 'pino';
import type { Audit, AuditFields } from '../context.ts';

export function createAudit(records: Logger, requestId?: string): Audit {
  if (requestId === undefined)
    return (event: string, fields: AuditFields = {}) =>
      records.info({ audit: event, ...fields }, `audit ${event}`);
  return (event: string, fields: AuditFields = {}) =>
    records.info({ request_id: requestId, audit: event, ...fields }, `audit ${event}`);
}
