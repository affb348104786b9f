/**
 * The operator's endpoints: liveness (/healthz), readiness (/readyz: every shared dependency answers) and
 * Prometheus metrics (/metrics, behind a bearer token when `metrics.bearerToken` is set).
 */

import { constantTimeEqual } from '@gatehouse/jose-rules';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../protocol/errors.ts';
import type { Metrics } from './metrics.ts';

export async function healthEndpoint() {
  return { status: 'ok' };
}

/** A failing check answers 503 temporarily_unavailable (database and Redis errors map to it). */
export function readinessEndpoint(checks: ReadonlyArray<() => Promise<unknown>>) {
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    for (const check of checks) await check();
    reply.send({ status: 'ready' });
  };
}

export function metricsEndpoint(metrics: Metrics, bearerToken: string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (
      bearerToken !== undefined &&
      !constantTimeEqual(request.headers.authorization ?? '', `Bearer ${bearerToken}`)
    ) {
      throw new OAuthError('invalid_token', 'a valid metrics token is required');
    }
    reply.type('text/plain; version=0.0.4').send(await metrics.render());
  };
}
