/**
 * Prometheus metrics at /metrics: requests by route and status, latency histograms by route, tokens
 * issued by grant type, and the Node.js process metrics. Each server has its own registry, so several
 * servers in one process (tests) do not share counters. Routes are labelled by their pattern
 * (`/interaction/:id`), never by the raw URL, so label cardinality stays bounded. With `metrics.enabled`
 * off nothing is served and nothing is counted.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Token responses issued by grant type',
    labelNames: ['grant_type'] as const,
    registers: [this.registry],
  });

  constructor(private readonly enabled: boolean) {
    if (enabled) collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }

  requestCompleted(route: string, method: string, status: number, milliseconds: number): void {
    if (!this.enabled) return;
    this.requests.inc({ route, method, status });
    this.latency.observe({ route }, milliseconds / 1000);
  }

  tokenIssued(grantType: string): void {
    if (!this.enabled) return;
    this.tokens.inc({ grant_type: grantType });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
