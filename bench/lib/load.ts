/**
 * The load driver: autocannon on loopback with a fixed number of keep-alive connections for a fixed
 * duration. A scenario is a request sequence whose response callbacks tally completed operations (a
 * token issued, a flow finished, a login accepted) and every unexpected answer by reason, so the rate
 * counts only work that succeeded and a broken server cannot look fast.
 */
import autocannon, { type AutocannonRequest } from 'autocannon';

export class Tally {
  ok = 0;
  readonly failures = new Map<string, number>();

  fail(reason: string): void {
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  reset(): void {
    this.ok = 0;
    this.failures.clear();
  }

  get failed(): number {
    let total = 0;
    for (const count of this.failures.values()) total += count;
    return total;
  }
}

export interface LoadSpec {
  baseUrl: string;
  connections: number;
  /** Seconds. */
  duration: number;
  requests: AutocannonRequest[];
  tally: Tally;
  /** Seconds before a request counts as timed out. */
  timeout: number;
}

export interface LoadResult {
  /** Completed operations per second (only successful ones). */
  rate: number;
  ok: number;
  seconds: number;
  requests: number;
  /** Unexpected answers counted by the scenario, plus socket errors and timeouts. */
  errors: number;
  failures: Map<string, number>;
  latencyP50: number;
  latencyP99: number;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  spec.tally.reset();
  const result = await autocannon({
    url: spec.baseUrl,
    connections: spec.connections,
    duration: spec.duration,
    timeout: spec.timeout,
    requests: spec.requests,
  });
  const failures = new Map(spec.tally.failures);
  if (result.errors > 0) failures.set('socket errors', result.errors - result.timeouts);
  if (result.timeouts > 0) failures.set('timeouts', result.timeouts);
  for (const [reason, count] of failures) if (count <= 0) failures.delete(reason);
  let errors = 0;
  for (const count of failures.values()) errors += count;
  const seconds = result.duration > 0 ? result.duration : spec.duration;
  return {
    rate: spec.tally.ok / seconds,
    ok: spec.tally.ok,
    seconds,
    requests: result.requests.total,
    errors,
    failures,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
  };
}
