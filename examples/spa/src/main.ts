/**
 * `npm start -w @gatehouse/example-spa`: the whole demo in one process.
 * - the Gatehouse demo authorization server (packages/server/config/demo.yaml) on http://localhost:3000,
 *   whose `web-app` client already lists http://localhost:5173/bff/callback and http://localhost:5173/;
 * - the orders API (examples/orders-api) on http://localhost:4000;
 * - the BFF serving the SPA on http://localhost:5173 (open it in a browser; http://localhost is a secure
 *   context, so the `__Host-` Secure cookies work without TLS).
 * Environment: SPA_PORT, ORDERS_API_PORT, WEB_APP_SECRET, BFF_SECRET (default: a random one per run, so
 * sessions end when the process stops), GATEHOUSE_LOG_LEVEL (default warn).
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { buildServer, loadConfigFile } from '@gatehouse/server';
import { createOrdersApp } from '../../orders-api/src/app.ts';
import { createSpaServer } from './app.ts';

const spaPort = Number(process.env.SPA_PORT ?? 5173);
const ordersPort = Number(process.env.ORDERS_API_PORT ?? 4000);
const origin = `http://localhost:${spaPort}`;

const demoConfig = loadConfigFile(
  fileURLToPath(new URL('../../../packages/server/config/demo.yaml', import.meta.url)),
);
// Warnings and errors only, so the three URLs below stay readable (GATEHOUSE_LOG_LEVEL=info for more).
const level = (process.env.GATEHOUSE_LOG_LEVEL ?? 'warn') as typeof demoConfig.logging.level;
const config = { ...demoConfig, logging: { ...demoConfig.logging, level } };
const gatehouse = await buildServer(config);
await gatehouse.listen();

// Cancelling an order needs a second factor: the SPA shows the RFC 9470 step-up through the BFF.
const orders = createOrdersApp({
  verifier: { issuer: config.issuer, audience: 'orders-api' },
  allowedOrigins: [],
  cancelAcr: [config.mfa.acrValues.mfa],
});
const ordersServer = orders.listen(ordersPort, '127.0.0.1');
const ordersUrl = `http://localhost:${ordersPort}`;

const { app, bff } = createSpaServer({
  issuer: config.issuer,
  clientId: 'web-app',
  clientSecret: process.env.WEB_APP_SECRET ?? 'web-app-demo-secret-change-me-0123456789',
  origin,
  ordersUrl,
  secret: process.env.BFF_SECRET ?? randomBytes(32).toString('base64url'),
  bff: { diagnostics: true },
});
const spaServer = app.listen(spaPort, '127.0.0.1', () => {
  console.log(
    [
      `Authorization server: ${config.issuer}`,
      `Orders API:           ${ordersUrl}`,
      `SPA and BFF:          ${origin}  (open this one; diagnostics at ${origin}/bff/diagnostics)`,
      'Sign in as alice or bob, password Pa55word!demo (unless DEMO_PASSWORD says otherwise).',
    ].join('\n'),
  );
});

async function shutdown(): Promise<void> {
  spaServer.close();
  ordersServer.close();
  await bff.close();
  await gatehouse.close();
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
