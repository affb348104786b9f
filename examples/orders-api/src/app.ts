/**
 * The seed's orders API, protected by @gatehouse/resource:
 *
 * | route                      | needs                                   |
 * | -------------------------- | --------------------------------------- |
 * | GET  /orders               | scope orders.read: the caller's orders  |
 * | POST /orders               | scope orders.write: create an order     |
 * | POST /orders/:id/cancel    | scope orders.cancel: cancel one's order |
 * |                            | (and, with `cancelAcr`, a second factor) |
 * | GET  /admin/orders         | scope orders.admin and role OrderAdmin  |
 * | GET  /healthz              | nothing                                 |
 *
 * Who the caller is comes only from the verified token (`sub`), never from headers or the body. With
 * `cancelAcr` (the demo sets Gatehouse's `urn:gatehouse:acr:mfa`), cancelling needs a token whose `acr` is
 * one of those values: otherwise 401 `insufficient_user_authentication` (RFC 9470) tells the client to sign
 * in again with the second factor.
 */
import { randomUUID } from 'node:crypto';
import type { Verifier, VerifierOptions } from '@gatehouse/resource';
import { protect, requireAcr, requireRoles, requireScopes } from '@gatehouse/resource/express';
import express, { type Express } from 'express';
import { corsForOrigins } from './cors.ts';

export interface Order {
  id: string;
  owner: string;
  item: string;
  quantity: number;
  status: 'open' | 'cancelled';
  createdAt: string;
}

export interface OrdersAppOptions {
  verifier: Verifier | VerifierOptions;
  /** Browser origins allowed by CORS (the registered clients' origins). */
  allowedOrigins: readonly string[];
  /** RFC 9470: the `acr` values that may cancel an order (step-up); unset: any. */
  cancelAcr?: readonly string[];
}

export function createOrdersApp(options: OrdersAppOptions): Express {
  const orders = new Map<string, Order>();
  const app = express();
  app.disable('x-powered-by');
  app.use(corsForOrigins(options.allowedOrigins));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(express.json({ limit: '16kb' }));
  app.use(protect(options.verifier));

  app.get('/orders', requireScopes('orders.read'), (req, res) => {
    const owner = req.auth!.subject;
    res.json({ orders: [...orders.values()].filter((order) => order.owner === owner) });
  });

  app.post('/orders', requireScopes('orders.write'), (req, res) => {
    const body = req.body as { item?: unknown; quantity?: unknown } | undefined;
    const item = body?.item;
    const quantity = body?.quantity ?? 1;
    if (typeof item !== 'string' || item === '' || item.length > 200) {
      res.status(400).json({ error: 'invalid_order', error_description: 'item must be a non-empty string' });
      return;
    }
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > 1000) {
      res.status(400).json({ error: 'invalid_order', error_description: 'quantity must be 1 to 1000' });
      return;
    }
    const order: Order = {
      id: randomUUID(),
      owner: req.auth!.subject ?? 'unknown',
      item,
      quantity,
      status: 'open',
      createdAt: new Date().toISOString(),
    };
    orders.set(order.id, order);
    res.status(201).location(`/orders/${order.id}`).json(order);
  });

  const cancelGuards = [requireScopes('orders.cancel')];
  if (options.cancelAcr !== undefined && options.cancelAcr.length > 0)
    cancelGuards.push(requireAcr(...options.cancelAcr));
  app.post('/orders/:id/cancel', ...cancelGuards, (req, res) => {
    const order = orders.get(String(req.params.id));
    // Someone else's order is as good as missing: no hint that it exists.
    if (order === undefined || order.owner !== req.auth!.subject) {
      res.status(404).json({ error: 'not_found' });
      return;
    }
    order.status = 'cancelled';
    res.json(order);
  });

  app.get('/admin/orders', requireScopes('orders.admin'), requireRoles('OrderAdmin'), (_req, res) => {
    res.json({ orders: [...orders.values()] });
  });

  return app;
}
