/**
 * Multi-factor authentication and step-up (issue 17): TOTP enrolment during sign-in and sign-in with codes
 * computed here from the secret the page shows (RFC 6238, implemented again below, so the server's code is
 * not checked against itself), a replayed code refused, wrong codes counted by the login limits, recovery
 * codes used once, `acr_values` and an essential `acr` forcing the second factor on a password-only
 * session (same sid), `prompt=none` with an unmet level, `acr`/`amr` in ID and access tokens, and the
 * signed-in /mfa page.
 */
import { createHmac } from 'node:crypto';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { hotp } from '../src/authn/totp.ts';
import {
  Browser,
  basic,
  codeRequest,
  formOf,
  issuer,
  logCapture,
  password,
  pkcePair,
  postForm,
  type TestServer,
  testClients,
  useServer,
  webRedirect,
  webSecret,
} from './helpers.ts';

const pwdAcr = 'urn:gatehouse:acr:pwd';
const mfaAcr = 'urn:gatehouse:acr:mfa';

/** RFC 4648 base32, decoded. */
function base32(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const character of text.replace(/\s/g, ''))
    bits += alphabet.indexOf(character).toString(2).padStart(5, '0');
  const bytes: number[] = [];
  for (let index = 0; index + 8 <= bits.length; index += 8)
    bytes.push(Number.parseInt(bits.slice(index, index + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 §4 with RFC 4226 §5.3 truncation: the six-digit code of `secret` (base32) at Unix time `now`. */
function totp(secret: string, now: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[19]! & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

function secretOf(html: string): string {
  const secret = /<code id="totp-secret">([^<]+)<\/code>/.exec(html)?.[1];
  if (secret === undefined) throw new Error(`no secret in page: ${html.slice(0, 300)}`);
  return secret.replace(/\s/g, '');
}

function recoveryCodesOf(html: string): string[] {
  const list = /<ul id="recovery-codes">([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
  return [...list.matchAll(/<code>([^<]+)<\/code>/g)].map((match) => match[1]!);
}

const alice = { username: 'alice', password };

const postAppRedirect = 'https://post.example.com/cb';

/** An authorization request of `clientId` (post-app unless told) for `openid orders.read`, with `extra`. */
function authorizationRequest(
  pkce: { challenge: string },
  extra: Record<string, string | undefined>,
  clientId = 'post-app',
): string {
  const redirectUri = clientId === 'post-app' ? postAppRedirect : webRedirect;
  return codeRequest(pkce, { clientId, redirectUri, scope: 'openid orders.read', extra });
}

/**
 * Starts an authorization of `clientId` in `browser` and, when the login page shows, signs in with a
 * password; returns the answer that follows (a redirect to the client, or a page of the interaction).
 */
async function signIn(
  server: TestServer,
  browser: Browser,
  extra: Record<string, string | undefined> = {},
  clientId = 'post-app',
) {
  const pkce = pkcePair();
  const redirectUri = clientId === 'post-app' ? postAppRedirect : webRedirect;
  let response = await browser.get(authorizationRequest(pkce, extra, clientId));
  expect(response.statusCode).toBe(303);
  let location = response.headers.location as string;
  if (!location.startsWith(`${issuer}/interaction/`)) return { response, location, pkce, redirectUri };
  response = await browser.get(location);
  if (/action="[^"]+\/login"/.test(response.body)) {
    const login = formOf(response.body);
    response = await browser.post(login.action, { csrf: login.csrf, ...alice });
    expect(response.statusCode).toBe(303);
    location = response.headers.location as string;
    if (location.startsWith(`${issuer}/interaction/`)) response = await browser.get(location);
  }
  void server;
  return { response, location, pkce, redirectUri };
}

/**
 * Redeems the code of a redirect to post-app, with the PKCE verifier and redirect URI of the sign-in that
 * started it; returns the decoded ID and access tokens.
 */
async function redeem(
  server: TestServer,
  location: string,
  { pkce, redirectUri }: { pkce: { verifier: string }; redirectUri: string },
) {
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`no code: ${location}`);
  const tokens = await postForm(server, '/token', {
    grant_type: 'authorization_code',
    client_id: 'post-app',
    client_secret: webSecret,
    code,
    redirect_uri: redirectUri,
    code_verifier: pkce.verifier,
  });
  expect(tokens.status).toBe(200);
  return {
    idToken: decodeJwt(tokens.body.id_token as string),
    accessToken: decodeJwt(tokens.body.access_token as string),
  };
}

/** A new browser signed in with a password for the mfa level, at the second-factor (or enrolment) page. */
async function mfaSignIn(server: TestServer) {
  const browser = new Browser(server);
  const prompt = await signIn(server, browser, { acr_values: mfaAcr });
  return { browser, ...prompt, form: formOf(prompt.response.body) };
}

/** Enrols alice's authenticator through a sign-in that asks for the mfa level; returns secret and codes. */
async function enrol(server: TestServer) {
  const { browser, response, pkce, redirectUri, form } = await mfaSignIn(server);
  expect(response.statusCode).toBe(200);
  expect(response.body).toContain('<svg');
  const secret = secretOf(response.body);
  expect(form.action).toMatch(/\/enrol$/);
  const confirmed = await browser.post(form.action, { csrf: form.csrf, code: totp(secret, server.clock()) });
  expect(confirmed.statusCode).toBe(200);
  const recoveryCodes = recoveryCodesOf(confirmed.body);
  const next = /<a class="back" href="([^"]+)"/.exec(confirmed.body)?.[1] ?? '';
  const finished = await browser.get(next);
  expect(finished.statusCode).toBe(303);
  const location = finished.headers.location as string;
  return { browser, secret, recoveryCodes, location, pkce, redirectUri };
}

describe('TOTP (RFC 6238)', () => {
  it('matches the SHA-1 test vectors of RFC 6238 Appendix B', () => {
    const secret = base32Of(Buffer.from('12345678901234567890'));
    expect(hotp(secret, Math.floor(59 / 30), 8)).toBe('94287082');
    expect(hotp(secret, Math.floor(1111111109 / 30), 8)).toBe('07081804');
    expect(hotp(secret, Math.floor(20000000000 / 30), 8)).toBe('65353130');
  });
});

function base32Of(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of bytes) bits += byte.toString(2).padStart(8, '0');
  let text = '';
  for (let index = 0; index < bits.length; index += 5)
    text += alphabet[Number.parseInt(bits.slice(index, index + 5).padEnd(5, '0'), 2)];
  return text;
}

describe('enrolment and sign-in with a second factor', () => {
  const server = useServer({ rateLimits: { loginFreeFailures: 3 } }, { each: true });

  it('enrols during sign-in with a QR code, shows ten recovery codes once, and issues acr mfa tokens', async () => {
    const { location, pkce, redirectUri, recoveryCodes } = await enrol(server);
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    const { idToken, accessToken } = await redeem(server, location, { pkce, redirectUri });
    expect(idToken).toMatchObject({ acr: mfaAcr, amr: ['pwd', 'otp', 'mfa'] });
    expect(accessToken).toMatchObject({ acr: mfaAcr, amr: ['pwd', 'otp', 'mfa'] });
    expect(typeof accessToken.auth_time).toBe('number');
    // Stored hashed: no code is in the table.
    const db = (await import('../src/storage/testing.ts')).databaseOf(server.ctx.storage);
    const rows = await db.selectFrom('mfa_recovery_codes').select('code_hash').execute();
    expect(rows).toHaveLength(10);
    for (const code of recoveryCodes) expect(JSON.stringify(rows)).not.toContain(code.replace(/-/g, ''));
  });

  it('signs in with a code from the app, refuses the same code again, and takes the next step', async () => {
    const { secret } = await enrol(server);
    server.clock.advance(30);
    const prompt = await mfaSignIn(server);
    expect(prompt.response.body).toContain('name="code"');
    const code = totp(secret, server.clock());
    const accepted = await prompt.browser.post(prompt.form.action, { csrf: prompt.form.csrf, code });
    expect(accepted.statusCode).toBe(303);
    const { idToken } = await redeem(server, accepted.headers.location as string, prompt);
    expect(idToken.acr).toBe(mfaAcr);

    // The same code in the same time step, from another browser: refused (RFC 6238 §5.2).
    const { browser: second, form: replayForm } = await mfaSignIn(server);
    const replayed = await second.post(replayForm.action, { csrf: replayForm.csrf, code });
    expect(replayed.statusCode).toBe(401);
    expect(replayed.body).toContain('not valid, or it was already used');
    // The next step's code works.
    server.clock.advance(30);
    const retryForm = formOf(replayed.body);
    const next = await second.post(retryForm.action, {
      csrf: retryForm.csrf,
      code: totp(secret, server.clock()),
    });
    expect(next.statusCode).toBe(303);
  });

  it('accepts a code of the previous or next step and nothing further away', async () => {
    const { secret } = await enrol(server);
    server.clock.advance(300);
    const prompt = await mfaSignIn(server);
    const browser = prompt.browser;
    let form = prompt.form;
    const far = await browser.post(form.action, { csrf: form.csrf, code: totp(secret, server.clock() + 60) });
    expect(far.statusCode).toBe(401);
    form = formOf(far.body);
    const previous = await browser.post(form.action, {
      csrf: form.csrf,
      code: totp(secret, server.clock() - 30),
    });
    expect(previous.statusCode).toBe(303);
  });

  it('counts wrong codes with the login limits and locks the account second factor', async () => {
    const { secret } = await enrol(server);
    server.clock.advance(30);
    const { browser, response } = await mfaSignIn(server);
    let page = response.body;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const form = formOf(page);
      const wrong = await browser.post(form.action, {
        csrf: form.csrf,
        code: '000000' === totp(secret, server.clock()) ? '111111' : '000000',
      });
      expect(wrong.statusCode).toBe(401);
      page = wrong.body;
    }
    const form = formOf(page);
    const fourth = await browser.post(form.action, {
      csrf: form.csrf,
      code: '999999' === totp(secret, server.clock()) ? '888888' : '999999',
    });
    expect([401, 429]).toContain(fourth.statusCode);
    // Now locked: even the right code is not checked.
    const lockedForm = formOf(fourth.body);
    const locked = await browser.post(lockedForm.action, {
      csrf: lockedForm.csrf,
      code: totp(secret, server.clock()),
    });
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('refuses a wrong first code at enrolment, then confirms with the right one', async () => {
    const { browser, response, form } = await mfaSignIn(server);
    const secret = secretOf(response.body);
    const right = totp(secret, server.clock());
    const wrong = await browser.post(form.action, {
      csrf: form.csrf,
      code: right === '123456' ? '654321' : '123456',
    });
    expect(wrong.statusCode).toBe(401);
    // The page shows the same secret again (the QR code already scanned stays valid).
    expect(secretOf(wrong.body)).toBe(secret);
    const retry = formOf(wrong.body);
    const confirmed = await browser.post(retry.action, { csrf: retry.csrf, code: right });
    expect(confirmed.statusCode).toBe(200);
    expect(recoveryCodesOf(confirmed.body)).toHaveLength(10);
  });

  it('takes a recovery code in place of a TOTP code, once', async () => {
    const { recoveryCodes } = await enrol(server);
    const code = recoveryCodes[0]!;
    const prompt = await mfaSignIn(server);
    // Entered in lower case without dashes: still the same code.
    const used = await prompt.browser.post(prompt.form.action, {
      csrf: prompt.form.csrf,
      recovery_code: code.replace(/-/g, '').toLowerCase(),
    });
    expect(used.statusCode).toBe(303);
    const { idToken } = await redeem(server, used.headers.location as string, prompt);
    expect(idToken).toMatchObject({ acr: mfaAcr, amr: ['pwd', 'otp', 'mfa'] });

    const { browser: second, form: againForm } = await mfaSignIn(server);
    const reused = await second.post(againForm.action, { csrf: againForm.csrf, recovery_code: code });
    expect(reused.statusCode).toBe(401);
    const otherForm = formOf(reused.body);
    const other = await second.post(otherForm.action, {
      csrf: otherForm.csrf,
      recovery_code: recoveryCodes[1],
    });
    expect(other.statusCode).toBe(303);
  });

  it('answers a missing code on the form, never a server error', async () => {
    await enrol(server);
    const { browser, form } = await mfaSignIn(server);
    const empty = await browser.post(form.action, { csrf: form.csrf, code: '', recovery_code: '' });
    expect(empty.statusCode).toBe(401);
    expect(empty.body).toContain('Enter the code from your authenticator app');
    const junk = await browser.post(form.action, { csrf: form.csrf, code: 'x'.repeat(5000) });
    expect(junk.statusCode).toBe(401);
  });
});

describe('step-up: acr_values, an essential acr and prompt=none', () => {
  const server = useServer({}, { each: true });

  it('publishes acr_values_supported in discovery', async () => {
    const response = await server.app.inject({ url: '/.well-known/openid-configuration' });
    expect(response.json().acr_values_supported).toEqual([pwdAcr, mfaAcr]);
  });

  it('asks a password-only session for the second factor only, keeping its sid', async () => {
    const { secret } = await enrol(server);
    server.clock.advance(30);
    const browser = new Browser(server);
    const plain = await signIn(server, browser);
    expect(plain.location).toMatch(/^https:\/\/post\.example\.com\/cb\?code=/);
    const before = await redeem(server, plain.location, plain);
    expect(before.idToken).toMatchObject({ acr: pwdAcr, amr: ['pwd'] });
    expect(before.accessToken).toMatchObject({ acr: pwdAcr, amr: ['pwd'] });

    // prompt=none cannot ask for the missing factor.
    const pkce = pkcePair();
    const none = await browser.get(authorizationRequest(pkce, { acr_values: mfaAcr, prompt: 'none' }));
    expect(none.statusCode).toBe(303);
    const refused = new URL(none.headers.location as string);
    expect(refused.searchParams.get('error')).toBe('interaction_required');

    // Without prompt=none: the second factor, and no password.
    const stepUp = await signIn(server, browser, { acr_values: mfaAcr });
    expect(stepUp.response.body).not.toContain('name="password"');
    const form = formOf(stepUp.response.body);
    expect(form.action).toMatch(/\/mfa$/);
    const done = await browser.post(form.action, { csrf: form.csrf, code: totp(secret, server.clock()) });
    expect(done.statusCode).toBe(303);
    const after = await redeem(server, done.headers.location as string, stepUp);
    expect(after.idToken).toMatchObject({ acr: mfaAcr, amr: ['pwd', 'otp', 'mfa'], sid: before.idToken.sid });
    expect(after.idToken.auth_time as number).toBeGreaterThanOrEqual(before.idToken.auth_time as number);

    // The stepped-up session now satisfies prompt=none with the same acr_values.
    const silent = await signIn(server, browser, { acr_values: mfaAcr, prompt: 'none' });
    expect(silent.location).toMatch(/^https:\/\/post\.example\.com\/cb\?code=/);
  });

  it('ignores acr_values it does not support and takes the lowest supported value listed', async () => {
    const browser = new Browser(server);
    const unknown = await signIn(server, browser, { acr_values: 'urn:example:unknown' });
    expect(unknown.location).toMatch(/\?code=/);
    const either = await signIn(server, browser, { acr_values: `${mfaAcr} ${pwdAcr}` });
    expect(either.location).toMatch(/\?code=/);
  });

  it('forces the second factor for an essential acr of the claims parameter, and refuses an unsupported one', async () => {
    const browser = new Browser(server);
    await signIn(server, browser);
    const claims = JSON.stringify({ id_token: { acr: { essential: true, values: [mfaAcr] } } });
    const essential = await signIn(server, browser, { claims });
    expect(essential.response.statusCode).toBe(200);
    expect(essential.response.body).toContain('<svg');

    const unsupported = JSON.stringify({
      id_token: { acr: { essential: true, values: ['urn:example:gold'] } },
    });
    const pkce = pkcePair();
    const refused = await browser.get(authorizationRequest(pkce, { claims: unsupported }));
    expect(new URL(refused.headers.location as string).searchParams.get('error')).toBe('invalid_request');
  });

  it('honours max_age with a second factor: an old session signs in again with both', async () => {
    const { secret, browser } = await enrol(server);
    server.clock.advance(120);
    const aged = await signIn(server, browser, { acr_values: mfaAcr, max_age: '60' });
    // The password first (the login page was shown and answered), then the second factor.
    const form = formOf(aged.response.body);
    expect(form.action).toMatch(/\/mfa$/);
    const done = await browser.post(form.action, { csrf: form.csrf, code: totp(secret, server.clock()) });
    expect(done.statusCode).toBe(303);
    const { idToken } = await redeem(server, done.headers.location as string, aged);
    expect(server.clock() - (idToken.auth_time as number)).toBeLessThanOrEqual(60);
  });
});

describe('policy: per client, per role, for everyone', () => {
  const perClient = useServer({ clients: testClients({ 'post-app': { requireMfa: true } }) }, { each: true });

  it('asks for a second factor when the client requires it, and not for another client', async () => {
    const browser = new Browser(perClient);
    const required = await signIn(perClient, browser);
    expect(required.response.statusCode).toBe(200);
    expect(required.response.body).toContain('Set up two-step verification');
    // web-app does not require it: the same password session is enough there (consent is shown).
    const other = await signIn(perClient, new Browser(perClient), {}, 'web-app');
    expect(other.response.body).toContain('name="decision"');
  });
});

describe('policy for roles', () => {
  const server = useServer({ mfa: { requireForRoles: ['OrderAdmin'] } }, { each: true });

  it('asks alice (OrderAdmin) for a second factor', async () => {
    const browser = new Browser(server);
    const required = await signIn(server, browser);
    expect(required.response.body).toContain('Set up two-step verification');
  });
});

describe('policy for everyone', () => {
  const server = useServer({ mfa: { requireForAll: true } }, { each: true });

  it('asks every sign-in for a second factor, and prompt=none of a password-only session is refused', async () => {
    const browser = new Browser(server);
    const required = await signIn(server, browser);
    expect(required.response.body).toContain('Set up two-step verification');
    const silent = await signIn(server, browser, { prompt: 'none' });
    expect(new URL(silent.location).searchParams.get('error')).toBe('interaction_required');
  });
});

describe('the signed-in /mfa page', () => {
  const server = useServer({}, { each: true });

  it('sets up an authenticator for a signed-in user and regenerates recovery codes after a second factor', async () => {
    const browser = new Browser(server);
    const signedOut = await browser.get('/mfa');
    expect(signedOut.statusCode).toBe(200);
    expect(signedOut.body).toContain('Sign in to an application first');
    await signIn(server, browser);
    const page = await browser.get('/mfa');
    expect(page.body).toContain('No authenticator app is set up.');
    const setUp = formOf(page.body);
    const enrolment = await browser.post(setUp.action, { csrf: setUp.csrf });
    expect(enrolment.statusCode).toBe(200);
    const secret = secretOf(enrolment.body);
    const confirm = formOf(enrolment.body);
    const confirmed = await browser.post(confirm.action, {
      csrf: confirm.csrf,
      code: totp(secret, server.clock()),
    });
    expect(confirmed.statusCode).toBe(200);
    const firstCodes = recoveryCodesOf(confirmed.body);
    expect(firstCodes).toHaveLength(10);

    const status = await browser.get('/mfa');
    expect(status.body).toContain('An authenticator app is set up.');
    expect(status.body).toContain('Unused recovery codes: 10.');
    const forms = [...status.body.matchAll(/<form method="post" action="([^"]+)"/g)].map(
      (match) => match[1]!,
    );
    const csrf = formOf(status.body).csrf;
    const regenerate = forms.find((action) => action.endsWith('/mfa/recovery-codes'))!;
    const fresh = await browser.post(regenerate, { csrf });
    const newCodes = recoveryCodesOf(fresh.body);
    expect(newCodes).toHaveLength(10);
    expect(newCodes).not.toContain(firstCodes[0]);

    // A browser with a password-only session must pass the second factor before changing anything.
    server.clock.advance(30);
    const other = new Browser(server);
    await signIn(server, other);
    const gate = await other.get('/mfa');
    expect(gate.body).toContain('name="code"');
    const refused = await other.post(regenerate, { csrf: formOf(gate.body).csrf });
    expect(refused.statusCode).toBe(403);
    const gateForm = formOf(gate.body);
    const verified = await other.post(gateForm.action, {
      csrf: gateForm.csrf,
      code: totp(secret, server.clock()),
    });
    expect(verified.statusCode).toBe(303);
    expect((await other.get('/mfa')).body).toContain('An authenticator app is set up.');
  });

  it('refuses a form without the page token', async () => {
    const browser = new Browser(server);
    await signIn(server, browser);
    const response = await browser.post('/mfa/totp', { csrf: 'forged' });
    expect(response.statusCode).toBe(400);
  });
});

void basic;

describe('logs', () => {
  const log = logCapture();
  const server = useServer({ logging: { level: 'debug' } }, { each: true, logStream: log.stream });

  it('never write a TOTP secret, a code or a recovery code, while the audit events are there', async () => {
    const { secret, recoveryCodes } = await enrol(server);
    server.clock.advance(30);
    const { browser, form } = await mfaSignIn(server);
    const code = totp(secret, server.clock());
    expect((await browser.post(form.action, { csrf: form.csrf, code })).statusCode).toBe(303);
    const wrong = await signIn(server, new Browser(server), { acr_values: mfaAcr });
    const wrongForm = formOf(wrong.response.body);
    await new Browser(server).post(wrongForm.action, {
      csrf: wrongForm.csrf,
      recovery_code: recoveryCodes[0],
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const text = log.lines.join('\n');
    expect(text).toContain('mfa_totp_enrolled');
    expect(text).toContain('mfa_succeeded');
    expect(text).not.toContain(secret);
    // Quoted or as a parameter value (a bare six-digit run could be part of a timestamp).
    expect(text).not.toContain(`"${code}"`);
    expect(text).not.toContain(`=${code}`);
    for (const recovery of recoveryCodes) {
      expect(text).not.toContain(recovery);
      expect(text).not.toContain(recovery.replace(/-/g, ''));
    }
  });
});
