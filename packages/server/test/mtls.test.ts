/**
 * Mutual-TLS client authentication and certificate-bound access tokens (RFC 8705) over a real TLS listener
 * (`server.tls`), with a CA, client and impostor certificates made by the openssl CLI for the test:
 * tls_client_auth matched by subject DN and by SAN (§2.1.2), self_signed_tls_client_auth matched by the
 * registered keys (§2.2), `cnf.x5t#S256` in the token and in introspection (§3.1, §3.2), wrong or missing
 * certificates refused with invalid_client. Then the trusted proxy header: off by default (a header sent to
 * a server that did not configure it is ignored), and read only from `server.trustProxy` addresses.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { matchesRegisteredIdentity } from '../src/protocol/mtls.ts';
import { testCertificates } from './certificates.ts';
import {
  basic,
  buildServer,
  form,
  type GatehouseServer,
  ordersApiAuth,
  serviceAuth,
  startServer,
  type TestServer,
  testClients,
  testConfig,
  useServer,
  webSecret,
} from './helpers.ts';
import { freePort } from './interop-helpers.ts';

const { path, pem, selfSigned, authority, issued, thumbprint } = testCertificates('gatehouse-server-mtls-');

const clientCredentialsGrant = { grant_type: 'client_credentials' };

const mtlsClients = () => [
  ...testClients(),
  {
    clientId: 'mtls-dn',
    name: 'PKI client matched by subject DN',
    tokenEndpointAuthMethod: 'tls_client_auth',
    tlsClientAuthSubjectDn: 'CN=mtls-pki,O=Gatehouse Test',
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
  },
  {
    clientId: 'mtls-san',
    name: 'PKI client matched by SAN',
    tokenEndpointAuthMethod: 'tls_client_auth',
    tlsClientAuthSanDns: 'client.example.com',
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
  },
  {
    clientId: 'mtls-self',
    name: 'Self-signed client (public key registered)',
    tokenEndpointAuthMethod: 'self_signed_tls_client_auth',
    jwks: { keys: [{ ...createPublicKey(pem('self.crt')).export({ format: 'jwk' }), kid: 'self' }] },
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
  },
  {
    clientId: 'mtls-self-x5c',
    name: 'Self-signed client (certificate registered as x5c)',
    tokenEndpointAuthMethod: 'self_signed_tls_client_auth',
    jwks: {
      keys: [
        {
          ...createPublicKey(pem('self.crt')).export({ format: 'jwk' }),
          x5c: [new X509Certificate(pem('self.crt')).raw.toString('base64')],
        },
      ],
    },
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
  },
  {
    clientId: 'bound-secret',
    name: 'Secret client with certificate-bound tokens',
    secret: webSecret,
    tlsClientCertificateBoundAccessTokens: true,
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
  },
];

let server: GatehouseServer;
let issuer: string;
const agents: Agent[] = [];

beforeAll(async () => {
  authority('ca', '/CN=Gatehouse Test CA');
  selfSigned('server', '/CN=127.0.0.1', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  issued('pki', '/O=Gatehouse Test/CN=mtls-pki', 'DNS:client.example.com');
  issued('stranger', '/O=Gatehouse Test/CN=someone-else', 'DNS:stranger.example.com');
  selfSigned('impostor', '/O=Gatehouse Test/CN=mtls-pki', [
    '-addext',
    'subjectAltName=DNS:client.example.com',
  ]);
  selfSigned('self', '/CN=mtls-self');
  issued(
    'multi',
    '/C=DE/O=Gatehouse\\, Test/OU=Payments/CN=multi',
    'DNS:a.example.com,URI:spiffe://example.org/svc,IP:10.1.2.3,IP:2001:db8::1,email:svc@example.com',
  );
  const port = await freePort();
  issuer = `https://127.0.0.1:${port}`;
  server = await buildServer(
    parseConfig(
      testConfig({
        issuer,
        server: { host: '127.0.0.1', port, tls: { cert: path('server.crt'), key: path('server.key') } },
        mtls: { ca: path('ca.crt') },
        clients: mtlsClients(),
      }),
    ),
  );
  await server.listen();
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await server?.close();
});

/** POSTs a form over TLS, presenting the named client certificate (or none). */
async function post(
  url: string,
  values: Record<string, string>,
  certificate: string | undefined,
  authorization?: string,
) {
  const agent = new Agent({
    connect: {
      ca: pem('server.crt'),
      ...(certificate === undefined
        ? {}
        : { cert: pem(`${certificate}.crt`), key: pem(`${certificate}.key`) }),
    },
  });
  agents.push(agent);
  const response = await undiciFetch(`${issuer}${url}`, {
    method: 'POST',
    dispatcher: agent,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization ? { authorization } : {}),
    },
    body: form(values),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

const clientCredentials = (clientId: string, certificate: string | undefined) =>
  post('/token', { grant_type: 'client_credentials', client_id: clientId }, certificate);

describe('mutual-TLS client authentication over a real TLS listener', () => {
  it('tls_client_auth by subject DN issues a token bound to the certificate', async () => {
    const response = await clientCredentials('mtls-dn', 'pki');
    expect(response.status).toBe(200);
    const claims = decodeJwt(response.body.access_token as string);
    expect(claims).toMatchObject({ client_id: 'mtls-dn', cnf: { 'x5t#S256': thumbprint('pki') } });
    // RFC 8705 §3.2: introspection tells the API which certificate the token is bound to.
    const introspection = await post(
      '/introspect',
      { token: response.body.access_token as string },
      undefined,
      ordersApiAuth,
    );
    expect(introspection.body).toMatchObject({ active: true, cnf: { 'x5t#S256': thumbprint('pki') } });
  });

  it('tls_client_auth by SAN DNS name', async () => {
    const response = await clientCredentials('mtls-san', 'pki');
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.access_token as string).cnf).toEqual({ 'x5t#S256': thumbprint('pki') });
  });

  it('refuses a certificate not issued by the trusted CA, another subject, and no certificate', async () => {
    for (const [clientId, certificate] of [
      ['mtls-dn', 'impostor'],
      ['mtls-san', 'impostor'],
      ['mtls-dn', 'stranger'],
      ['mtls-san', 'stranger'],
      ['mtls-dn', 'self'],
      ['mtls-dn', undefined],
    ] as const) {
      const response = await clientCredentials(clientId, certificate);
      expect(response.status, `${clientId} with ${certificate}`).toBe(401);
      expect(response.body.error).toBe('invalid_client');
    }
  });

  it('self_signed_tls_client_auth matched by the registered key or x5c certificate', async () => {
    for (const clientId of ['mtls-self', 'mtls-self-x5c']) {
      const response = await clientCredentials(clientId, 'self');
      expect(response.status).toBe(200);
      expect(decodeJwt(response.body.access_token as string).cnf).toEqual({ 'x5t#S256': thumbprint('self') });
      for (const certificate of ['impostor', 'pki', undefined]) {
        const refused = await clientCredentials(clientId, certificate);
        expect(refused.body.error, `${clientId} with ${certificate}`).toBe('invalid_client');
      }
    }
  });

  it('refuses a TLS-method client that also sends a secret', async () => {
    const response = await post(
      '/token',
      { grant_type: 'client_credentials', client_id: 'mtls-dn', client_secret: webSecret },
      'pki',
    );
    expect(response.body.error).toBe('invalid_client');
  });

  it('binds the tokens of a secret client registered for bound tokens, and needs its certificate', async () => {
    const bound = await post('/token', clientCredentialsGrant, 'self', basic('bound-secret', webSecret));
    expect(bound.status).toBe(200);
    expect(decodeJwt(bound.body.access_token as string).cnf).toEqual({ 'x5t#S256': thumbprint('self') });
    const without = await post('/token', clientCredentialsGrant, undefined, basic('bound-secret', webSecret));
    expect(without.status).toBe(400);
    expect(without.body.error).toBe('invalid_request');
    // A client not registered for bound tokens gets bearer tokens even when it shows a certificate.
    const plain = await post('/token', clientCredentialsGrant, 'pki', serviceAuth);
    expect(plain.status).toBe(200);
    expect(decodeJwt(plain.body.access_token as string).cnf).toBeUndefined();
  });

  it('authenticates mTLS clients at /introspect and /revoke too', async () => {
    const issuedToken = (await clientCredentials('mtls-dn', 'pki')).body.access_token as string;
    const introspection = await post('/introspect', { token: issuedToken, client_id: 'mtls-dn' }, 'pki');
    expect(introspection.body).toMatchObject({ active: true, client_id: 'mtls-dn' });
    const refused = await post('/introspect', { token: issuedToken, client_id: 'mtls-dn' }, 'stranger');
    expect(refused.body.error).toBe('invalid_client');
    const revoked = await post('/revoke', { token: issuedToken, client_id: 'mtls-dn' }, 'pki');
    expect(revoked.status).toBe(200);
    const after = await post('/introspect', { token: issuedToken, client_id: 'mtls-dn' }, 'pki');
    expect(after.body).toEqual({ active: false });
  });

  it('openid-client authenticates with tls_client_auth through a certificate-carrying agent', async () => {
    const agent = new Agent({
      connect: { ca: pem('server.crt'), cert: pem('pki.crt'), key: pem('pki.key') },
    });
    agents.push(agent);
    const customFetch = ((url: string, options: Record<string, unknown>) =>
      undiciFetch(url, { ...options, dispatcher: agent } as never)) as unknown as client.CustomFetch;
    const config = await client.discovery(new URL(issuer), 'mtls-dn', undefined, client.TlsClientAuth(), {
      [client.customFetch]: customFetch,
    });
    const tokens = await client.clientCredentialsGrant(config, { scope: 'orders.read' });
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ 'x5t#S256': thumbprint('pki') });
    const introspection = await client.tokenIntrospection(config, tokens.access_token);
    expect(introspection).toMatchObject({ active: true, client_id: 'mtls-dn' });
  });

  it('publishes the mutual-TLS methods and bound-token support', async () => {
    const response = await undiciFetch(`${issuer}/.well-known/openid-configuration`, {
      dispatcher: new Agent({ connect: { ca: pem('server.crt') } }),
    });
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth', 'private_key_jwt']),
    );
    expect(metadata.tls_client_certificate_bound_access_tokens).toBe(true);
  });

  it('ignores a certificate header when no proxy header is configured', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/token',
      remoteAddress: '127.0.0.1',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-client-cert': encodeURIComponent(pem('pki.crt')),
        'x-ssl-client-cert': encodeURIComponent(pem('pki.crt')),
      },
      payload: form({ grant_type: 'client_credentials', client_id: 'mtls-dn' }),
    });
    expect(response.statusCode).toBe(401);
    expect(JSON.parse(response.body).error).toBe('invalid_client');
  });
});

/**
 * client_credentials for `clientId` at `target`, sent from `remoteAddress` with the named certificate (or
 * `raw` header text) in the X-Client-Cert header a TLS-terminating proxy sets.
 */
function proxiedClientCredentials(
  target: TestServer,
  clientId: string,
  certificate: string | undefined,
  remoteAddress: string,
  raw?: string,
) {
  return target.app
    .inject({
      method: 'POST',
      url: '/token',
      remoteAddress,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(certificate === undefined
          ? {}
          : { 'x-client-cert': raw ?? encodeURIComponent(pem(`${certificate}.crt`)) }),
      },
      payload: form({ grant_type: 'client_credentials', client_id: clientId }),
    })
    .then((response) => ({
      status: response.statusCode,
      body: JSON.parse(response.body) as Record<string, unknown>,
    }));
}

describe('the client certificate from a trusted proxy header', () => {
  const proxied = useServer(() => ({
    server: { trustProxy: ['127.0.0.1', '10.0.0.0/8'] },
    mtls: { ca: path('ca.crt'), trustedProxyHeader: 'X-Client-Cert' },
    clients: mtlsClients(),
  }));

  const viaProxy = (clientId: string, certificate: string | undefined, remoteAddress: string, raw?: string) =>
    proxiedClientCredentials(proxied, clientId, certificate, remoteAddress, raw);

  it('authenticates and binds with the forwarded certificate from a trusted proxy', async () => {
    for (const remoteAddress of ['127.0.0.1', '10.1.2.3', '::ffff:10.9.9.9']) {
      const response = await viaProxy('mtls-dn', 'pki', remoteAddress);
      expect(response.status, remoteAddress).toBe(200);
      expect(decodeJwt(response.body.access_token as string).cnf).toEqual({ 'x5t#S256': thumbprint('pki') });
    }
    const self = await viaProxy('mtls-self', 'self', '127.0.0.1');
    expect(self.status).toBe(200);
    // Plain PEM (not URL-encoded) and base64 DER are read as well.
    const der = new X509Certificate(pem('pki.crt')).raw.toString('base64');
    expect((await viaProxy('mtls-dn', 'pki', '127.0.0.1', der)).status).toBe(200);
  });

  it('ignores the header from an address that is not a trusted proxy', async () => {
    const response = await viaProxy('mtls-dn', 'pki', '203.0.113.7');
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_client');
  });

  it('with dpop.required, certificate-bound tokens need no DPoP proof; other clients do (RFC 9449)', async () => {
    const strict = await startServer({
      server: { trustProxy: ['127.0.0.1'] },
      mtls: { ca: path('ca.crt'), trustedProxyHeader: 'X-Client-Cert' },
      dpop: { required: true },
      clients: mtlsClients(),
    });
    try {
      const bound = await proxiedClientCredentials(strict, 'mtls-dn', 'pki', '127.0.0.1');
      expect(bound.status).toBe(200);
      expect(decodeJwt(bound.body.access_token as string).cnf).toEqual({ 'x5t#S256': thumbprint('pki') });
      const bearer = await strict.app.inject({
        method: 'POST',
        url: '/token',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: serviceAuth,
        },
        payload: form({ grant_type: 'client_credentials' }),
      });
      expect(bearer.statusCode).toBe(400);
      expect(JSON.parse(bearer.body).error).toBe('invalid_dpop_proof');
    } finally {
      await strict.close();
    }
  });

  it('checks a forwarded certificate against the configured CA itself', async () => {
    expect((await viaProxy('mtls-dn', 'impostor', '127.0.0.1')).body.error).toBe('invalid_client');
    expect((await viaProxy('mtls-dn', 'stranger', '127.0.0.1')).body.error).toBe('invalid_client');
    expect((await viaProxy('mtls-dn', 'pki', '127.0.0.1', 'garbage%%')).body.error).toBe('invalid_client');
  });
});

describe('matching a certificate to a tls_client_auth registration (RFC 8705 §2.1.2)', () => {
  const multi = () => new X509Certificate(pem('multi.crt'));

  it('matches the subject DN whatever the order of its attributes, with escaped characters', () => {
    expect(multi().subject).toContain('CN=multi');
    for (const dn of [
      'CN=multi,OU=Payments,O=Gatehouse\\, Test,C=DE',
      'C=DE, O=Gatehouse\\2C Test, OU=Payments, CN=multi',
      'cn=multi,ou=Payments,o=Gatehouse\\, Test,c=DE',
    ]) {
      expect(matchesRegisteredIdentity(multi(), { tlsClientAuthSubjectDn: dn }), dn).toBe(true);
    }
    for (const dn of [
      'CN=multi,OU=Payments,O=Gatehouse Test,C=DE',
      'CN=multi,O=Gatehouse\\, Test,C=DE',
      'CN=multi',
    ]) {
      expect(matchesRegisteredIdentity(multi(), { tlsClientAuthSubjectDn: dn }), dn).toBe(false);
    }
  });

  it('matches each kind of SAN entry, and nothing else', () => {
    const cases: [Record<string, string>, boolean][] = [
      [{ tlsClientAuthSanDns: 'a.example.com' }, true],
      [{ tlsClientAuthSanDns: 'A.Example.COM' }, true],
      [{ tlsClientAuthSanDns: 'b.example.com' }, false],
      [{ tlsClientAuthSanUri: 'spiffe://example.org/svc' }, true],
      [{ tlsClientAuthSanUri: 'spiffe://example.org/other' }, false],
      [{ tlsClientAuthSanIp: '10.1.2.3' }, true],
      [{ tlsClientAuthSanIp: '2001:db8:0:0:0:0:0:1' }, true],
      [{ tlsClientAuthSanIp: '10.1.2.4' }, false],
      [{ tlsClientAuthSanEmail: 'svc@example.com' }, true],
      [{ tlsClientAuthSanEmail: 'other@example.com' }, false],
      [{}, false],
    ];
    for (const [registration, expected] of cases) {
      expect(matchesRegisteredIdentity(multi(), registration), JSON.stringify(registration)).toBe(expected);
    }
  });
});

describe('mutual-TLS configuration', () => {
  const parse = (overrides: Record<string, unknown>) => () => parseConfig(testConfig(overrides));
  const dnClient = {
    clientId: 'c',
    name: 'C',
    tokenEndpointAuthMethod: 'tls_client_auth',
    tlsClientAuthSubjectDn: 'CN=c',
    grantTypes: ['client_credentials'],
    scopes: ['orders.read'],
  };

  it('refuses certificate-bound tokens for a public client with refresh tokens (they would be unbound)', () => {
    const publicClient = {
      clientId: 'p',
      name: 'P',
      tokenEndpointAuthMethod: 'none',
      tlsClientCertificateBoundAccessTokens: true,
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['https://p.example.com/cb'],
      scopes: ['openid'],
    };
    const server = { tls: { cert: path('server.crt'), key: path('server.key') } };
    expect(parse({ server, clients: [publicClient] })).toThrow(/refresh_token/);
    expect(
      parse({ server, clients: [{ ...publicClient, grantTypes: ['authorization_code'] }] }),
    ).not.toThrow();
  });

  it('stops start-up naming the field when a TLS or CA file cannot be read or holds no certificate', async () => {
    const start = (overrides: Record<string, unknown>) => buildServer(parseConfig(testConfig(overrides)));
    await expect(
      start({ server: { tls: { cert: path('nope.crt'), key: path('server.key') } } }),
    ).rejects.toThrow(/config server.tls.cert: cannot read .*nope.crt: ENOENT/);
    await expect(start({ mtls: { ca: path('pki.ext') } })).rejects.toThrow(
      /config mtls.ca: .* holds no certificate/,
    );
  });

  it('refuses a proxy header without trusted proxies, and TLS methods nothing can serve', () => {
    expect(parse({ mtls: { trustedProxyHeader: 'X-Client-Cert' } })).toThrow(/trustProxy/);
    expect(parse({ clients: [dnClient] })).toThrow(/server.tls or mtls.trustedProxyHeader/);
    expect(
      parse({
        server: { trustProxy: true },
        mtls: { trustedProxyHeader: 'X-Client-Cert' },
        clients: [dnClient],
      }),
    ).toThrow(/mtls.ca/);
    expect(
      parse({
        server: { trustProxy: true },
        mtls: { ca: path('ca.crt'), trustedProxyHeader: 'X-Client-Cert' },
        clients: [{ ...dnClient, tlsClientAuthSanDns: 'c.example.com' }],
      }),
    ).toThrow(/exactly one/);
    expect(
      parse({
        server: { trustProxy: true },
        mtls: { ca: path('ca.crt'), trustedProxyHeader: 'X-Client-Cert' },
        clients: [dnClient],
      }),
    ).not.toThrow();
  });
});
