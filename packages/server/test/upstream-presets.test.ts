/**
 * Upstream presets (config/upstream-presets.ts): `entra`, `google` and `github` expand to the right
 * configuration, the config's own fields override them, and a bad preset configuration fails at start-up
 * naming the field. The Entra multi-tenant issuer rule is exercised through @gatehouse/client against a
 * local stand-in for Microsoft's endpoints (no network to Microsoft here): discovery naming the
 * `{tenantid}` template, and ID tokens signed in the test with jose, accepted only when `iss` is the
 * template with the token's own `tid` (on `allowedTenants` when that is set).
 */
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { OAuthClient } from '../../client/src/index.ts';
import { closeLocalServers, json, startLocalServer } from '../../client/test/support/local-server.ts';
import { entraIssuerRule, entraIssuerTemplate } from '../src/config/upstream-presets.ts';
import { parseConfig, testConfig } from './helpers.ts';

afterEach(closeLocalServers);

const secret = { clientId: 'gatehouse', clientSecret: 'upstream-secret' };
const parseUpstream = (upstream: Record<string, unknown>) =>
  parseConfig(testConfig({ upstreams: [{ id: 'up', ...secret, ...upstream }] })).upstreams[0]!;
const parse = (upstream: Record<string, unknown>) => () => parseUpstream(upstream);

describe('presets', () => {
  it('expands entra to the tenant issuer and google to accounts.google.com, as OpenID Connect', () => {
    expect(parseUpstream({ preset: 'entra', tenant: 'organizations' })).toMatchObject({
      type: 'oidc',
      name: 'Microsoft',
      issuer: 'https://login.microsoftonline.com/organizations/v2.0',
      scopes: ['openid', 'profile', 'email'],
      tenant: 'organizations',
    });
    expect(parseUpstream({ preset: 'entra', tenant: 'contoso.onmicrosoft.com' }).issuer).toBe(
      'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0',
    );
    expect(parseUpstream({ preset: 'google' })).toMatchObject({
      type: 'oidc',
      name: 'Google',
      issuer: 'https://accounts.google.com',
      pkce: true,
      logout: { endUpstreamSession: false, backchannel: true },
    });
  });

  it("expands github to plain OAuth 2.0 with GitHub's endpoints, numeric id and field mapping", () => {
    const github = parseUpstream({ preset: 'github' });
    expect(github).toMatchObject({ type: 'oauth2', issuer: 'https://github.com', subjectField: 'id' });
    expect(Object.values(github.endpoints ?? {})).toEqual([
      'https://github.com/login/oauth/authorize',
      'https://github.com/login/oauth/access_token',
      'https://api.github.com/user',
      'https://api.github.com/user/emails',
    ]);
    expect(github.scopes).toEqual(['read:user', 'user:email']);
    expect(github.claims.preferred_username).toBe('login');
    expect(github.tokenEndpointAuthMethod).toBe('client_secret_post');
    // A preset trusts nothing on its own.
    expect(github).toMatchObject({ provisioning: 'existing-only', trustedForEmail: false });
  });

  it('lets the configuration override what a preset fills in, endpoints field by field', () => {
    const enterprise = parseUpstream({
      preset: 'github',
      name: 'GitHub Enterprise',
      issuer: 'https://github.example.com',
      endpoints: { userinfo: 'https://github.example.com/api/v3/user' },
      scopes: ['read:user'],
    });
    expect(enterprise).toMatchObject({
      name: 'GitHub Enterprise',
      issuer: 'https://github.example.com',
      scopes: ['read:user'],
      endpoints: {
        authorization: 'https://github.com/login/oauth/authorize',
        userinfo: 'https://github.example.com/api/v3/user',
      },
    });
  });

  it('fails at start-up naming the field', () => {
    expect(parse({ preset: 'entra' })).toThrow(/upstreams\[0\]\.tenant/);
    expect(parse({ preset: 'okta' })).toThrow(/upstreams\[0\]\.preset/);
    expect(parse({ preset: 'github', endpoints: { token: 'http://github.example.com/token' } })).toThrow(
      /upstreams\[0\]\.endpoints\.token/,
    );
    expect(parse({ type: 'oauth2', name: 'Plain', issuer: 'https://plain.example.com' })).toThrow(
      /upstreams\[0\]\.endpoints: an OAuth 2.0 upstream needs/,
    );
    expect(parse({ preset: 'google', scopes: ['profile'] })).toThrow(/openid scope/);
  });

  it('asks a plain OAuth 2.0 upstream for no scope unless told', () => {
    const plain = parseUpstream({
      type: 'oauth2',
      name: 'Plain',
      issuer: 'https://plain.example.com',
      endpoints: {
        authorization: 'https://plain.example.com/authorize',
        token: 'https://plain.example.com/token',
        userinfo: 'https://plain.example.com/me',
      },
    });
    expect(plain).toMatchObject({
      scopes: [],
      subjectField: 'sub',
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
  });
});

describe('the Entra ID multi-tenant issuer rule', () => {
  const contoso = '11111111-2222-3333-4444-555555555555';
  const fabrikam = '99999999-8888-7777-6666-555555555555';
  const issuerOf = (tid: string) => entraIssuerTemplate.replace('{tenantid}', tid);

  it('applies only to entra with organizations or common', () => {
    expect(entraIssuerRule({ preset: 'entra', tenant: 'organizations' })).toBeDefined();
    expect(entraIssuerRule({ preset: 'entra', tenant: 'common' })).toBeDefined();
    expect(entraIssuerRule({ preset: 'entra', tenant: contoso })).toBeUndefined();
    expect(entraIssuerRule({ preset: 'google', tenant: 'common' })).toBeUndefined();
  });

  /**
   * A stand-in for login.microsoftonline.com/organizations/v2.0 on a loopback port: discovery naming the
   * `{tenantid}` template, a JWKS, and a token endpoint answering the ID token the test signs next.
   */
  async function entraStandIn(allowedTenants?: string[]) {
    const key = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(key.publicKey)), kid: 'entra-key', alg: 'RS256' };
    let claims: JWTPayload = {};
    const server = await startLocalServer(async (request, _body, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path === '/organizations/v2.0/.well-known/openid-configuration')
        return json(response, 200, {
          issuer: entraIssuerTemplate,
          authorization_endpoint: `${server.url}/organizations/oauth2/v2.0/authorize`,
          token_endpoint: `${server.url}/organizations/oauth2/v2.0/token`,
          jwks_uri: `${server.url}/keys`,
        });
      if (path === '/keys') return json(response, 200, { keys: [jwk] });
      const idToken = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'entra-key' })
        .sign(key.privateKey);
      return json(response, 200, { access_token: 'at', token_type: 'Bearer', id_token: idToken });
    });
    const rule = entraIssuerRule({ preset: 'entra', tenant: 'organizations', allowedTenants });
    const client = (withRule: boolean) =>
      new OAuthClient({
        issuer: `${server.url}/organizations/v2.0`,
        clientId: 'gatehouse',
        clientAuthentication: { method: 'client_secret_basic', clientSecret: 'secret' },
        ...(withRule && rule !== undefined ? { issuerRule: rule } : {}),
      });
    const signIn = (withRule: boolean, next: JWTPayload) => {
      claims = next;
      return client(withRule).handleCallback('https://gatehouse.example.com/cb?code=c&state=s', {
        url: new URL(`${server.url}/authorize`),
        state: 's',
        nonce: 'n',
        codeVerifier: 'v'.repeat(43),
        redirectUri: 'https://gatehouse.example.com/cb',
      });
    };
    return { signIn, client };
  }

  const tokenFor = (tid: string | undefined, iss: string): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss,
      sub: 'entra-user',
      aud: 'gatehouse',
      iat: now,
      exp: now + 300,
      nonce: 'n',
      ...(tid ? { tid } : {}),
    };
  };

  it("accepts discovery's template and an ID token whose iss is the template with its own tid", async () => {
    const entra = await entraStandIn();
    const tokens = await entra.signIn(true, tokenFor(contoso, issuerOf(contoso)));
    expect(tokens.claims).toMatchObject({ iss: issuerOf(contoso), tid: contoso });
    const other = await entra.signIn(true, tokenFor(fabrikam, issuerOf(fabrikam)));
    expect(other.claims?.tid).toBe(fabrikam);
  });

  it("refuses an iss of another tenant than the token's tid, the bare template and a missing tid", async () => {
    const entra = await entraStandIn();
    for (const claims of [
      tokenFor(contoso, issuerOf(fabrikam)),
      tokenFor(contoso, entraIssuerTemplate),
      tokenFor(undefined, issuerOf(contoso)),
      tokenFor('not-a-tenant-id', issuerOf('not-a-tenant-id')),
    ])
      await expect(entra.signIn(true, claims)).rejects.toMatchObject({ code: 'id_token_invalid' });
  });

  it('refuses a tenant not on allowedTenants', async () => {
    const entra = await entraStandIn([contoso]);
    await expect(entra.signIn(true, tokenFor(contoso, issuerOf(contoso)))).resolves.toBeDefined();
    await expect(entra.signIn(true, tokenFor(fabrikam, issuerOf(fabrikam)))).rejects.toMatchObject({
      code: 'id_token_invalid',
    });
  });

  it('without the rule, discovery naming the template is refused as another issuer', async () => {
    const entra = await entraStandIn();
    await expect(entra.client(false).metadata()).rejects.toMatchObject({ code: 'issuer_mismatch' });
  });
});
