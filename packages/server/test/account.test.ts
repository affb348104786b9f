/**
 * The account page /account over HTTP (inject): the sign-in it asks for without a session, CSRF on every
 * form, a recent sign-in for the password change, a wrong current password refused and counted with the
 * login failures, the profile's claims, and ids of other users' sessions and applications refused.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Account, AccountStore } from '../src/accounts/accounts.ts';
import { hotp } from '../src/authn/totp.ts';
import { de } from '../src/views/locales/de.ts';
import { en } from '../src/views/locales/en.ts';
import {
  Browser,
  buildServer,
  codeFlowTokens,
  formOf,
  issuer,
  logCapture,
  parseConfig,
  password,
  refreshRequest,
  startServer,
  type TestServer,
  testConfig,
  useServer,
} from './helpers.ts';

const log = logCapture();
const server = useServer(
  { rateLimits: { loginFreeFailures: 3 }, logging: { level: 'info' } },
  { each: true, logStream: log.stream },
);
beforeEach(() => {
  log.lines.length = 0;
});
const auditEvents = (name: string) =>
  log.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.audit === name);

/** Signs in on the account page's own form and returns the account page. */
async function signInOnAccountPage(browser: Browser, username = 'alice', secret = password) {
  const signIn = await browser.get('/account');
  expect(signIn.statusCode).toBe(200);
  const { action, csrf } = formOf(signIn.body);
  expect(action).toBe(`${issuer}/account/login`);
  const answer = await browser.post(action, { csrf, username, password: secret });
  expect(answer.statusCode).toBe(303);
  expect(answer.headers.location).toBe(`${issuer}/account`);
  const page = await browser.get('/account');
  expect(page.statusCode).toBe(200);
  return page;
}

/** The page's CSRF token (every form of the page carries the same). */
function csrfOf(html: string): string {
  return formOf(html).csrf;
}

/** The refresh token of a code flow as alice in `browser`'s session (a new browser when not given). */
async function refreshTokenOfWebApp() {
  const { browser, tokens } = await codeFlowTokens(server);
  expect(tokens.status).toBe(200);
  return { browser, refreshToken: tokens.body.refresh_token as string };
}

function refresh(refreshToken: string) {
  return refreshRequest(server, refreshToken);
}

describe('/account without a session', () => {
  it('shows the sign-in form, and a form posted without a session goes back to it', async () => {
    const browser = new Browser(server);
    const page = await browser.get('/account');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).toContain('name="password"');
    expect(page.body).not.toContain('id="applications"');
    const posted = await browser.post('/account/password', {
      csrf: 'x',
      current_password: password,
      new_password: 'a brand new password',
      confirm_password: 'a brand new password',
    });
    expect(posted.statusCode).toBe(303);
    expect(posted.headers.location).toBe(`${issuer}/account`);
    expect(await server.ctx.accounts.authenticate('alice', password)).toBeDefined();
  });

  it('signs in with the page form and shows the profile claims', async () => {
    const page = await signInOnAccountPage(new Browser(server));
    expect(page.body).toContain('Signed in as alice');
    expect(page.body).toContain('Alice Smith');
    expect(page.body).toContain('alice@example.com');
    expect(page.body).toContain('id="password"');
    // A wrong password on the page's sign-in form is the sign-in's error.
    const other = new Browser(server);
    const form = formOf((await other.get('/account')).body);
    const wrong = await other.post(form.action, { csrf: form.csrf, username: 'alice', password: 'nope' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('The username or password is incorrect.');
  });

  it('speaks the browser language (Accept-Language: de-DE) in the theme of the other pages', async () => {
    const browser = new Browser(server);
    await signInOnAccountPage(browser);
    const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const page = await server.app.inject({
      method: 'GET',
      url: '/account',
      headers: { cookie, 'accept-language': 'de-DE,de;q=0.9' },
    });
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).toContain('<html lang="de">');
    for (const key of [
      'account.title',
      'account.profile.heading',
      'account.apps.heading',
      'account.sessions.heading',
      'account.password.heading',
      'account.factors.heading',
    ] as const)
      expect(page.body).toContain(de[key]);
    expect(page.body).not.toContain(en['account.apps.heading']);
  });

  it('offers no password change when the account store cannot change passwords', async () => {
    const carol: Account = { subject: 'carol-1', username: 'carol', enabled: true, roles: [] };
    const accounts: AccountStore = {
      findBySubject: async (subject) => (subject === carol.subject ? carol : undefined),
      findByUsername: async (username) => (username === 'carol' ? carol : undefined),
      authenticate: async (username, secret) =>
        username === 'carol' && secret === password ? carol : undefined,
      claims: async () => ({ name: 'Carol Example' }),
    };
    const custom = await buildServer(parseConfig(testConfig()), { accounts });
    try {
      const browser = new Browser(custom);
      const page = await signInOnAccountPage(browser, 'carol');
      expect(page.body).toContain('Carol Example');
      expect(page.body).not.toContain('id="password"');
      const posted = await browser.post('/account/password', {
        csrf: csrfOf(page.body),
        current_password: password,
        new_password: 'a brand new password',
        confirm_password: 'a brand new password',
      });
      expect(posted.statusCode).toBe(404);
    } finally {
      await custom.close();
    }
  });

  it('is not served when account.enabled is false', async () => {
    const off = await startServer({ account: { enabled: false } });
    try {
      expect((await off.app.inject({ method: 'GET', url: '/account' })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe('CSRF on the account forms', () => {
  it('refuses a revoke without the token or with a wrong one, and changes nothing', async () => {
    const { browser, refreshToken } = await refreshTokenOfWebApp();
    const page = await browser.get('/account');
    expect(page.body).toContain('Web Application');
    for (const csrf of [undefined, 'wrong-token', `${csrfOf(page.body)}x`]) {
      const answer = await browser.post('/account/applications/revoke', { csrf, client_id: 'web-app' });
      expect(answer.statusCode).toBe(400);
      expect(answer.body).toContain('The form has expired. Open your account page again.');
    }
    // Another browser's token (a page rendered for another session) is no token for this one.
    const other = await signInOnAccountPage(new Browser(server), 'bob');
    const foreign = await browser.post('/account/applications/revoke', {
      csrf: csrfOf(other.body),
      client_id: 'web-app',
    });
    expect(foreign.statusCode).toBe(400);
    expect((await refresh(refreshToken)).status).toBe(200);
  });
});

describe('the password change', () => {
  it('needs a recent sign-in: a stale one gets the sign-in form, then the change goes through', async () => {
    const browser = new Browser(server);
    const elsewhere = new Browser(server);
    await signInOnAccountPage(elsewhere);
    const page = await signInOnAccountPage(browser);
    server.clock.advance(server.config.account.reauthMaxAge + 1);
    const change = {
      csrf: csrfOf(page.body),
      current_password: password,
      new_password: 'a brand new password',
      confirm_password: 'a brand new password',
    };
    const stale = await browser.post('/account/password', change);
    expect(stale.statusCode).toBe(401);
    expect(stale.body).toContain('This change needs a recent sign-in.');
    expect(await server.ctx.accounts.authenticate('alice', password)).toBeDefined();
    expect(auditEvents('account_reauthentication_required')).toHaveLength(1);
    // Signing in again on that form comes back to the section, and the same form now succeeds.
    const reauth = formOf(stale.body);
    const again = await browser.post(reauth.action, {
      csrf: reauth.csrf,
      username: 'alice',
      password,
      section: 'password',
    });
    expect(again.headers.location).toBe(`${issuer}/account#password`);
    const done = await browser.post('/account/password', { ...change, end_other_sessions: 'yes' });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe(`${issuer}/account?done=password#password`);
    expect((await browser.get(done.headers.location as string)).body).toContain(
      'Your password has been changed.',
    );
    expect(await server.ctx.accounts.authenticate('alice', password)).toBeUndefined();
    expect(await server.ctx.accounts.authenticate('alice', 'a brand new password')).toBeDefined();
    expect(auditEvents('account_password_changed')).toHaveLength(1);
    // The other session ended with the change (the box is ticked by default); this one stays.
    expect((await elsewhere.get('/account')).body).not.toContain('id="sessions"');
    expect((await browser.get('/account')).body).toContain('id="sessions"');
    expect(log.lines.join('\n')).not.toContain('a brand new password');
  });

  it('refuses a wrong current password, counts it as a failed sign-in, and locks after the free failures', async () => {
    const browser = new Browser(server);
    const page = await signInOnAccountPage(browser);
    const change = (current: string) => ({
      csrf: csrfOf(page.body),
      current_password: current,
      new_password: 'a brand new password',
      confirm_password: 'a brand new password',
    });
    for (let attempt = 0; attempt < 3; attempt++) {
      const wrong = await browser.post('/account/password', change('not the password'));
      expect(wrong.statusCode).toBe(401);
      expect(wrong.body).toContain('The current password is incorrect.');
      expect(wrong.body).toMatch(/id="current_password"[^>]*aria-invalid="true"/);
    }
    expect(auditEvents('login_failed')).toHaveLength(3);
    // The fourth failure locks the account's counter: even the right password is not checked now.
    await browser.post('/account/password', change('not the password'));
    const locked = await browser.post('/account/password', change(password));
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(await server.ctx.accounts.authenticate('alice', password)).toBeDefined();
  });

  it('refuses a short or mismatched new password without checking the current one', async () => {
    const browser = new Browser(server);
    const page = await signInOnAccountPage(browser);
    const csrf = csrfOf(page.body);
    const change = (newPassword: string, confirmation: string) =>
      browser.post('/account/password', {
        csrf,
        current_password: password,
        new_password: newPassword,
        confirm_password: confirmation,
      });
    const short = await change('short', 'short');
    expect(short.statusCode).toBe(400);
    expect(short.body).toContain('The new password needs at least 8 characters.');
    const mismatch = await change('a brand new password', 'another new password');
    expect(mismatch.statusCode).toBe(400);
    expect(auditEvents('login_failed')).toHaveLength(0);
  });
});

describe('connected applications and sessions', () => {
  it('revokes a connected application: its refresh token fails at once, its consent is forgotten', async () => {
    const { browser, refreshToken } = await refreshTokenOfWebApp();
    const page = await browser.get('/account');
    expect(page.body).toMatch(/data-client-id="web-app"/);
    expect(page.body).toContain('orders.read');
    const revoke = await browser.post('/account/applications/revoke', {
      csrf: csrfOf(page.body),
      client_id: 'web-app',
    });
    expect(revoke.statusCode).toBe(303);
    const refreshed = await refresh(refreshToken);
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect(await server.ctx.storage.consents.find((await alice()).subject, 'web-app')).toEqual([]);
    const after = await browser.get(revoke.headers.location as string);
    expect(after.body).not.toMatch(/data-client-id="web-app"/);
    expect(after.body).toContain('The application no longer has access to your account.');
    expect(auditEvents('account_application_revoked')[0]).toMatchObject({ client_id: 'web-app' });
  });

  it("cannot touch another user's application or session by naming its id", async () => {
    const { browser: aliceBrowser, refreshToken } = await refreshTokenOfWebApp();
    const aliceSid = /data-sid="([^"]+)"/.exec((await aliceBrowser.get('/account')).body)![1]!;
    const bob = new Browser(server);
    const bobPage = await signInOnAccountPage(bob, 'bob');
    const csrf = csrfOf(bobPage.body);
    const revoke = await bob.post('/account/applications/revoke', { csrf, client_id: 'web-app' });
    expect(revoke.statusCode).toBe(404);
    const end = await bob.post('/account/sessions/end', { csrf, sid: aliceSid });
    expect(end.statusCode).toBe(404);
    const unknown = await bob.post('/account/sessions/end', { csrf, sid: 'no-such-session' });
    expect(unknown.statusCode).toBe(404);
    expect((await refresh(refreshToken)).status).toBe(200);
    expect(await server.ctx.storage.sessions.findLiveBySid(aliceSid, server.clock())).toBeDefined();
  });

  it('ends another session of the user, and all others, keeping this one', async () => {
    const first = new Browser(server);
    const second = new Browser(server);
    const third = new Browser(server);
    await signInOnAccountPage(second);
    await signInOnAccountPage(third);
    const page = await signInOnAccountPage(first);
    expect(page.body.match(/class="session/g)).toHaveLength(3);
    expect(page.body.match(/class="session current"/g)).toHaveLength(1);
    const secondSid = /class="session current" data-sid="([^"]+)"/.exec(
      (await second.get('/account')).body,
    )?.[1];
    const sids = [...page.body.matchAll(/<li class="session" data-sid="([^"]+)"/g)].map((match) => match[1]!);
    expect(sids).toHaveLength(2);
    const end = await first.post('/account/sessions/end', { csrf: csrfOf(page.body), sid: sids[0] });
    expect(end.statusCode).toBe(303);
    const ended = sids[0] === secondSid ? second : third;
    expect((await ended.get('/account')).body).toContain('name="password"');
    // Ending sessions needs a recent sign-in too.
    server.clock.advance(server.config.account.reauthMaxAge + 1);
    const stale = await first.post('/account/sessions/end-others', { csrf: csrfOf(page.body) });
    expect(stale.statusCode).toBe(401);
    const kept = ended === second ? third : second;
    expect((await kept.get('/account')).body).toContain('id="sessions"');
    const reauth = formOf(stale.body);
    await first.post(reauth.action, { csrf: reauth.csrf, username: 'alice', password, section: 'sessions' });
    const others = await first.post('/account/sessions/end-others', { csrf: csrfOf(page.body) });
    expect(others.statusCode).toBe(303);
    expect((await second.get('/account')).body).not.toContain('id="sessions"');
    expect((await third.get('/account')).body).not.toContain('id="sessions"');
    expect((await first.get('/account')).body.match(/class="session/g)).toHaveLength(1);
  });
});

async function alice() {
  const account = await server.ctx.accounts.findByUsername('alice');
  if (account === undefined) throw new Error('no alice');
  return account;
}

/** The six-digit code of the enrolment page's secret at the server's time (RFC 6238). */
function codeOf(html: string, now: number): string {
  const secret = /<code id="totp-secret">([^<]+)<\/code>/.exec(html)?.[1];
  if (secret === undefined) throw new Error(`no secret in page: ${html.slice(0, 300)}`);
  return hotp(secret.replace(/\s/g, ''), Math.floor(now / 30));
}

function recoveryCodesOf(html: string): string[] {
  const list = /<ul id="recovery-codes">([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
  return [...list.matchAll(/<code>([^<]+)<\/code>/g)].map((match) => match[1]!);
}

/** Sets up an authenticator from the account page of `browser`; returns the enrolment page. */
async function enrolFromAccountPage(target: TestServer, browser: Browser) {
  const page = await browser.get('/account');
  const enrolment = await browser.post('/account/totp', { csrf: csrfOf(page.body) });
  expect(enrolment.statusCode).toBe(200);
  expect(formOf(enrolment.body).action).toBe(`${issuer}/account/totp/confirm`);
  const confirmed = await browser.post('/account/totp/confirm', {
    csrf: csrfOf(page.body),
    code: codeOf(enrolment.body, target.clock()),
  });
  expect(confirmed.statusCode).toBe(200);
  expect(recoveryCodesOf(confirmed.body)).toHaveLength(10);
  return enrolment;
}

describe('second factors on the account page', () => {
  it('sets up an authenticator, asks for it at the next sign-in, makes new recovery codes and removes it', async () => {
    const browser = new Browser(server);
    await signInOnAccountPage(browser);
    const enrolment = await enrolFromAccountPage(server, browser);
    const page = await browser.get('/account');
    expect(page.body).toContain('An authenticator app is set up.');
    expect(auditEvents('mfa_totp_enrolled')).toHaveLength(1);

    // Another browser signs in with the password: the page asks for the code before it opens.
    const other = new Browser(server);
    const form = formOf((await other.get('/account')).body);
    await other.post(form.action, { csrf: form.csrf, username: 'alice', password });
    const prompt = await other.get('/account');
    expect(formOf(prompt.body).action).toBe(`${issuer}/account/mfa`);
    expect(prompt.body).not.toContain('id="applications"');
    const wrong = await other.post('/account/mfa', { csrf: csrfOf(prompt.body), code: '000000' });
    expect(wrong.statusCode).toBe(401);
    server.clock.advance(30);
    const right = await other.post('/account/mfa', {
      csrf: csrfOf(prompt.body),
      code: codeOf(enrolment.body, server.clock()),
    });
    expect(right.statusCode).toBe(303);
    const opened = await other.get('/account');
    expect(opened.body).toContain('id="factors"');
    // A form posted before the code is asked for is sent back to the prompt, not carried out.
    const gated = new Browser(server);
    const gatedForm = formOf((await gated.get('/account')).body);
    await gated.post(gatedForm.action, { csrf: gatedForm.csrf, username: 'alice', password });
    const gatedPrompt = await gated.get('/account');
    const early = await gated.post('/account/totp/remove', { csrf: csrfOf(gatedPrompt.body) });
    expect(early.statusCode).toBe(303);
    expect(early.headers.location).toBe(`${issuer}/account`);

    const codes = await other.post('/account/recovery-codes', { csrf: csrfOf(opened.body) });
    expect(recoveryCodesOf(codes.body)).toHaveLength(10);
    const removed = await other.post('/account/totp/remove', { csrf: csrfOf(opened.body) });
    expect(removed.statusCode).toBe(303);
    expect((await other.get(removed.headers.location as string)).body).toContain(
      'No authenticator app is set up.',
    );
    expect(auditEvents('account_totp_removed')).toHaveLength(1);
    expect((await server.ctx.storage.mfa.findTotp((await alice()).subject))?.confirmedAt ?? null).toBeNull();
  });

  it('enrols first when the policy requires a second factor, and then refuses to remove it', async () => {
    const strict = await startServer({ mfa: { requireForRoles: ['OrderAdmin'] } });
    try {
      const browser = new Browser(strict);
      const form = formOf((await browser.get('/account')).body);
      await browser.post(form.action, { csrf: form.csrf, username: 'alice', password });
      const enrolment = await browser.get('/account');
      expect(formOf(enrolment.body).action).toBe(`${issuer}/account/totp/confirm`);
      // Nothing else may be changed before the factor is set up.
      const early = await browser.post('/account/applications/revoke', {
        csrf: csrfOf(enrolment.body),
        client_id: 'web-app',
      });
      expect(early.headers.location).toBe(`${issuer}/account`);
      const confirmed = await browser.post('/account/totp/confirm', {
        csrf: csrfOf(enrolment.body),
        code: codeOf(enrolment.body, strict.clock()),
      });
      expect(recoveryCodesOf(confirmed.body)).toHaveLength(10);
      const page = await browser.get('/account');
      expect(page.body).toContain('An authenticator app is set up.');
      const refused = await browser.post('/account/totp/remove', { csrf: csrfOf(page.body) });
      expect(refused.statusCode).toBe(409);
      expect(refused.body).toContain('Your account must use two-step verification');
      expect(
        (await strict.ctx.storage.mfa.findTotp((await strict.ctx.accounts.findByUsername('alice'))!.subject))
          ?.confirmedAt,
      ).not.toBeNull();
    } finally {
      await strict.close();
    }
  });
});

/** A stored WebAuthn credential of `userId` (the ceremonies themselves are passkeys-browser.test.ts's). */
function storedPasskey(credentialId: string, userId: string, now: number) {
  return {
    credentialId,
    userId,
    publicKey: 'pQECAyYgASFYIA',
    counter: 0,
    transports: ['internal'],
    backupEligible: true,
    backupState: false,
    discoverable: true,
    nickname: `Laptop ${credentialId}`,
    createdAt: now,
    lastUsedAt: null,
  };
}

describe('passkeys on the account page (webauthn.enabled)', () => {
  it("lists and removes the account's passkeys; another account's credential is not touched", async () => {
    const target = await startServer({ webauthn: { enabled: true } });
    try {
      const browser = new Browser(target);
      await signInOnAccountPage(browser);
      await enrolFromAccountPage(target, browser);
      const aliceId = (await target.ctx.accounts.findByUsername('alice'))!.subject;
      const bobId = (await target.ctx.accounts.findByUsername('bob'))!.subject;
      await target.ctx.storage.webauthn.addCredential(storedPasskey('cred-alice', aliceId, target.clock()));
      await target.ctx.storage.webauthn.addCredential(storedPasskey('cred-bob', bobId, target.clock()));
      const page = await browser.get('/account');
      expect(page.body).toContain('Passkeys and security keys');
      expect(page.body).toContain('Laptop cred-alice');
      expect(page.body).not.toContain('Laptop cred-bob');
      expect(page.body).toContain(`href="${issuer}/mfa"`);
      expect(page.body).not.toContain('<script');
      const csrf = csrfOf(page.body);
      const foreign = await browser.post('/account/passkeys/remove', { csrf, credential_id: 'cred-bob' });
      expect(foreign.statusCode).toBe(404);
      expect(await target.ctx.storage.webauthn.findCredential('cred-bob')).toBeDefined();
      const removed = await browser.post('/account/passkeys/remove', { csrf, credential_id: 'cred-alice' });
      expect(removed.statusCode).toBe(303);
      expect(removed.headers.location).toBe(`${issuer}/account?done=passkey#factors`);
      expect(await target.ctx.storage.webauthn.listCredentials(aliceId)).toEqual([]);
    } finally {
      await target.close();
    }
  });

  it('asks a passkey-only account for its passkey before the page opens, and refuses a ceremony not done', async () => {
    const target = await startServer({ webauthn: { enabled: true } });
    try {
      const bobId = (await target.ctx.accounts.findByUsername('bob'))!.subject;
      await target.ctx.storage.webauthn.addCredential(storedPasskey('cred-bob', bobId, target.clock()));
      const browser = new Browser(target);
      const form = formOf((await browser.get('/account')).body);
      await browser.post(form.action, { csrf: form.csrf, username: 'bob', password });
      const prompt = await browser.get('/account');
      expect(prompt.body).not.toContain('id="applications"');
      expect(prompt.body).toContain(`action="${issuer}/account/passkey/verify"`);
      expect(prompt.body).toContain('data-webauthn="get"');
      const refused = await browser.post('/account/passkey/verify', {
        csrf: csrfOf(prompt.body),
        credential: '',
        webauthn_error: 'NotAllowedError',
      });
      expect(refused.statusCode).toBeGreaterThanOrEqual(400);
      expect((await browser.get('/account')).body).not.toContain('id="applications"');
      const forged = await browser.post('/account/passkey/verify', { csrf: 'wrong', credential: '{}' });
      expect(forged.statusCode).toBe(400);
    } finally {
      await target.close();
    }
  });
});
