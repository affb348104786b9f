/**
 * examples/ciba-teller run for real (issue 19): Gatehouse built from the example's gatehouse.yaml on a real
 * port, the teller as a child process (its webhook and ping listener on a port of its own), and the
 * customer's approval in Chromium from the link the teller printed. Poll mode and ping mode each end with
 * the token response the teller printed, whose ID token is verified here against /jwks; a denial makes
 * the teller say so and exit 1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../tools/test-services.ts';
import { totpCode } from '../src/authn/totp.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../src/sessions/mfa.ts';
import { buildServer, type GatehouseServer, password } from './helpers.ts';
import { closeAll, freePort, patience } from './interop-helpers.ts';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const example = join(repositoryRoot, 'examples/ciba-teller');

let gatehouse: GatehouseServer;
let issuer: string;
let tellerListen: string;
let browser: Browser;

beforeAll(async () => {
  const [port, tellerPort] = await Promise.all([freePort(), freePort()]);
  issuer = `http://127.0.0.1:${port}`;
  tellerListen = `127.0.0.1:${tellerPort}`;
  const config = loadConfigFile(join(example, 'gatehouse.yaml'), {
    ...process.env,
    GATEHOUSE_ISSUER: issuer,
    GATEHOUSE_PORT: String(port),
    GATEHOUSE_MANAGEMENT_PORT: '0',
    GATEHOUSE_DATABASE: join(mkdtempSync(join(tmpdir(), 'ciba-teller-')), 'gatehouse.db'),
    GATEHOUSE_LOG_LEVEL: 'warn',
    TELLER_WEBHOOK_URL: `http://${tellerListen}/webhook`,
    TELLER_PING_URL: `http://${tellerListen}/ping`,
    DEMO_PASSWORD: password,
  });
  gatehouse = await buildServer(config);
  await gatehouse.listen();
  browser = await launchChromium();
}, 180_000);

afterAll(() => closeAll(browser, gatehouse));

const now = () => Math.floor(Date.now() / 1000);

interface Teller {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function runTeller(...extra: string[]): Teller {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@gatehouse/source',
      '--import',
      'tsx',
      join(example, 'src/main.ts'),
      '--issuer',
      issuer,
      '--login-hint',
      'alice',
      '--listen',
      tellerListen,
      '--show-tokens',
      ...extra,
    ],
    { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr!.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function approvalLink(teller: Teller): Promise<string> {
  for (let attempt = 0; attempt < 1200; attempt++) {
    const match = /approves at:\n\n {4}(\S+)\n/.exec(teller.stdout());
    if (match) return match[1]!;
    if (teller.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no approval link:\n${teller.stdout()}\n${teller.stderr()}`);
}

/**
 * The customer opens the link in Chromium, signs in (with the `secondFactor` code when one is asked),
 * checks the binding message and decides.
 */
async function customerDecides(
  link: string,
  bindingMessage: string,
  decision: 'Approve' | 'Deny',
  secondFactor?: () => string,
) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(link, patience);
    await page.fill('#username', 'alice');
    await page.fill('#password', password);
    await Promise.all([page.waitForEvent('load', patience), page.click('button[type=submit]')]);
    if (secondFactor !== undefined) {
      await page.fill('#code', secondFactor());
      await Promise.all([page.waitForEvent('load', patience), page.click('button[type=submit]')]);
    }
    await page.getByText(bindingMessage).waitFor(patience);
    await Promise.all([
      page.waitForEvent('load', patience),
      page.getByRole('button', { name: decision }).click(),
    ]);
    return await page.locator('h1').innerText();
  } finally {
    await context.close();
  }
}

/** The token response the teller printed (--show-tokens), with its ID token verified against /jwks. */
async function verifiedTokens(teller: Teller, clientId: string) {
  const printed = /\n(\{[\s\S]*\})\s*$/.exec(teller.stdout())?.[1];
  if (printed === undefined) throw new Error(`no token response:\n${teller.stdout()}`);
  const tokens = JSON.parse(printed) as Record<string, unknown>;
  const { payload } = await jwtVerify(
    tokens.id_token as string,
    createRemoteJWKSet(new URL(`${issuer}/jwks`)),
    { issuer, audience: clientId },
  );
  return { tokens, idToken: payload };
}

describe('examples/ciba-teller', { timeout: 120_000 }, () => {
  it('poll mode: the webhook prints the link, the customer approves in Chromium, the teller gets tokens', async () => {
    const teller = runTeller('--binding-message', 'Withdraw 200 EUR');
    try {
      const link = await approvalLink(teller);
      expect(link.startsWith(`${issuer}/bc-approve?token=`)).toBe(true);
      expect(teller.stdout()).toContain('Notification for alice: "Withdraw 200 EUR"');
      expect(await customerDecides(link, 'Withdraw 200 EUR', 'Approve')).toBe('Request approved');
      expect(await teller.exited, teller.stderr()).toBe(0);
      const alice = await gatehouse.ctx.accounts.findByUsername('alice');
      expect(teller.stdout()).toContain(`subject:       ${alice!.subject}`);
      const { tokens, idToken } = await verifiedTokens(teller, 'teller');
      expect(idToken.sub).toBe(alice!.subject);
      expect(tokens.token_type).toBe('Bearer');
      expect(tokens.scope).toBe('openid profile');
    } finally {
      teller.child.kill();
    }
  });

  it('ping mode: the teller waits for the ping with its bearer token, then redeems the request', async () => {
    const teller = runTeller(
      '--mode',
      'ping',
      '--client-id',
      'teller-ping',
      '--binding-message',
      'Open account',
    );
    try {
      const link = await approvalLink(teller);
      expect(teller.stdout()).toContain('(ping mode)');
      expect(await customerDecides(link, 'Open account', 'Approve')).toBe('Request approved');
      expect(await teller.exited, teller.stderr()).toBe(0);
      const { idToken } = await verifiedTokens(teller, 'teller-ping');
      expect(idToken.aud).toBe('teller-ping');
    } finally {
      teller.child.kill();
    }
  });

  it('acr_values at the mfa level: the customer gives the authenticator code, the tokens say mfa', async () => {
    const account = (await gatehouse.ctx.accounts.findByUsername('alice'))!;
    const { secret } = await startTotpEnrolment(gatehouse.ctx, account);
    const enrolled = await confirmTotpEnrolment(gatehouse.ctx, account, totpCode(secret, now()), undefined);
    expect(enrolled.ok).toBe(true);
    const teller = runTeller('--acr-values', 'urn:gatehouse:acr:mfa', '--binding-message', 'Close account');
    try {
      const link = await approvalLink(teller);
      // A code of the next time step: the enrolment used this one (RFC 6238 §5.2).
      const decided = await customerDecides(link, 'Close account', 'Approve', () =>
        totpCode(secret, now() + 30),
      );
      expect(decided).toBe('Request approved');
      expect(await teller.exited, teller.stderr()).toBe(0);
      expect(teller.stdout()).toContain('acr:           urn:gatehouse:acr:mfa');
      const { idToken } = await verifiedTokens(teller, 'teller');
      expect(idToken.acr).toBe('urn:gatehouse:acr:mfa');
      expect(idToken.amr).toEqual(['pwd', 'otp', 'mfa']);
    } finally {
      teller.child.kill();
      await gatehouse.ctx.storage.mfa.removeAll(account.subject);
    }
  });

  it('a denial: the teller says so and exits 1', async () => {
    const teller = runTeller('--binding-message', 'Transfer 9000 EUR');
    try {
      const link = await approvalLink(teller);
      expect(await customerDecides(link, 'Transfer 9000 EUR', 'Deny')).toBe('Request denied');
      expect(await teller.exited).toBe(1);
      expect(teller.stderr()).toContain('The customer denied the request.');
    } finally {
      teller.child.kill();
    }
  });
});
