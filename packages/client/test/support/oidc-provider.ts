/**
 * oidc-provider (a certified OpenID Provider) on a loopback port, for interoperability tests of what
 * Gatehouse does not have yet: PAR (on by default), DPoP with nonces, private_key_jwt, the device flow,
 * CIBA poll mode (a `teller` client; `approveBackchannel` plays the authentication device).
 * Login and consent are completed at once by GET /interaction/:uid for the user `alice`, granting the
 * requested scopes; the device pages are real oidc-provider pages (see `approveDevice`).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { FetchBrowser, freePort } from '../../../server/test/interop-helpers.ts';
import { closeServer } from './local-server.ts';

export const providerSecret = 'provider-client-secret-0123456789-abcdefghij';
export const providerRedirect = 'https://rp.example.com/cb';

export interface RunningProvider {
  issuer: string;
  /** The private JWK of the `pkjwt` client (its public half is registered). */
  clientKey: JWK;
  /** Requests received so far for `METHOD /path`. */
  count(route: string): number;
  /**
   * The user approves the oldest CIBA request the provider has sent to the "authentication device" (its
   * `triggerAuthenticationDevice`), as the `teller` client's poll-mode requests arrive; resolves once one
   * was waiting and was approved.
   */
  approveBackchannel(): Promise<void>;
  close(): Promise<void>;
}

/** What the provider hands its CIBA `triggerAuthenticationDevice` (oidc-provider's BackchannelAuthenticationRequest). */
interface CibaRequest {
  accountId: string;
  clientId: string;
  scope: string;
}

export async function startProvider(
  options: { requireDPoPNonce?: boolean; extraClients?: Record<string, unknown>[] } = {},
): Promise<RunningProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const signing = await generateKeyPair('ES256', { extractable: true });
  const signingJwk = { ...(await exportJWK(signing.privateKey)), kid: 'signing', alg: 'ES256', use: 'sig' };
  const client = await generateKeyPair('ES256', { extractable: true });
  const clientKey = { ...(await exportJWK(client.privateKey)), kid: 'client-key', alg: 'ES256' };
  const clientPublic = { ...(await exportJWK(client.publicKey)), kid: 'client-key', alg: 'ES256' };

  const cibaRequests: CibaRequest[] = [];
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'web',
        client_secret: providerSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [providerRedirect],
      },
      {
        client_id: 'service',
        client_secret: providerSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'orders.read',
      },
      {
        client_id: 'pkjwt',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [clientPublic] },
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'orders.read',
      },
      {
        client_id: 'device',
        token_endpoint_auth_method: 'none',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: 'teller',
        client_secret: providerSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['urn:openid:params:grant-type:ciba'],
        response_types: [],
        redirect_uris: [],
        backchannel_token_delivery_mode: 'poll',
      },
      ...(options.extraClients ?? []),
    ],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    jwks: { keys: [signingJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'profile', 'orders.read'],
    claims: { openid: ['sub'], profile: ['name'] },
    findAccount: (_ctx: unknown, accountId: string) => ({
      accountId,
      claims: () => ({ sub: accountId, name: 'Alice Smith' }),
    }),
    pkce: { required: () => true },
    rotateRefreshToken: true,
    issueRefreshToken: (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: 600,
      ClientCredentials: 600,
      IdToken: 3600,
      RefreshToken: 86400,
      DeviceCode: 600,
      Interaction: 600,
      Grant: 86400,
      Session: 86400,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      deviceFlow: {
        enabled: true,
        successSource: async (ctx: { body: string }) => {
          ctx.body = '<!doctype html><title>Sign-in Success</title><p>Sign-in Success</p>';
        },
      },
      ciba: {
        enabled: true,
        deliveryModes: ['poll'],
        processLoginHint: async (_ctx: unknown, loginHint: string) => loginHint,
        processLoginHintToken: async () => undefined,
        verifyUserCode: async () => {},
        validateRequestContext: async () => {},
        triggerAuthenticationDevice: async (_ctx: unknown, request: CibaRequest) => {
          cibaRequests.push(request);
        },
      },
      revocation: { enabled: true, allowedPolicy: async () => true },
      // Logout tokens to the clients that registered a backchannel_logout_uri (Gatehouse's upstream logout).
      backchannelLogout: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: () => options.requireDPoPNonce === true,
      },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    // Its outbound requests (back-channel logout tokens) go to servers on 127.0.0.1 here: without its
    // special-use address guard (its default dispatcher), which would refuse them.
    fetch: (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => {
      const { dispatcher: _guard, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
  });
  provider.on('server_error', (_ctx: unknown, error: unknown) => {
    console.error('oidc-provider server_error', error);
  });

  const handle = provider.callback();
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
    counts.set(route, (counts.get(route) ?? 0) + 1);
    if (req.method === 'GET' && req.url?.startsWith('/interaction/')) {
      void (async () => {
        try {
          const details = await provider.interactionDetails(req, res);
          const grant = new provider.Grant({
            accountId: 'alice',
            clientId: String(details.params.client_id),
          });
          grant.addOIDCScope(String(details.params.scope ?? 'openid'));
          const grantId = await grant.save();
          await provider.interactionFinished(
            req,
            res,
            { login: { accountId: 'alice' }, consent: { grantId } },
            { mergeWithLastSubmission: false },
          );
        } catch (error) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(error));
        }
      })();
      return;
    }
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer,
    clientKey,
    count: (route) => counts.get(route) ?? 0,
    approveBackchannel: async () => {
      const request = cibaRequests.shift();
      if (request === undefined) throw new Error('no CIBA request is waiting');
      const grant = new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
      grant.addOIDCScope(request.scope);
      await grant.save();
      // Not in oidc-provider's type definitions; documented in its CIBA feature.
      await (
        provider as unknown as { backchannelResult(request: CibaRequest, grant: unknown): Promise<void> }
      ).backchannelResult(request, grant);
    },
    close: () => closeServer(server),
  };
}

/** What the provider's introspection endpoint (RFC 7662) says of a token. */
export interface Introspection {
  active: boolean;
  /** The key a DPoP-bound token is bound to (RFC 9449 §6.2). */
  cnf?: { jkt: string };
}

/** Introspects `token` at the provider as client `clientId` with its Basic `secret`. */
export async function introspect(
  issuer: string,
  clientId: string,
  secret: string,
  token: string,
): Promise<Introspection> {
  const response = await fetch(`${issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await response.json()) as Introspection;
}

/**
 * Follows the authorization redirects (the interaction completes itself) with a cookie jar (`browser`, to
 * keep the provider's session cookies, or a fresh one) until one leaves the issuer; returns that Location,
 * the redirect back to the client.
 */
export async function walkProvider(
  issuer: string,
  url: string | URL,
  browser = new FetchBrowser(issuer),
): Promise<string> {
  let response = await browser.get(String(url));
  for (let step = 0; step < 10; step++) {
    const location = response.headers.get('location');
    await response.body?.cancel();
    if ((response.status !== 302 && response.status !== 303) || location === null) {
      throw new Error(`authorization stopped at HTTP ${response.status}`);
    }
    const next = new URL(location, issuer).href;
    if (!next.startsWith(`${issuer}/`)) return next;
    response = await browser.get(next);
  }
  throw new Error('too many redirects');
}

/**
 * Approves a device code the way a user would on oidc-provider's pages: open the complete verification
 * URI (a self-submitting form carrying the CSRF token), confirm, then follow the sign-in redirects.
 */
export async function approveDevice(issuer: string, verificationUriComplete: string): Promise<void> {
  const browser = new FetchBrowser(issuer);
  const page = await (await browser.get(verificationUriComplete)).text();
  const inputs: Record<string, string> = {};
  for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    inputs[match[1]!] = match[2]!;
  }
  const action = /<form[^>]* action="([^"]+)"/.exec(page)?.[1];
  if (action === undefined || inputs.xsrf === undefined)
    throw new Error(`no device form: ${page.slice(0, 300)}`);
  let response = await browser.post(new URL(action, issuer).href, { ...inputs, confirm: 'yes' });
  for (let step = 0; step < 10 && (response.status === 302 || response.status === 303); step++) {
    await response.body?.cancel();
    response = await browser.get(new URL(response.headers.get('location')!, issuer).href);
  }
  const body = await response.text();
  if (response.status !== 200 || !/Sign-in Success/.test(body)) {
    throw new Error(`device approval ended with ${response.status}: ${body.slice(0, 300)}`);
  }
}
