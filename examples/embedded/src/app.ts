/**
 * An application that embeds Gatehouse: its own node:http server answers its own pages and hands every
 * request under `/auth` to Gatehouse (`createGatehouse`, the issuer being `<origin>/auth`). Gatehouse gets
 * the application's staff table as its account store (staff.ts), a claims hook that puts the staff
 * member's department into access tokens, and the portal's look: theme (logo, colours, stylesheet in
 * theme/) and its own sign-in page (pages.ts).
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGatehouse, type Gatehouse } from '@gatehouse/server';
import { portalPages } from './pages.ts';
import { StaffAccounts } from './staff.ts';

/** The example's folder: the theme's files are named relative to it. */
const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface PortalOptions {
  /** The origin the application is reached at, e.g. http://localhost:4100 (the issuer is <origin>/auth). */
  origin: string;
  /** Where Gatehouse's SQLite file and the staff database live. */
  dataDir: string;
  /** The secret of the `portal-web` client (at least 32 characters). */
  clientSecret: string;
  logLevel?: 'info' | 'silent';
}

export interface Portal {
  server: Server;
  gatehouse: Gatehouse;
  staff: StaffAccounts;
  issuer: string;
  close(): Promise<void>;
}

/** Gatehouse's configuration: the same shape as a config file, as an object. */
export function gatehouseConfig(options: PortalOptions): Record<string, unknown> {
  return {
    issuer: `${options.origin}/auth`,
    storage: { path: join(options.dataDir, 'gatehouse.db') },
    logging: { level: options.logLevel ?? 'info' },
    management: { enabled: false },
    ui: {
      productName: 'Orders Portal',
      logo: 'theme/logo.svg',
      stylesheet: 'theme/portal.css',
      colors: { primary: '#0b6e4f', background: '#eef4f1', text: '#14231c' },
      locales: ['en', 'de', 'fr', 'es'],
    },
    apiScopes: [{ name: 'orders.read', description: 'Read your orders' }],
    apiResources: [
      {
        id: 'orders-api',
        uris: ['http://localhost:4000'],
        scopes: ['orders.read'],
        // Declarative claims: the account's email in every orders-api token, the scopes also as `scp`.
        claims: { user: ['email'] },
        scopeClaim: 'both',
      },
    ],
    identityResources: [
      { name: 'openid', description: 'Sign you in', claims: ['sub'] },
      { name: 'profile', description: 'Your name', claims: ['name', 'preferred_username'] },
      { name: 'email', description: 'Your email address', claims: ['email', 'email_verified'] },
      { name: 'roles', description: 'Your roles', claims: ['roles'] },
    ],
    clients: [
      {
        clientId: 'portal-web',
        name: 'Orders Portal',
        secret: options.clientSecret,
        grantTypes: ['authorization_code', 'refresh_token'],
        redirectUris: [`${options.origin}/signin-oidc`],
        scopes: ['openid', 'profile', 'email', 'roles', 'orders.read'],
        requireConsent: false,
      },
    ],
  };
}

export async function createPortal(options: PortalOptions): Promise<Portal> {
  mkdirSync(options.dataDir, { recursive: true });
  const staff = new StaffAccounts(join(options.dataDir, 'staff.db'));
  await staff.add({
    login: 'grace',
    password: 'grace-demo-password',
    fullName: 'Grace Hopper',
    email: 'grace@orders.example',
    department: 'Sales',
    employeeNumber: 1906,
  });
  const gatehouse = await createGatehouse({
    config: gatehouseConfig(options),
    baseDir: exampleDir,
    accounts: staff,
    pages: portalPages,
    // Computed claims: what the staff table says about the user, in every access token issued for them.
    claims: ({ account }) => {
      const row = account === undefined ? undefined : staff.row(account.subject);
      return row === undefined ? {} : { department: row.department, employee_number: row.employee_number };
    },
  });
  const issuer = `${options.origin}/auth`;
  const server = createServer((request, response) => {
    if (request.url === '/auth' || request.url?.startsWith('/auth/') || request.url?.startsWith('/auth?')) {
      gatehouse.handle(request, response);
      return;
    }
    if (request.url === '/') {
      response.setHeader('content-type', 'text/plain; charset=utf-8');
      response.end(`Orders portal. Sign-in is served by Gatehouse at ${issuer}\n`);
      return;
    }
    response.statusCode = 404;
    response.end('not found\n');
  });
  return {
    server,
    gatehouse,
    staff,
    issuer,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await gatehouse.close();
      staff.close();
    },
  };
}
