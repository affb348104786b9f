/**
 * Runs the orders API against the demo authorization server (`npm start` at the repository root serves
 * it on http://localhost:3000). Environment: GATEHOUSE_ISSUER (default http://localhost:3000),
 * ORDERS_API_PORT (default 4000), ORDERS_API_ORIGINS (comma-separated browser origins allowed by CORS;
 * default the demo web app and SPA: http://localhost:5000,http://localhost:5173).
 */
import { createOrdersApp } from './app.ts';

const issuer = process.env.GATEHOUSE_ISSUER ?? 'http://localhost:3000';
const port = Number(process.env.ORDERS_API_PORT ?? 4000);
const allowedOrigins = (process.env.ORDERS_API_ORIGINS ?? 'http://localhost:5000,http://localhost:5173')
  .split(',')
  .map((origin) => origin.trim())
  .filter((origin) => origin !== '');

// Cancelling an order needs a second factor (RFC 9470 step-up; Gatehouse's default mfa acr value).
const app = createOrdersApp({
  verifier: { issuer, audience: 'orders-api' },
  allowedOrigins,
  cancelAcr: ['urn:gatehouse:acr:mfa'],
});
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`orders-api listening on http://localhost:${port} (issuer ${issuer})`);
});
process.on('SIGTERM', () => server.close());
process.on('SIGINT', () => server.close());
