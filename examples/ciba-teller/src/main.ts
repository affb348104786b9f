/**
 * A bank teller's terminal application for OpenID Connect Client-Initiated Backchannel Authentication
 * (CIBA Core 1.0): the teller types the customer's username and what is to be confirmed; the identity
 * provider reaches the customer, who approves on their own device; the application receives tokens. The
 * protocol is done by @gatehouse/client; this file is the command line and a small HTTP listener.
 *
 *   node --conditions=@gatehouse/source --import tsx examples/ciba-teller/src/main.ts \
 *     --issuer http://localhost:3000 --client-id teller --login-hint alice --binding-message "Withdraw 200 EUR"
 *
 * 1. The listener (node:http, `--listen`) stands for two parties: the operator's notifier webhook
 *    (`POST /webhook`: a JWT of `typ` ciba-notification+jwt, verified against the issuer's JWKS, whose
 *    approval link is printed for the customer) and, in ping mode, the teller's client notification
 *    endpoint (`POST /ping` with the client_notification_token as a bearer token, §10.2).
 * 2. The authentication request (§7.1): `startBackchannelAuthentication` with `login_hint`,
 *    `binding_message`, optional `acr_values`, and in ping mode a fresh `client_notification_token`.
 * 3. Tokens (§10.1, §11): poll mode polls (`slow_down` adds 5 seconds); ping mode waits for the ping
 *    naming this `auth_req_id`, then makes one token request. The library validates the ID token
 *    (signature against the JWKS, iss, aud, exp) before its subject is shown.
 *
 * Exit status: 0 approved, 1 denied, expired or failed, 2 bad usage.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  GatehouseClientError,
  OAuthClient,
  OAuthResponseError,
  randomToken,
  type TokenSet,
} from '@gatehouse/client';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const usage = `Usage: ciba-teller --issuer URL --client-id ID --login-hint USER [options]

Asks a customer to confirm a request on their own device (OpenID Connect CIBA).

Options:
  --issuer URL             the identity provider's issuer (e.g. http://localhost:3000)
  --client-id ID           a client registered for urn:openid:params:grant-type:ciba (default: teller)
  --client-secret S        its secret (or TELLER_SECRET; default: the example's demo secret)
  --login-hint USER        the customer's username
  --binding-message TEXT   shown to the teller and the customer (default: a random reference)
  --scope SCOPES           default "openid profile"
  --acr-values VALUES      e.g. urn:gatehouse:acr:mfa: the customer confirms with a second factor
  --mode poll|ping         how tokens are delivered (default poll; ping needs a ping-mode client)
  --listen HOST:PORT       the webhook and ping listener (default 127.0.0.1:4010)
  --show-tokens            print the token response (tokens are credentials: keep them secret)
  --help                   show this help`;

class UsageError extends Error {}

interface Options {
  issuer: string;
  clientId: string;
  clientSecret: string;
  loginHint: string;
  bindingMessage: string;
  scope: string;
  acrValues: string | undefined;
  mode: 'poll' | 'ping';
  listen: { host: string; port: number };
  showTokens: boolean;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      'login-hint': { type: 'string' },
      'binding-message': { type: 'string' },
      issuer: { type: 'string' },
      'client-id': { type: 'string', default: 'teller' },
      'client-secret': { type: 'string' },
      scope: { type: 'string', default: 'openid profile' },
      'acr-values': { type: 'string' },
      mode: { type: 'string', default: 'poll' },
      listen: { type: 'string', default: '127.0.0.1:4010' },
      'show-tokens': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  if (values.issuer === undefined || values['login-hint'] === undefined)
    throw new UsageError('--issuer and --login-hint are required');
  if (values.mode !== 'poll' && values.mode !== 'ping') throw new UsageError('--mode must be poll or ping');
  const listen = /^(.+):(\d{1,5})$/.exec(values.listen);
  if (listen === null) throw new UsageError('--listen must be HOST:PORT');
  return {
    issuer: values.issuer.replace(/\/+$/, ''),
    clientId: values['client-id'],
    clientSecret:
      values['client-secret'] ?? process.env.TELLER_SECRET ?? 'teller-demo-secret-change-me-0123456789',
    loginHint: values['login-hint'],
    bindingMessage: values['binding-message'] ?? `Reference ${randomInt(100_000, 1_000_000)}`,
    scope: values.scope,
    acrValues: values['acr-values'],
    mode: values.mode,
    listen: { host: listen[1]!, port: Number(listen[2]) },
    showTokens: values['show-tokens'],
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 65_536) request.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function sameSecret(received: string, expected: string): boolean {
  const a = Buffer.from(received);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The webhook and ping listener; `pings` resolves a waiter per auth_req_id. */
class Listener {
  private readonly pinged = new Map<string, () => void>();
  private readonly server: Server;

  constructor(
    private readonly verifyNotification: (jwt: string, audience: string) => Promise<Record<string, unknown>>,
    private readonly notificationToken: string,
  ) {
    this.server = createServer((request, response) => {
      this.handle(request).then(
        (status) => response.writeHead(status).end(),
        () => response.writeHead(500).end(),
      );
    });
  }

  url = '';

  async start(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    const address = this.server.address() as AddressInfo;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves when the ping for `authReqId` arrives. */
  pingFor(authReqId: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pinged.set(authReqId, resolve);
      signal.addEventListener('abort', () => reject(new Error('the request expired before the ping came')));
    });
  }

  private async handle(request: IncomingMessage): Promise<number> {
    if (request.method !== 'POST') return 405;
    const body = await readBody(request);
    if (request.url === '/webhook') {
      const claims = await this.verifyNotification(body, `${this.url}/webhook`).catch((error: Error) => {
        console.error(`Refused a notification: ${error.message}`);
        return undefined;
      });
      if (claims === undefined) return 401;
      console.log(`\nNotification for ${String(claims.username)}: "${String(claims.binding_message ?? '')}"`);
      console.log(`The customer approves at:\n\n    ${String(claims.approval_url)}\n`);
      return 204;
    }
    if (request.url === '/ping') {
      const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (bearer === undefined || !sameSecret(bearer, this.notificationToken)) return 401;
      const authReqId = (JSON.parse(body) as { auth_req_id?: unknown }).auth_req_id;
      const waiter = typeof authReqId === 'string' ? this.pinged.get(authReqId) : undefined;
      waiter?.();
      return 204;
    }
    return 404;
  }
}

function summary(tokens: TokenSet): string {
  const claims = tokens.claims;
  const expires =
    tokens.expiresAt === undefined
      ? ''
      : `, expires in ${tokens.expiresAt - Math.floor(Date.now() / 1000)} s`;
  return [
    'Approved.',
    `  subject:       ${claims?.sub ?? '(no ID token)'}`,
    `  acr:           ${String(claims?.acr ?? '-')}`,
    `  amr:           ${Array.isArray(claims?.amr) ? claims.amr.join(' ') : '-'}`,
    `  scope:         ${tokens.scope ?? '-'}`,
    `  access token:  ${tokens.tokenType}${expires}`,
  ].join('\n');
}

async function run(options: Options): Promise<number> {
  const client = new OAuthClient({
    issuer: options.issuer,
    clientId: options.clientId,
    clientAuthentication: { method: 'client_secret_basic', clientSecret: options.clientSecret },
  });
  const metadata = await client.metadata();
  const jwks = createRemoteJWKSet(new URL(String(metadata.jwks_uri)));
  const verify = async (jwt: string, audience: string) =>
    (
      await jwtVerify(jwt, jwks, {
        issuer: options.issuer,
        audience,
        typ: 'ciba-notification+jwt',
      })
    ).payload;
  const notificationToken = randomToken();
  const listener = new Listener(verify, notificationToken);
  await listener.start(options.listen.host, options.listen.port);
  try {
    console.log(
      `Asking ${options.loginHint} to confirm "${options.bindingMessage}" (${options.mode} mode)...`,
    );
    const request = await client.startBackchannelAuthentication({
      scope: options.scope,
      loginHint: options.loginHint,
      bindingMessage: options.bindingMessage,
      ...(options.acrValues === undefined ? {} : { acrValues: options.acrValues }),
      ...(options.mode === 'ping' ? { clientNotificationToken: notificationToken } : {}),
    });
    console.log(`Waiting for the customer (the request expires in ${request.expiresIn} s)...`);
    let tokens: TokenSet;
    if (options.mode === 'poll') {
      tokens = await client.pollBackchannelAuthentication(request);
    } else {
      await listener.pingFor(request.authReqId, AbortSignal.timeout(request.expiresIn * 1000));
      tokens = await client.redeemBackchannelAuthentication(request.authReqId);
    }
    console.log(summary(tokens));
    if (options.showTokens) console.log(JSON.stringify(tokens.raw, null, 2));
    return 0;
  } finally {
    await listener.close();
  }
}

/** What the teller is told when it stops short of tokens. */
function explain(error: unknown): string {
  if (error instanceof UsageError) return `${error.message}\n\n${usage}`;
  if (error instanceof OAuthResponseError && error.error === 'access_denied')
    return 'The customer denied the request.';
  if (error instanceof GatehouseClientError && error.code === 'auth_req_id_expired')
    return 'The request expired before the customer answered.';
  return `Failed: ${(error as Error).message}`;
}

async function main(argv: string[]): Promise<number> {
  try {
    const options = parseOptions(argv);
    if (options !== undefined) return await run(options);
    console.log(usage);
    return 0;
  } catch (error) {
    console.error(explain(error));
    return error instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
