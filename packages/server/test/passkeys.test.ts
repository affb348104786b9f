/**
 * Passkeys over HTTP (issue 17; the ceremonies themselves run in Chromium in passkeys-browser.test.ts):
 * the script and its CSP nonce only on the pages that run a ceremony, every other page script-free, the
 * script served on its own, bad ceremony posts answered with a page (never a 500), nothing of it when
 * `webauthn.enabled` is off, and the relying party settings checked at start-up.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { en } from '../src/views/locales/en.ts';
import { Browser, codeRequest, formOf, pkcePair, testConfig, useServer } from './helpers.ts';

/** The script tags of a page and the nonce its CSP allows, if any. */
function scriptsOf(response: { body: string; headers: Record<string, unknown> }) {
  const csp = String(response.headers['content-security-policy'] ?? '');
  return {
    csp,
    scripts: [...response.body.matchAll(/<script\b[^>]*>/g)].map((match) => match[0]),
    nonce: /script-src 'nonce-([^']+)'/.exec(csp)?.[1],
  };
}

function expectScriptFree(response: { body: string; headers: Record<string, unknown> }) {
  const { csp, scripts } = scriptsOf(response);
  expect(csp).toMatch(/^default-src 'none';/);
  expect(csp).not.toContain('script-src');
  expect(scripts).toEqual([]);
}

/** Opens the login page of a new authorization in `browser`. */
async function loginPage(browser: Browser) {
  const started = await browser.get(codeRequest(pkcePair()));
  expect(started.statusCode).toBe(303);
  return browser.get(started.headers.location as string);
}

/** The passkey-first form of a login page: its action and CSRF token. */
function passkeyFormOf(html: string) {
  const form =
    /<form method="post" action="([^"]+)" class="passkey" data-webauthn="get" data-options="([^"]+)">/.exec(
      html,
    );
  if (form === null) throw new Error('no passkey form');
  return { action: form[1]!, options: JSON.parse(form[2]!.replace(/&quot;/g, '"')), csrf: formOf(html).csrf };
}

describe('with webauthn.enabled', () => {
  const server = useServer({ webauthn: { enabled: true } });

  it('runs the one script on the login page, allowed by a fresh nonce per response', async () => {
    const browser = new Browser(server);
    const first = scriptsOf(await loginPage(browser));
    const second = scriptsOf(await loginPage(browser));
    for (const page of [first, second]) {
      expect(page.scripts).toEqual([
        `<script src="http://localhost:3000/ui/webauthn.js" nonce="${page.nonce}" defer>`,
      ]);
      expect(page.csp).toMatch(/^default-src 'none'; .*; script-src 'nonce-[A-Za-z0-9_-]{24}'$/);
    }
    expect(first.nonce).not.toBe(second.nonce);
  });

  it('offers passkey-first sign-in with options for any discoverable credential and user verification', async () => {
    const page = await loginPage(new Browser(server));
    const form = passkeyFormOf(page.body);
    expect(form.action).toMatch(/\/interaction\/[\w-]+\/passkey-login$/);
    expect(form.options).toMatchObject({
      rpId: 'localhost',
      userVerification: 'required',
      allowCredentials: [],
    });
    expect(form.options.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(page.body).toContain(en['passkey.signIn']);
  });

  it('serves the script with its type, nosniff and a CSP of its own', async () => {
    const script = await server.app.inject({ method: 'GET', url: '/ui/webauthn.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['x-content-type-options']).toBe('nosniff');
    expect(script.body).toContain('navigator.credentials.get');
  });

  it('keeps every other page script-free: error page, signed-out /mfa, landing page, consent', async () => {
    expectScriptFree(await server.app.inject({ method: 'GET', url: '/interaction/no-such-interaction' }));
    expectScriptFree(await server.app.inject({ method: 'GET', url: '/mfa' }));
    expectScriptFree(await server.app.inject({ method: 'GET', url: '/', headers: { accept: 'text/html' } }));
    const browser = new Browser(server);
    const login = formOf((await loginPage(browser)).body);
    const consent = await browser.post(login.action, {
      csrf: login.csrf,
      username: 'bob',
      password: 'correct horse battery staple',
    });
    const page = await browser.get(consent.headers.location as string);
    expect(page.body).toContain('name="decision"');
    expectScriptFree(page);
  });

  it('answers bad ceremony posts with the login page and an error, never a server error', async () => {
    const browser = new Browser(server);
    const form = passkeyFormOf((await loginPage(browser)).body);
    const cases: [Record<string, string>, number, keyof typeof en][] = [
      [{ webauthn_error: 'NotAllowedError' }, 400, 'webauthn.cancelled'],
      [{ credential: '{not json' }, 400, 'webauthn.failed'],
      [{ credential: JSON.stringify({ id: 'x', response: {} }) }, 400, 'webauthn.failed'],
      [
        { credential: JSON.stringify({ id: 'a\u0000b', response: { clientDataJSON: 'e30' } }) },
        400,
        'webauthn.failed',
      ],
      [
        {
          // Well formed, but a challenge this server never issued.
          credential: JSON.stringify({
            id: 'Y3JlZA',
            rawId: 'Y3JlZA',
            type: 'public-key',
            response: {
              clientDataJSON: Buffer.from(
                JSON.stringify({
                  type: 'webauthn.get',
                  challenge: 'bm90LWlzc3VlZA',
                  origin: 'http://localhost:3000',
                }),
              ).toString('base64url'),
              authenticatorData: 'AA',
              signature: 'AA',
            },
            clientExtensionResults: {},
          }),
        },
        401,
        'webauthn.failed',
      ],
    ];
    for (const [fields, status, message] of cases) {
      const answer = await browser.post(form.action, { csrf: form.csrf, ...fields });
      expect(answer.statusCode, JSON.stringify(fields)).toBe(status);
      expect(answer.body).toContain(en[message]);
      // The login page again, with a new ceremony.
      expect(passkeyFormOf(answer.body).options.challenge).not.toBe(form.options.challenge);
    }
    // Without the form's token nothing is checked.
    const forged = await browser.post(form.action, { csrf: 'forged', credential: '{}' });
    expect(forged.statusCode).toBe(400);
    expect(forged.body).not.toContain(en['webauthn.failed']);
  });

  it('refuses the /mfa passkey forms without a signed-in session', async () => {
    for (const path of ['/mfa/passkeys', '/mfa/passkeys/remove', '/mfa/passkey/verify']) {
      const answer = await new Browser(server).post(`http://localhost:3000${path}`, { csrf: 'x' });
      expect(answer.statusCode, path).toBe(400);
      expect(answer.body).toContain(en['error.formExpired']);
    }
  });
});

describe('with webauthn off (the default)', () => {
  const server = useServer();

  it('runs no script on the login page, serves no script and refuses the passkey forms', async () => {
    const browser = new Browser(server);
    const page = await loginPage(browser);
    expectScriptFree(page);
    expect(page.body).not.toContain('data-webauthn');
    expect((await server.app.inject({ method: 'GET', url: '/ui/webauthn.js' })).statusCode).toBe(404);
    const login = formOf(page.body);
    const refused = await browser.post(login.action.replace(/\/login$/, '/passkey-login'), {
      csrf: login.csrf,
      credential: '{}',
    });
    expect(refused.statusCode).toBe(400);
    expectScriptFree(refused);
  });
});

describe('the relying party settings', () => {
  const config = (issuer: string, webauthn: Record<string, unknown>) =>
    parseConfig(testConfig({ issuer, webauthn: { enabled: true, ...webauthn } }));

  it('takes the issuer host or a parent domain as RP ID, and refuses anything else at start-up', () => {
    expect(config('https://login.example.com', {}).webauthn.rpId).toBeUndefined();
    expect(config('https://login.example.com', { rpId: 'example.com' }).webauthn.rpId).toBe('example.com');
    expect(() => config('https://login.example.com', { rpId: 'other.com' })).toThrow(
      /webauthn\.rpId: must be the issuer host "login\.example\.com" or a parent domain of it/,
    );
    expect(() => config('https://login.example.com', { rpId: 'ample.com' })).toThrow(/webauthn\.rpId/);
    expect(() => config('http://127.0.0.1:3000', {})).toThrow(/webauthn\.rpId: WebAuthn needs a domain name/);
    expect(() => config('https://login.example.com', { rpId: 'https://example.com' })).toThrow(
      /must be a domain name/,
    );
  });
});
