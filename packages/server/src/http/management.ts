/**
 * The management listener: Prometheus /metrics and the /healthz and /readyz probes on a host and port of
 * their own (`management`, default 127.0.0.1:9464), so the issuer's public port never shows the metrics.
 * With `metrics.bearerToken` set, /metrics also requires `Authorization: Bearer <token>`.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type pino from 'pino';
import type { GatehouseConfig } from '../config/schema.ts';
import { noSchemaCompilers, responseHeaders } from './app.ts';
import { makeErrorHandler } from './error-handler.ts';
import type { Metrics } from './metrics.ts';
import { healthEndpoint, metricsEndpoint, readinessEndpoint } from './operations.ts';

export interface ManagementParts {
  logger: pino.Logger;
  metrics: Metrics;
  /** What /readyz runs: each throws (a 503 OAuthError) when a dependency does not answer. */
  readinessChecks: ReadonlyArray<() => Promise<unknown>>;
}

export function createManagementApp(config: GatehouseConfig, parts: ManagementParts): FastifyInstance {
  const app = Fastify({
    loggerInstance: parts.logger as FastifyBaseLogger,
    // Scrapes and probes every few seconds would drown the request log.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    exposeHeadRoutes: false,
    schemaController: noSchemaCompilers,
  }) as unknown as FastifyInstance;
  const rendering = {
    issuer: config.issuer,
    dpopAlgorithms: config.dpop.algorithms,
    responseHeaders: responseHeaders(config.issuer),
  };
  // Its routes are all JSON (metrics: a Bearer challenge), so a path names no other error format.
  app.setErrorHandler(makeErrorHandler(rendering, () => 'json'));
  app.get('/healthz', healthEndpoint);
  app.get('/readyz', readinessEndpoint(parts.readinessChecks));
  if (config.metrics.enabled) {
    app.get(
      '/metrics',
      { config: { errorFormat: 'bearer' } },
      metricsEndpoint(parts.metrics, config.metrics.bearerToken),
    );
  }
  return app;
}

const loopbackHosts = new Set(['127.0.0.1', '::1', 'localhost']);

/** True when the listener is reachable from other machines and /metrics is open to anyone who reaches it. */
export function managementIsExposed(config: GatehouseConfig): boolean {
  return (
    config.metrics.enabled &&
    config.metrics.bearerToken === undefined &&
    !loopbackHosts.has(config.management.host) &&
    !config.management.host.startsWith('127.')
  );
}
