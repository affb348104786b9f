/** Starts the embedded example on http://localhost:4100 (PORTAL_PORT); sign in as grace. */
import { createPortal } from './app.ts';

const port = Number(process.env.PORTAL_PORT ?? 4100);
const origin = `http://localhost:${port}`;
const portal = await createPortal({
  origin,
  dataDir: process.env.PORTAL_DATA ?? 'data',
  clientSecret: process.env.PORTAL_CLIENT_SECRET ?? 'portal-web-demo-secret-change-me-0123456789',
});
portal.server.listen(port, '127.0.0.1', () => {
  console.log(`Orders portal on ${origin}; Gatehouse issuer ${portal.issuer}`);
  console.log(`Discovery: ${portal.issuer}/.well-known/openid-configuration`);
  console.log('Sign in as grace / grace-demo-password');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    portal.close().then(() => process.exit(0));
  });
}
