/**
 * RFC 9728 protected resource metadata: the document built from the verifier's options, its well-known
 * URL (§3.1), `resource_metadata` in the challenges (§5.1), the document served without a token by the
 * Express, Fastify and fetch adapters, and the discovery a client makes from a 401 of an API to Gatehouse:
 * resource metadata, authorization server metadata, dynamic registration (RFC 7591), a code flow with
 * `resource` (RFC 8707), and the API call with the token it got.
 */
import { createServer } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorizationParameters,
  FetchBrowser,
  freePort,
  type ListeningServer,
  startListening,
} from '../../server/test/interop-helpers.ts';
import { protect as expressProtect, protectedResourceMetadata, requireScopes } from '../src/express.ts';
import { gatehouseAuth } from '../src/fastify.ts';
import { resourceMetadataHandler, withAuth } from '../src/fetch.ts';
import { createVerifier, resourceMetadataUrl } from '../src/index.ts';
import { apiOptions, closeServer, TestIssuer, testClock } from './support.ts';

const clock = testClock();
let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await TestIssuer.start();
});
afterAll(async () => {
  await issuer.close();
});

const resource = 'https://api.example.com/orders';
const metadataPath = '/.well-known/oauth-protected-resource/orders';

function options(extra: Record<string, unknown> = {}) {
  return apiOptions(issuer.issuer, {
    now: clock,
    resourceMetadata: { resource, scopesSupported: ['orders.read', 'orders.write'], resourceName: 'Orders' },
    ...extra,
  });
}

describe('the metadata document and its URL', () => {
  it('§3.1: the well-known path goes between the host and the path', () => {
    expect(resourceMetadataUrl('https://api.example.com/orders')).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource/orders',
    );
    expect(resourceMetadataUrl('https://api.example.com')).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource',
    );
    expect(resourceMetadataUrl('https://api.example.com/')).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource',
    );
  });

  it('§2: resource, authorization servers, scopes, bearer methods and DPoP from the options', () => {
    const verifier = createVerifier(options({ dpop: { required: true, algorithms: ['ES256'] } }));
    expect(verifier.resourceMetadata?.document).toEqual({
      resource,
      authorization_servers: [issuer.issuer],
      scopes_supported: ['orders.read', 'orders.write'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['ES256'],
      dpop_bound_access_tokens_required: true,
      resource_name: 'Orders',
    });
    const withoutDpop = createVerifier(
      options({
        dpop: false,
        allowFormBodyToken: true,
        resourceMetadata: { resource, authorizationServers: ['https://id.example.com'] },
      }),
    );
    expect(withoutDpop.resourceMetadata?.document).toEqual({
      resource,
      authorization_servers: ['https://id.example.com'],
      bearer_methods_supported: ['header', 'body'],
    });
    expect(createVerifier(apiOptions(issuer.issuer)).resourceMetadata).toBeUndefined();
  });

  it('refuses a resource that is not an https URL without query or fragment, when created', () => {
    for (const bad of [
      'orders',
      'http://api.example.com/orders',
      'https://api.example.com/?x=1',
      'https://api.example.com/#f',
    ])
      expect(() => createVerifier(options({ resourceMetadata: { resource: bad } }))).toThrow(TypeError);
    expect(() =>
      createVerifier(options({ resourceMetadata: { resource, authorizationServers: [] } })),
    ).toThrow(/authorizationServers/);
  });

  it('§5.1: every challenge names the metadata in resource_metadata', async () => {
    const verifier = createVerifier(options());
    const anonymous = await verifier.authenticate({ method: 'GET', path: '/orders', headers: {} });
    expect(anonymous.ok).toBe(false);
    if (anonymous.ok) return;
    const url = `https://api.example.com${metadataPath}`;
    expect(anonymous.headers['www-authenticate']).toBe(
      `Bearer realm="orders-api", resource_metadata="${url}", DPoP algs="ES256 ES384 EdDSA RS256 PS256", resource_metadata="${url}"`,
    );
    const bad = await verifier.authenticate({
      method: 'GET',
      path: '/orders',
      headers: { authorization: 'Bearer not-a-token' },
    });
    if (bad.ok) throw new Error('accepted a bad token');
    expect(bad.headers['www-authenticate']).toMatch(
      /^Bearer realm="orders-api", resource_metadata="[^"]+", error="invalid_token"/,
    );
  });

  it('the framework-free handler answers GET and HEAD of the path only', () => {
    const verifier = createVerifier(options());
    const answer = verifier.resourceMetadataResponse('GET', `${metadataPath}?x=1`);
    expect(answer?.status).toBe(200);
    expect(answer?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer!.body).resource).toBe(resource);
    expect(verifier.resourceMetadataResponse('HEAD', metadataPath)?.body).toBe('');
    expect(verifier.resourceMetadataResponse('POST', metadataPath)).toBeUndefined();
    expect(verifier.resourceMetadataResponse('GET', '/.well-known/oauth-protected-resource')).toBeUndefined();
  });
});

describe('the adapters serve the metadata without a token', () => {
  it('Express: protect() serves it, protectedResourceMetadata() alone too', async () => {
    const verifier = createVerifier(options());
    const app = express();
    app.use(expressProtect(verifier));
    app.get('/orders', requireScopes('orders.read'), (_req, res) => {
      res.json({ orders: [] });
    });
    const only = express();
    only.use(protectedResourceMetadata(verifier));
    only.get('/open', (_req, res) => {
      res.json({ open: true });
    });
    for (const handler of [app, only]) {
      const server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      try {
        const metadata = await fetch(`${base}${metadataPath}`);
        expect(metadata.status).toBe(200);
        expect(((await metadata.json()) as Record<string, unknown>).resource).toBe(resource);
        if (handler === app) {
          const refused = await fetch(`${base}/orders`);
          expect(refused.status).toBe(401);
          expect(refused.headers.get('www-authenticate')).toContain('resource_metadata=');
          const token = issuer.token(clock(), { scope: 'orders.read' });
          expect(
            (await fetch(`${base}/orders`, { headers: { authorization: `Bearer ${token}` } })).status,
          ).toBe(200);
        } else {
          expect((await fetch(`${base}/open`)).status).toBe(200);
        }
      } finally {
        await closeServer(server);
      }
    }
  });

  it('Fastify: the plugin registers the metadata route and leaves it unprotected', async () => {
    const fastify = Fastify();
    await fastify.register(gatehouseAuth, { verifier: options() });
    fastify.get('/orders', async () => ({ orders: [] }));
    const metadata = await fastify.inject({ url: metadataPath });
    expect(metadata.statusCode).toBe(200);
    expect(metadata.headers['cache-control']).toBe('public, max-age=300');
    expect(metadata.json().authorization_servers).toEqual([issuer.issuer]);
    const refused = await fastify.inject({ url: '/orders' });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toContain(
      `resource_metadata="https://api.example.com${metadataPath}"`,
    );
    await fastify.close();
  });

  it('fetch: withAuth answers it, resourceMetadataHandler alone too', async () => {
    const handler = withAuth(options(), [], () => new Response('ok'));
    const metadata = await handler(new Request(`http://localhost${metadataPath}`));
    expect(metadata.status).toBe(200);
    expect(((await metadata.json()) as Record<string, unknown>).resource).toBe(resource);
    const refused = await handler(new Request('http://localhost/orders'));
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('resource_metadata=');
    const alone = resourceMetadataHandler(options());
    expect(alone(new Request(`http://localhost${metadataPath}`))?.status).toBe(200);
    expect(alone(new Request('http://localhost/orders'))).toBeUndefined();
  });
});

describe('a client finds Gatehouse from the API, registers and calls the API', () => {
  let gatehouse: ListeningServer;
  let api: ReturnType<typeof createServer>;
  let apiUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    gatehouse = await startListening({
      registration: { enabled: true, mode: 'open', policy: { scopes: ['openid', 'orders.read'] } },
      apiResources: [
        { id: 'orders-api', uris: [`${apiUrl}/orders`], scopes: ['orders.read', 'orders.write'] },
      ],
    });
    const app = express();
    app.use(
      expressProtect({
        issuer: gatehouse.issuer,
        audience: 'orders-api',
        logger: false,
        resourceMetadata: { resource: `${apiUrl}/orders`, scopesSupported: ['orders.read'] },
      }),
    );
    app.get('/orders', requireScopes('orders.read'), (req, res) => {
      res.json({ owner: req.auth?.subject });
    });
    api = createServer(app);
    await new Promise<void>((resolve) => api.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    if (api !== undefined) await closeServer(api);
    await gatehouse?.close();
  });

  it('401 -> resource metadata -> authorization server -> registration -> code flow with resource -> 200', async () => {
    const refused = await fetch(`${apiUrl}/orders`);
    expect(refused.status).toBe(401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(
      refused.headers.get('www-authenticate') ?? '',
    )?.[1];
    expect(metadataUrl).toBe(`${apiUrl}/.well-known/oauth-protected-resource/orders`);
    const metadata = (await (await fetch(metadataUrl!)).json()) as {
      resource: string;
      authorization_servers: string[];
    };
    expect(metadata.authorization_servers).toEqual([gatehouse.issuer]);

    const redirectUri = 'http://127.0.0.1/callback';
    const config = await client.dynamicClientRegistration(
      new URL(metadata.authorization_servers[0]!),
      {
        application_type: 'native',
        client_name: 'MCP-style client',
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        scope: 'openid orders.read',
      },
      client.None(),
      { execute: [client.allowInsecureRequests] },
    );
    const authorization = await authorizationParameters(redirectUri, 'openid orders.read');
    const url = client.buildAuthorizationUrl(config, {
      ...authorization.parameters,
      resource: metadata.resource,
    });
    const { location } = await new FetchBrowser(gatehouse.issuer).walk(url);
    const tokens = await client.authorizationCodeGrant(
      config,
      new URL(location),
      {
        pkceCodeVerifier: authorization.verifier,
        expectedState: authorization.state,
        expectedNonce: authorization.nonce,
      },
      { resource: metadata.resource },
    );
    const called = await fetch(`${apiUrl}/orders`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(called.status).toBe(200);
    expect(((await called.json()) as { owner: string }).owner).toBe(tokens.claims()?.sub);
  });
});
