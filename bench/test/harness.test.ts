/**
 * Keeps the benchmark honest without running it: the ceiling server must issue tokens that verify as
 * ES256 RFC 9068 JWTs with jose, rotate refresh tokens and refuse a reused one, and each measured loop
 * must complete operations against it without errors. Nothing here looks at how fast anything is.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceClient, webClient } from '../fixtures.ts';
import { ChildServer, freePort, tsxArgs } from '../lib/children.ts';
import { DpopSigner } from '../lib/dpop.ts';
import { runLoad } from '../lib/load.ts';
import {
  checkAccessToken,
  checkDpopBinding,
  clientCredentialsBody,
  codeFlow,
  codeTokenBody,
  parseForm,
  postToken,
  refreshTokenBody,
  serviceAuthorization,
  signIn,
  type Target,
  webAuthorization,
} from '../lib/oauth.ts';
import {
  authorizationCodePlan,
  clientCredentialsDpopPlan,
  clientCredentialsPlan,
  type Plan,
  refreshTokenPlan,
} from '../lib/scenarios.ts';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
let child: ChildServer;
let target: Target;

beforeAll(async () => {
  const port = await freePort();
  target = {
    kind: 'ceiling',
    baseUrl: `http://127.0.0.1:${port}`,
    authorizePath: '/authorize',
    tokenPath: '/token',
    jwksPath: '/jwks',
    sessionCookies: ['__Host-gh-session'],
  };
  child = ChildServer.start({
    name: 'ceiling',
    args: [...tsxArgs, join(benchDir, 'servers', 'ceiling.ts')],
    cwd: benchDir,
    env: { PORT: String(port) },
    logFile: join(mkdtempSync(join(tmpdir(), 'gatehouse-bench-test-')), 'ceiling.log'),
  });
  await child.waitReady(`${target.baseUrl}/jwks`);
});

afterAll(async () => {
  await child?.stop();
});

describe('ceiling server', () => {
  it('issues a client_credentials access token that verifies as an ES256 at+jwt', async () => {
    const response = await postToken(target, serviceAuthorization, clientCredentialsBody);
    const payload = await checkAccessToken(target, response.access_token, serviceClient.clientId);
    expect(payload).toMatchObject({
      iss: target.baseUrl,
      sub: 'service-a',
      aud: 'orders-api',
      scope: 'orders.read',
    });
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  it('binds a client_credentials token to the DPoP key of the proof and refuses a replayed proof', async () => {
    const signer = new DpopSigner();
    const proof = signer.proof('POST', `${target.baseUrl}${target.tokenPath}`);
    const response = await postToken(target, serviceAuthorization, clientCredentialsBody, { dpop: proof });
    const payload = await checkAccessToken(target, response.access_token, serviceClient.clientId);
    checkDpopBinding(target, response, payload, signer.jkt);
    expect(() => checkDpopBinding(target, response, payload, new DpopSigner().jkt)).toThrow(/cnf/);
    await expect(
      postToken(target, serviceAuthorization, clientCredentialsBody, { dpop: proof }),
    ).rejects.toThrow(/invalid_dpop_proof/);
  });

  it('rejects a wrong client secret', async () => {
    const wrong = `Basic ${Buffer.from(`${serviceClient.clientId}:not-the-secret`).toString('base64')}`;
    await expect(postToken(target, wrong, clientCredentialsBody)).rejects.toThrow(/HTTP 401/);
  });

  it('runs the code flow with PKCE, rotates refresh tokens and refuses a reused one', async () => {
    const session = await signIn(target);
    const issued = await postToken(target, webAuthorization, codeTokenBody(session.code, session.verifier));
    await checkAccessToken(target, issued.access_token, webClient.clientId);
    expect(decodeJwt(issued.id_token!)).toMatchObject({ aud: webClient.clientId, azp: webClient.clientId });
    await expect(
      postToken(target, webAuthorization, codeTokenBody(session.code, session.verifier)),
    ).rejects.toThrow(/invalid_grant/);

    const rotated = await postToken(target, webAuthorization, refreshTokenBody(issued.refresh_token!));
    expect(rotated.refresh_token).toBeDefined();
    expect(rotated.refresh_token).not.toBe(issued.refresh_token);
    await expect(
      postToken(target, webAuthorization, refreshTokenBody(issued.refresh_token!)),
    ).rejects.toThrow(/invalid_grant/);
    const again = await codeFlow(target, session.cookie);
    expect(again.access_token).toBeDefined();
  });

  it('refuses a code_verifier that does not match the challenge', async () => {
    const session = await signIn(target);
    const wrongVerifier = 'A'.repeat(43);
    await expect(
      postToken(target, webAuthorization, codeTokenBody(session.code, wrongVerifier)),
    ).rejects.toThrow(/invalid_grant/);
  });
});

describe('measured loops', () => {
  const load = async (plan: Plan) => {
    await plan.prepare();
    return runLoad({
      baseUrl: target.baseUrl,
      connections: 4,
      duration: 1,
      requests: plan.requests,
      tally: plan.tally,
      timeout: plan.timeout,
    });
  };

  it('complete client_credentials (with and without DPoP), authorization_code and refresh_token operations without errors', async () => {
    const session = await signIn(target);
    for (const plan of [
      clientCredentialsPlan(target),
      clientCredentialsDpopPlan(target, new DpopSigner()),
      authorizationCodePlan(target, [session.cookie]),
      refreshTokenPlan(target, session.cookie, 4),
    ]) {
      const result = await load(plan);
      expect(Object.fromEntries(result.failures)).toEqual({});
      expect(result.ok).toBeGreaterThan(0);
    }
  });
});

describe('login form parsing', () => {
  it('reads the action and hidden fields of a login page, unescaping HTML', () => {
    const html = `<main><h1>Sign in</h1>
<form method="post" action="/interaction/abc?x=1&amp;y=2">
<input type="hidden" name="csrf" value="t0k&amp;en">
<input type="text" id="username" name="username" value="">
<input type="password" id="password" name="password" required>
</form></main>`;
    expect(parseForm(html)).toEqual({ action: '/interaction/abc?x=1&y=2', fields: { csrf: 't0k&en' } });
  });
});
