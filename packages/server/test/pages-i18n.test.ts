/**
 * The pages' theme, templates and translations through inject(): the `ui` config section (logo and extra
 * stylesheet served under the page CSP, colours in the hashed inline stylesheet), the language chosen by
 * `ui_locales` (OpenID Connect Core §3.1.2.1), then `Accept-Language`, then `ui.defaultLocale`, English for
 * a key a catalogue lacks, `ui_locales_supported` in discovery, a login template replaced through
 * `buildServer`, errors tied to their fields, the consent sentence grouped by API, Cancel on the logout
 * confirmation, and bad `ui` settings refused at start-up naming the field.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/load.ts';
import { defaultColors, escapeHtml, page, themeFor } from '../src/views/html.ts';
import { createTranslator } from '../src/views/i18n.ts';
import { de } from '../src/views/locales/de.ts';
import { en } from '../src/views/locales/en.ts';
import { es } from '../src/views/locales/es.ts';
import { fr } from '../src/views/locales/fr.ts';
import { loginPage } from '../src/views/pages.ts';
import type { PageTemplates } from '../src/views/templates.ts';
import {
  Browser,
  buildServer,
  codeRequest,
  formOf,
  type GatehouseServer,
  issuer,
  parseConfig,
  password,
  pkcePair,
  testClock,
  testConfig,
} from './helpers.ts';
import { logoPng, themeCss, themeDirectory, themedUi } from './theme-fixtures.ts';

const servers: GatehouseServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(
  overrides: Record<string, unknown> = {},
  pages?: Partial<PageTemplates>,
  baseDir?: string,
): Promise<GatehouseServer> {
  const config = parseConfig(testConfig(overrides), process.env, baseDir);
  const server = await buildServer(config, { clock: testClock(), ...(pages ? { pages } : {}) });
  servers.push(server);
  return server;
}

/** GET with the browser's cookies and extra headers (Accept-Language), keeping the cookies it sets. */
async function get(
  server: GatehouseServer,
  browser: Browser,
  url: string,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  const response = await server.app.inject({
    method: 'GET',
    url: url.replace(issuer, ''),
    headers: { ...headers, ...(cookie ? { cookie } : {}) },
  });
  const setCookie = response.headers['set-cookie'];
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const [name, value] = line.split(';')[0]!.split('=');
    browser.cookies.set(name!, value!);
  }
  return response;
}

/** The login page of a new authorization request with `extra` parameters and request headers. */
async function loginPageFor(
  server: GatehouseServer,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<{ browser: Browser; response: LightMyRequestResponse }> {
  const browser = new Browser(server);
  const started = await get(server, browser, codeRequest(pkcePair(), { extra }), headers);
  expect(started.statusCode, started.body).toBe(303);
  const response = await get(server, browser, started.headers.location as string, headers);
  return { browser, response };
}

function langOf(html: string): string | undefined {
  return /<html lang="([^"]+)">/.exec(html)?.[1];
}

describe('the language of the pages', () => {
  it('renders the login page in French for ui_locales=fr', async () => {
    const server = await serve();
    const { response } = await loginPageFor(server, { ui_locales: 'fr' });
    expect(response.statusCode).toBe(200);
    expect(langOf(response.body)).toBe('fr');
    expect(response.body).toContain(`<label for="username">${escapeHtml(fr['login.username'])}</label>`);
    expect(response.body).toContain('<h1>Se connecter</h1>');
    expect(response.body).toContain('pour continuer vers Web Application');
    expect(response.body).not.toContain('Username');
  });

  it('renders the login page in Spanish for Accept-Language es-ES, and its error in Spanish', async () => {
    const server = await serve();
    const headers = { 'accept-language': 'es-ES,es;q=0.9' };
    const { browser, response } = await loginPageFor(server, {}, headers);
    expect(langOf(response.body)).toBe('es');
    expect(response.body).toContain('<label for="password">Contraseña</label>');
    const login = formOf(response.body);
    const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const wrong = await server.app.inject({
      method: 'POST',
      url: login.action.replace(issuer, ''),
      headers: { ...headers, cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ csrf: login.csrf, username: 'alice', password: 'nope' }).toString(),
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain(`id="form-error">${es['login.invalid']}</p>`);
  });

  it('keeps ui_locales across the interaction and prefers it to Accept-Language', async () => {
    const server = await serve();
    const { response } = await loginPageFor(server, { ui_locales: 'de' }, { 'accept-language': 'fr' });
    expect(langOf(response.body)).toBe('de');
    expect(response.body).toContain(`<label for="username">${de['login.username']}</label>`);
  });

  it('takes the first offered language of ui_locales, matching a region to its language', async () => {
    const server = await serve();
    expect(langOf((await loginPageFor(server, { ui_locales: 'pt-BR es fr' })).response.body)).toBe('es');
    expect(langOf((await loginPageFor(server, { ui_locales: 'fr-CA de' })).response.body)).toBe('fr');
    // Then Accept-Language, when no ui_locales tag is offered.
    const fallback = await loginPageFor(server, { ui_locales: 'pt it' }, { 'accept-language': 'de-DE' });
    expect(langOf(fallback.response.body)).toBe('de');
  });

  it('falls back to ui.defaultLocale for an unsupported or malformed language, and never refuses the request', async () => {
    const english = await serve();
    const unsupported = await loginPageFor(english, { ui_locales: 'pt' }, { 'accept-language': 'ja' });
    expect(langOf(unsupported.response.body)).toBe('en');
    expect(unsupported.response.body).toContain('<label for="username">Username</label>');
    const malformed = await loginPageFor(english, { ui_locales: '<script> "x' });
    expect(malformed.response.statusCode).toBe(200);
    expect(langOf(malformed.response.body)).toBe('en');

    // A server offering German and English, German by default: French is not offered.
    const german = await serve({ ui: { locales: ['de', 'en'], defaultLocale: 'de' } });
    const notOffered = await loginPageFor(german, { ui_locales: 'fr' });
    expect(langOf(notOffered.response.body)).toBe('de');
    expect(langOf((await loginPageFor(german, {}, { 'accept-language': '*' })).response.body)).toBe('de');
    expect(langOf((await loginPageFor(german, {}, { 'accept-language': 'en-GB' })).response.body)).toBe('en');
  });

  it('shows a key a catalogue lacks in English, never as the key', () => {
    const { 'login.submit': _missing, ...partial } = de;
    const t = createTranslator('de', partial);
    expect(t('login.submit')).toBe(en['login.submit']);
    expect(t('login.username')).toBe('Benutzername');
    expect(t('login.throttled', { seconds: 7 })).toContain('7 Sekunden');
    const html = loginPage(
      { action: '/x', csrfToken: 'c', clientName: 'App', username: undefined, error: undefined },
      { t, theme: themeFor({ productName: 'Gatehouse', colors: defaultColors }) },
    );
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).not.toContain('login.submit');
    expect(html).toContain('<html lang="de">');
  });

  it('ships every key in every catalogue', () => {
    for (const catalogue of [de, fr, es])
      expect(Object.keys(catalogue).sort()).toEqual(Object.keys(en).sort());
  });

  it('translates the error page by Accept-Language', async () => {
    const server = await serve();
    const response = await server.app.inject({
      url: '/interaction/unknown-interaction',
      headers: { 'accept-language': 'de' },
    });
    expect(response.statusCode).toBe(400);
    expect(langOf(response.body)).toBe('de');
    expect(response.body).toContain(`<h1>${de['error.title.request']}</h1>`);
    expect(response.body).toContain(`<p>${de['error.interactionExpired']}</p>`);
    expect(response.body).toContain(de['error.requestId']);
  });

  it('renders an error within the interaction in the language of its ui_locales', async () => {
    const server = await serve();
    const { browser, response } = await loginPageFor(server, { ui_locales: 'es' });
    const login = formOf(response.body);
    const forged = await browser.post(login.action, { csrf: 'forged', username: 'alice', password });
    expect(forged.statusCode).toBeGreaterThanOrEqual(400);
    expect(langOf(forged.body)).toBe('es');
    expect(forged.body).toContain(`<p>${es['error.formExpired']}</p>`);
    expect(forged.body).toContain(es['error.requestId']);
    expect(forged.body).toContain(
      `${escapeHtml(es['error.backTo'].replace('{client}', 'Web Application'))}</a>`,
    );
  });

  it('renders the device pages in the browser language', async () => {
    const server = await serve();
    const response = await server.app.inject({ url: '/device', headers: { 'accept-language': 'fr-FR' } });
    expect(langOf(response.body)).toBe('fr');
    expect(response.body).toContain(escapeHtml(fr['device.signIn.title']));
  });

  it('advertises the offered languages in discovery', async () => {
    const all = await serve();
    const metadata = JSON.parse((await all.app.inject({ url: '/.well-known/openid-configuration' })).body);
    expect(metadata.ui_locales_supported).toEqual(['en', 'de', 'fr', 'es']);
    const some = await serve({ ui: { locales: ['de', 'en'], defaultLocale: 'de' } });
    const limited = JSON.parse(
      (await some.app.inject({ url: '/.well-known/oauth-authorization-server' })).body,
    );
    expect(limited.ui_locales_supported).toEqual(['de', 'en']);
  });
});

describe('the theme', () => {
  it('serves the logo and the extra stylesheet with their types and nosniff', async () => {
    const server = await serve({ ui: themedUi }, undefined, themeDirectory());
    const logo = await server.app.inject({ url: '/ui/logo' });
    expect(logo.statusCode).toBe(200);
    expect(logo.headers['content-type']).toBe('image/png');
    expect(logo.headers['x-content-type-options']).toBe('nosniff');
    expect(logo.rawPayload.equals(logoPng)).toBe(true);
    const css = await server.app.inject({ url: '/ui/theme.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['x-content-type-options']).toBe('nosniff');
    expect(css.body).toBe(themeCss);
    expect(String(css.headers['content-security-policy'])).toMatch(/^default-src 'none'/);

    // Without a theme there is nothing at these paths.
    const plain = await serve();
    expect((await plain.app.inject({ url: '/ui/logo' })).statusCode).toBe(404);
    expect((await plain.app.inject({ url: '/ui/theme.css' })).statusCode).toBe(404);
  });

  it('puts the product name, logo, colours and stylesheet on the page under a strict CSP', async () => {
    const server = await serve({ ui: themedUi }, undefined, themeDirectory());
    const { response } = await loginPageFor(server);
    const csp = String(response.headers['content-security-policy']);
    const inline = /<style>([\s\S]*?)<\/style>/.exec(response.body)![1]!;
    const hash = createHash('sha256').update(inline).digest('base64');
    expect(csp).toBe(
      `default-src 'none'; style-src 'sha256-${hash}' ${issuer}/ui/theme.css; img-src 'self'; base-uri 'none'; frame-ancestors 'none'`,
    );
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(inline).toContain('background:#102030');
    expect(inline).toContain('color:#203040');
    expect(inline).toContain('background:#aa3300');
    expect(response.body).toContain(`<link rel="stylesheet" href="${issuer}/ui/theme.css">`);
    expect(response.body).toContain(`<img src="${issuer}/ui/logo" alt="">`);
    expect(response.body).toContain('<span>Acme Identity</span>');
    expect(response.body).toContain('<title>Sign in – Acme Identity</title>');
    expect(response.body).not.toMatch(/<script/i);

    // The hash changes with the theme: the default theme's inline stylesheet is another one.
    const plain = await serve();
    const plainCsp = String((await loginPageFor(plain)).response.headers['content-security-policy']);
    expect(plainCsp).not.toContain(hash);
    expect(plainCsp).not.toContain('/ui/theme.css');
  });

  it('uses the product name on the logout confirmation, which has a Cancel that signs nobody out', async () => {
    const server = await serve({ ui: { productName: 'Acme Identity' } });
    // Sign in, then ask to log out without a hint: the confirmation is shown.
    const browser = new Browser(server);
    const started = await browser.get(codeRequest(pkcePair()));
    const login = formOf((await browser.get(started.headers.location as string)).body);
    await browser.post(login.action, { csrf: login.csrf, username: 'alice', password });
    const confirm = await get(server, browser, '/end_session', { 'accept-language': 'de' });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain('<h1>Von Acme Identity abmelden?</h1>');
    expect(confirm.body).toContain(`<a class="secondary" href="${issuer}/">Abbrechen</a>`);
    // Following Cancel leaves the session: the confirmation is still asked for.
    expect((await get(server, browser, '/end_session')).body).toContain('Sign out of Acme Identity?');
  });
});

describe('accessibility', () => {
  it('ties an empty username to its field and focuses it', async () => {
    const server = await serve();
    const { browser, response } = await loginPageFor(server);
    const login = formOf(response.body);
    const empty = await browser.post(login.action, { csrf: login.csrf, username: '', password: '' });
    expect(empty.statusCode).toBe(401);
    expect(empty.body).toContain(
      '<p class="error" role="alert" id="form-error">Enter your username and password.</p>',
    );
    expect(empty.body).toMatch(
      /<input type="text" id="username"[^>]*aria-invalid="true" aria-describedby="form-error" autofocus/,
    );
    expect(empty.body).not.toMatch(/<input type="password"[^>]*(aria-invalid|autofocus)/);
  });

  it('words consent as one sentence with the scopes grouped by API, identity first', async () => {
    const server = await serve();
    const browser = new Browser(server);
    const started = await browser.get(
      codeRequest(pkcePair(), { scope: 'orders.read openid api1.read profile orders.write' }),
    );
    const login = formOf((await browser.get(started.headers.location as string)).body);
    const next = await browser.post(login.action, { csrf: login.csrf, username: 'alice', password });
    const consent = (await browser.get(next.headers.location as string)).body;
    const sentence =
      /<p id="request-summary">([^<]*)<\/p>\n<ul aria-labelledby="request-summary">([\s\S]*?)\n<\/ul>\n<form/.exec(
        consent,
      );
    expect(sentence?.[1]).toBe('Web Application wants to:');
    const groups = [
      ...sentence![2]!.matchAll(/<li><strong>([^<]*)<\/strong>\n<ul>\n([\s\S]*?)\n<\/ul><\/li>/g),
    ].map((group) => [group[1], [...group[2]!.matchAll(/\(([^)]+)\)<\/span>/g)].map((scope) => scope[1])]);
    expect(groups).toEqual([
      ['know who you are', ['openid', 'profile']],
      ['use orders-api on your behalf', ['orders.read', 'orders.write']],
      ['use api1 on your behalf', ['api1.read']],
    ]);
  });
});

describe('replaceable templates', () => {
  it('renders the login page from a template passed to buildServer; the others stay the defaults', async () => {
    const server = await serve(
      {},
      {
        login: (view, ui) =>
          page(
            ui,
            'Custom',
            `<h1 class="custom-login">${escapeHtml(ui.t('login.continueTo', { client: view.clientName }))}</h1>
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(view.csrfToken)}">
<input name="username"><input name="password" type="password"><button>Go</button>
</form>`,
          ),
      },
    );
    const { browser, response } = await loginPageFor(server, { ui_locales: 'de' });
    expect(response.body).toContain('<h1 class="custom-login">um mit Web Application fortzufahren</h1>');
    expect(response.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-/);
    // The replaced page still signs in; consent comes from the default template.
    const login = formOf(response.body);
    const next = await browser.post(login.action, { csrf: login.csrf, username: 'alice', password });
    expect(next.statusCode).toBe(303);
    const consent = await browser.get(next.headers.location as string);
    expect(consent.body).toContain('Web Application möchte auf Ihr Konto zugreifen');
  });
});

describe('bad ui settings', () => {
  const dir = themeDirectory();
  const attempt = (ui: Record<string, unknown>) => () => parseConfig(testConfig({ ui }), {}, dir);

  it('resolves the theme files against the config directory', () => {
    const config = parseConfig(testConfig({ ui: themedUi }), {}, dir);
    expect(config.ui.logo).toBe(join(dir, 'logo.png'));
    expect(config.ui.stylesheet).toBe(join(dir, 'theme.css'));
  });

  it('refuses each with a ConfigError naming the field', () => {
    expect(attempt({ logo: 'missing.png' })).toThrow(ConfigError);
    expect(attempt({ logo: 'missing.png' })).toThrow(/^config ui\.logo: cannot read .*missing\.png: ENOENT/);
    expect(attempt({ stylesheet: 'gone.css' })).toThrow(/^config ui\.stylesheet: cannot read .*ENOENT/);
    expect(attempt({ logo: 'theme.css' })).toThrow(/^config ui\.logo: must be an image file/);
    expect(attempt({ stylesheet: 'logo.png' })).toThrow(/^config ui\.stylesheet: must be a \.css file/);
    expect(attempt({ colors: { primary: 'red;}body{display:none' } })).toThrow(
      /^config ui\.colors\.primary: must be a CSS hex colour/,
    );
    expect(attempt({ colors: { background: '#12345' } })).toThrow(/config ui\.colors\.background/);
    expect(attempt({ locales: ['en', 'it'] })).toThrow(/config ui\.locales\[1\]/);
    expect(attempt({ locales: ['de'], defaultLocale: 'en' })).toThrow(
      /^config ui\.defaultLocale: must be one of ui\.locales \(de\)/,
    );
    expect(attempt({ productName: '' })).toThrow(ConfigError);
  });
});
