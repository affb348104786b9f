/**
 * Plain OAuth 2.0 upstreams (sessions/upstream-oauth2.ts) against a small, real OAuth 2.0 provider on a
 * loopback port shaped like GitHub (the `github` preset with its endpoints moved there): the code exchange
 * with PKCE and the client secret in the body, the userinfo and e-mail requests with the access token, all
 * real HTTP. The numeric `id` becomes the subject; an answer without one, a failed token request or a
 * userinfo error is refused with an error page and no session.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Browser,
  codeRequest,
  formOf,
  issuer,
  pkcePair,
  rowCounts,
  startServer,
  type TestServer,
  testClients,
} from './helpers.ts';
import { freePort } from './interop-helpers.ts';

const clientSecret = 'gatehouse-at-octo-secret-0123456789-abcdef';

/** What the provider answers at /user next, and what it saw. */
interface OctoProvider {
  url: string;
  user: Record<string, unknown> | undefined;
  emails: unknown;
  /** The form bodies of the token requests, and the Authorization headers of the API requests. */
  tokenRequests: URLSearchParams[];
  apiAuthorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** A GitHub-like OAuth 2.0 provider: /login/oauth/authorize, /login/oauth/access_token, /user, /user/emails. */
async function startOctoProvider(): Promise<OctoProvider> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const codes = new Map<string, { challenge: string | null; redirectUri: string }>();
  const provider: OctoProvider = {
    url,
    user: { id: 4242, login: 'octo', name: 'Octo Cat', email: null, avatar_url: `${url}/octo.png` },
    emails: [
      { email: 'old@example.com', primary: false, verified: true },
      { email: 'octo@example.com', primary: true, verified: true },
    ],
    tokenRequests: [],
    apiAuthorizations: [],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const requestUrl = new URL(request.url ?? '/', url);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (requestUrl.pathname === '/login/oauth/authorize') {
        // The user approves at once: back to the client with a code bound to the PKCE challenge.
        const code = `code-${codes.size}`;
        const redirectUri = requestUrl.searchParams.get('redirect_uri')!;
        codes.set(code, { challenge: requestUrl.searchParams.get('code_challenge'), redirectUri });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', requestUrl.searchParams.get('state')!);
        response.writeHead(302, { location: back.href }).end();
      } else if (requestUrl.pathname === '/login/oauth/access_token' && request.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        provider.tokenRequests.push(form);
        const issued = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (
          issued === undefined ||
          form.get('client_id') !== 'gatehouse' ||
          form.get('client_secret') !== clientSecret ||
          form.get('redirect_uri') !== issued.redirectUri ||
          (issued.challenge !== null && issued.challenge !== challenge)
        ) {
          json(response, 400, { error: 'bad_verification_code' });
          return;
        }
        json(response, 200, {
          access_token: 'gho_octo',
          token_type: 'bearer',
          scope: 'read:user,user:email',
        });
      } else if (requestUrl.pathname === '/user' || requestUrl.pathname === '/user/emails') {
        provider.apiAuthorizations.push(request.headers.authorization);
        if (request.headers.authorization !== 'Bearer gho_octo') {
          json(response, 401, { message: 'Bad credentials' });
          return;
        }
        if (requestUrl.pathname === '/user') {
          if (provider.user === undefined) json(response, 500, { message: 'down' });
          else json(response, 200, provider.user);
        } else json(response, 200, provider.emails);
      } else json(response, 404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return provider;
}

let octo: OctoProvider;
let server: TestServer;

beforeAll(async () => {
  octo = await startOctoProvider();
  const github = {
    preset: 'github',
    clientId: 'gatehouse',
    clientSecret,
    provisioning: 'jit',
    allowPrivateAddresses: true,
    issuer: octo.url,
    endpoints: {
      authorization: `${octo.url}/login/oauth/authorize`,
      token: `${octo.url}/login/oauth/access_token`,
      userinfo: `${octo.url}/user`,
      emails: `${octo.url}/user/emails`,
    },
  };
  server = await startServer({
    upstreams: [
      { ...github, id: 'gh' },
      { ...github, id: 'gh-trusted', trustedForEmail: true },
      { ...github, id: 'gh-no-pkce', pkce: false },
    ],
    clients: testClients({ 'web-app': { upstreams: ['gh', 'gh-trusted', 'gh-no-pkce'] } }),
  });
});

afterAll(async () => {
  await server?.close();
  await octo?.close();
});

const sessionCount = async () => (await rowCounts(server, { sessions: 'sessions' })).sessions;

/** Starts a sign-in at upstream `id` in a fresh browser; returns the browser and the provider's redirect back. */
async function startAt(id: string) {
  const browser = new Browser(server);
  const authorize = await browser.get(codeRequest(pkcePair(), { scope: 'openid profile' }));
  const page = await browser.get(authorize.headers.location as string);
  const action = new RegExp(`<form method="post" action="([^"]*/upstream/${id})"`).exec(page.body)?.[1];
  expect(action).toBeDefined();
  const toProvider = await browser.post(action!, { csrf: formOf(page.body).csrf });
  expect(toProvider.statusCode).toBe(303);
  const authorizationUrl = new URL(toProvider.headers.location as string);
  const answer = await fetch(authorizationUrl, { redirect: 'manual' });
  const back = answer.headers.get('location')!;
  expect(back.startsWith(`${issuer}/upstream/${id}/callback?`)).toBe(true);
  return { browser, authorizationUrl, back };
}

describe('sign-in at a plain OAuth 2.0 upstream (the github preset)', () => {
  it('exchanges the code with PKCE, reads the user and the primary e-mail, and provisions gh:octo', async () => {
    const { browser, authorizationUrl, back } = await startAt('gh');
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationUrl.searchParams.get('scope')).toBe('read:user user:email');
    expect(authorizationUrl.searchParams.has('nonce')).toBe(false);
    const response = await browser.get(back);
    expect(response.statusCode).toBe(303);
    expect(String(response.headers['set-cookie'])).toContain('__Host-gh-session');
    const tokenRequest = octo.tokenRequests.at(-1)!;
    expect(tokenRequest.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(octo.apiAuthorizations.slice(-2)).toEqual(['Bearer gho_octo', 'Bearer gho_octo']);

    const subject = await server.ctx.storage.upstreams.findLinkedUser('gh', '4242');
    const user = await server.ctx.storage.users.findById(subject!);
    expect(user).toMatchObject({
      username: 'gh:octo',
      claims: {
        preferred_username: 'octo',
        name: 'Octo Cat',
        email: 'octo@example.com',
        // GitHub said verified, but gh is not trusted for e-mail.
        email_verified: false,
        picture: `${octo.url}/octo.png`,
      },
    });
    const session = await server.ctx.storage.sessions.findActive(
      createHash('sha256').update(browser.cookies.get('__Host-gh-session')!).digest('base64url'),
      server.clock(),
    );
    expect(session?.amr).toEqual(['fed']);
  });

  it("keeps the e-mails endpoint's verified flag at an upstream trusted for e-mail", async () => {
    // Another address than gh:octo's: a verified one already in use would be offered a link instead.
    const saved = octo.emails;
    octo.emails = [{ email: 'octo-trusted@example.com', primary: true, verified: true }];
    try {
      const { browser, back } = await startAt('gh-trusted');
      expect((await browser.get(back)).statusCode).toBe(303);
    } finally {
      octo.emails = saved;
    }
    const subject = await server.ctx.storage.upstreams.findLinkedUser('gh-trusted', '4242');
    const user = await server.ctx.storage.users.findById(subject!);
    expect(user?.claims).toMatchObject({ email: 'octo-trusted@example.com', email_verified: true });
  });

  it('sends no PKCE parameters to an upstream configured without PKCE', async () => {
    const { browser, authorizationUrl, back } = await startAt('gh-no-pkce');
    expect(authorizationUrl.searchParams.has('code_challenge')).toBe(false);
    expect(authorizationUrl.searchParams.has('code_challenge_method')).toBe(false);
    expect((await browser.get(back)).statusCode).toBe(303);
  });

  it('refuses a user without a usable id, a failing userinfo and a refused code, starting no session', async () => {
    const saved = octo.user;
    try {
      for (const user of [
        { login: 'no-id' },
        { id: 1.5, login: 'fraction' },
        { id: '', login: 'empty' },
        undefined,
      ]) {
        octo.user = user;
        const { browser, back } = await startAt('gh');
        const before = await sessionCount();
        const response = await browser.get(back);
        expect(response.statusCode).toBe(403);
        expect(response.body).toContain('did not succeed');
        expect(String(response.headers['set-cookie'] ?? '')).not.toContain('__Host-gh-session');
        expect(await sessionCount()).toBe(before);
      }
    } finally {
      octo.user = saved;
    }
    const { browser, back } = await startAt('gh');
    const forged = new URL(back);
    forged.searchParams.set('code', 'code-never-issued');
    const response = await browser.get(forged.href);
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('did not succeed');
  });
});
