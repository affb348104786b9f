/**
 * Audit events: one structured log record per security-relevant event, with a stable `audit` name
 * (login_succeeded, login_failed, consent_granted, consent_denied, token_issued, refresh_token_reused,
 * authorization_code_reused, token_revoked, client_authentication_failed, logout, device_approved, ...).
 * Fields are ids and outcomes only: never secrets, passwords, codes or tokens. Events carry the request
 * id of the request they happened in, found through AsyncLocalStorage so protocol code needs no logger.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyBaseLogger } from 'fastify';

export type AuditFields = Record<string, string | number | boolean | undefined | null>;

const requestLogger = new AsyncLocalStorage<FastifyBaseLogger>();

/** Runs the rest of a request with its logger available to `audit`. */
export function withRequestLogger(log: FastifyBaseLogger, next: () => void): void {
  requestLogger.run(log, next);
}

export function createAudit(base: FastifyBaseLogger) {
  return function audit(event: string, fields: AuditFields = {}): void {
    (requestLogger.getStore() ?? base).info({ audit: event, ...fields }, `audit ${event}`);
  };
}

export type Audit = ReturnType<typeof createAudit>;
