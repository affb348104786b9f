/**
 * The worker: one OAuth client (client_secret_basic), one token manager that caches the
 * client-credentials token and renews it ahead of expiry, and a fetch that attaches it and retries once
 * on 401 invalid_token. The worker itself only says what to call.
 */
import { authenticatedFetch, OAuthClient, TokenManager } from '@gatehouse/client';
import type { WorkerSettings } from './settings.ts';

export interface OrdersWorker {
  /** GET /orders on the orders API; resolves with the parsed JSON body. */
  listOrders(signal?: AbortSignal): Promise<unknown>;
}

export function createOrdersWorker(settings: WorkerSettings, tokens?: TokenManager): OrdersWorker {
  const manager =
    tokens ??
    new TokenManager(
      new OAuthClient({
        issuer: settings.issuer,
        clientId: settings.clientId,
        clientAuthentication: { method: 'client_secret_basic', clientSecret: settings.clientSecret },
      }),
    );
  const api = authenticatedFetch(
    manager.clientCredentials(
      settings.ordersResource === undefined
        ? { scope: settings.scope }
        : { scope: settings.scope, resource: settings.ordersResource },
    ),
  );
  return {
    async listOrders(signal) {
      const response = await api(new URL('/orders', settings.ordersApiUrl), signal ? { signal } : {});
      if (!response.ok) {
        throw new Error(`orders API answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
      }
      return response.json();
    },
  };
}
