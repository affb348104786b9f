/** The worker's settings, from the environment, with the demo's values as defaults. */
export interface WorkerSettings {
  /** The Gatehouse issuer. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Base URL of the orders API. */
  ordersApiUrl: string;
  /** RFC 8707 resource indicator of the orders API (selects the token's audience); none when undefined. */
  ordersResource: string | undefined;
  scope: string;
  /** Seconds between two calls. */
  interval: number;
}

export function settingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const ordersApiUrl = env.ORDERS_API_URL ?? 'http://localhost:4000';
  const interval = Number(env.WORKER_INTERVAL ?? '10');
  if (!Number.isFinite(interval) || interval <= 0)
    throw new Error('WORKER_INTERVAL must be a positive number');
  return {
    issuer: env.GATEHOUSE_ISSUER ?? 'http://localhost:3000',
    clientId: env.WORKER_CLIENT_ID ?? 'service-a',
    clientSecret: env.WORKER_CLIENT_SECRET ?? 'service-a-demo-secret-change-me-0123456789',
    ordersApiUrl,
    ordersResource: env.ORDERS_RESOURCE === '' ? undefined : (env.ORDERS_RESOURCE ?? ordersApiUrl),
    scope: env.WORKER_SCOPE ?? 'orders.read',
    interval,
  };
}
