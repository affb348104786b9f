/**
 * A command-line app that signs a user in with the OAuth 2.0 Device Authorization Grant (RFC 8628), the way
 * a TV, a console tool or an IoT device would: it has no browser, so it shows a short code and a URL, the
 * user approves on another device, and the app polls the token endpoint until it gets tokens. The protocol
 * is done by @gatehouse/client; this file is the command line around it.
 *
 *   node --conditions=@gatehouse/source --import tsx examples/device-cli/src/main.ts --issuer http://localhost:3000 \
 *     --client-id device-app --scope "openid profile offline_access api1.read"
 *
 * Steps, with the RFC sections they follow:
 * 1. Discovery (RFC 8414 §3 / OpenID Connect Discovery): `OAuthClient.metadata()` reads the device
 *    authorization and token endpoints from the issuer's metadata, whose `issuer` must equal the one
 *    configured (RFC 8414 §3.3).
 * 2. Device authorization request (RFC 8628 §3.1, §3.2): `startDeviceAuthorization`; the client
 *    authenticates as it would at the token endpoint (a public client sends client_id; a confidential one
 *    uses HTTP Basic).
 * 3. User instruction (§3.3, §3.3.1): prints the user code, verification_uri and verification_uri_complete.
 * 4. Polling (§3.4, §3.5): `pollDeviceAuthorization` waits `interval` seconds (default 5) before each
 *    request; on `slow_down` adds 5 seconds to the interval for all later polls; keeps going on
 *    `authorization_pending` and after a network failure; stops on `access_denied`, `expired_token`, any
 *    other error, or when `expires_in` has passed (`device_code_expired`). A 429/503 (the token endpoint's
 *    rate limit) waits for Retry-After, then polling resumes with the same code and interval.
 * 5. Prints a summary of the token response, with the user's name from the userinfo endpoint (called with
 *    the new access token through `authenticatedFetch`) when `openid` was granted. Tokens are credentials:
 *    they are printed only with --show-tokens. The library validates the id_token (signature against the
 *    server's JWKS, iss, aud, exp, iat; OpenID Connect Core §3.1.3.7) before the subject is shown.
 *
 * Exit status: 0 signed in, 1 denied, expired or failed, 2 bad usage.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  authenticatedFetch,
  type DeviceAuthorization,
  GatehouseClientError,
  OAuthClient,
  OAuthResponseError,
  type TokenSet,
} from '@gatehouse/client';

const requestTimeoutMs = 30_000;
const expiredMessage = 'The code expired before it was approved. Run the app again.';

const usage = `Usage: device-cli --issuer URL --client-id ID [options]

Signs in with the OAuth 2.0 device authorization grant (RFC 8628).

Options:
  --issuer URL          the authorization server's issuer (e.g. http://localhost:3000)
  --client-id ID        the client id registered for the device_code grant
  --client-secret S     the client secret, for a confidential client (or GATEHOUSE_CLIENT_SECRET)
  --scope SCOPES        space-separated scopes (default: "openid profile offline_access")
  --resource URI        an RFC 8707 resource indicator (repeatable)
  --show-tokens         print the full token response (tokens are credentials: keep them secret)
  --help                show this help`;

class CliError extends Error {}

interface Options {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  scope: string;
  resources: string[];
  showTokens: boolean;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      scope: { type: 'string', default: 'openid profile offline_access' },
      resource: { type: 'string', multiple: true, default: [] },
      'show-tokens': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  if (values.issuer === undefined || values['client-id'] === undefined) {
    throw new CliError('--issuer and --client-id are required');
  }
  return {
    issuer: values.issuer.replace(/\/+$/, ''),
    clientId: values['client-id'],
    clientSecret: values['client-secret'] ?? process.env.GATEHOUSE_CLIENT_SECRET,
    scope: values.scope,
    resources: values.resource,
    showTokens: values['show-tokens'],
  };
}

/** A failure with the reason at the bottom of its cause chain (fetch says "fetch failed", the cause says why). */
function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  let reason: string | undefined;
  let cause = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++) {
    reason = (cause as Error & { code?: unknown }).code?.toString() ?? cause.message;
    cause = cause.cause;
  }
  return reason === undefined ? message : `${message} (${reason})`;
}

/**
 * What the last poll of the token endpoint answered, for the two things the client's polling loop handles
 * silently but this app reports or waits for: `slow_down` and a 429/503 with Retry-After.
 */
interface PollWatch {
  /** Set once polling starts: only requests to this URL are watched. */
  tokenEndpoint: string | undefined;
  slowDown: boolean;
  /** The last poll was answered 429/503; its Retry-After in seconds when it had one. */
  busy: { retryAfter: number | undefined } | undefined;
}

function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  return value !== null && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** The client's fetch (`http.fetch`): the global fetch, watching the answers to polls. */
function watchingFetch(watch: PollWatch): typeof fetch {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (watch.tokenEndpoint === undefined || url !== watch.tokenEndpoint) return fetch(input, init);
    watch.slowDown = false;
    watch.busy = undefined;
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      // The client retries network failures and timeouts with a doubled interval.
      console.error(`Polling failed: ${describeFailure(error)}; retrying.`);
      throw error;
    }
    if (response.status === 429 || response.status === 503) {
      watch.busy = { retryAfter: retryAfterSeconds(response) };
    } else if (response.status === 400) {
      const body: unknown = await response
        .clone()
        .json()
        .catch(() => undefined);
      watch.slowDown = (body as { error?: unknown } | undefined)?.error === 'slow_down';
    }
    return response;
  };
}

function printInstructions(authorization: DeviceAuthorization): void {
  const lines = [
    'To sign in, open this page on your phone or computer:',
    '',
    `    ${authorization.verificationUri}`,
    '',
    'and enter the code:',
    '',
    `    ${authorization.userCode}`,
    '',
  ];
  if (authorization.verificationUriComplete !== undefined) {
    lines.push(
      'Or open this link, which fills in the code for you:',
      '',
      `    ${authorization.verificationUriComplete}`,
      '',
    );
  }
  lines.push(
    `Waiting for approval (the code expires in ${Math.round(authorization.expiresIn / 60)} minutes)...`,
  );
  console.log(lines.join('\n'));
}

/**
 * Polls with the client until the user decides. The client waits `interval` before each poll and grows it
 * on `slow_down`; its `sleep` hook is where this app learns the new interval to report it. A 429/503 ends
 * the client's loop: wait for Retry-After, then resume with the same device code (its expiry counts from
 * the start) and the current interval.
 */
async function pollForTokens(
  client: OAuthClient,
  authorization: DeviceAuthorization,
  watch: PollWatch,
): Promise<TokenSet> {
  let interval = authorization.interval;
  const wait = async (milliseconds: number, signal: AbortSignal | undefined): Promise<void> => {
    interval = milliseconds / 1000;
    if (watch.slowDown) {
      watch.slowDown = false;
      console.log(`The server asked to slow down; polling every ${interval} seconds.`);
    }
    await sleep(milliseconds, undefined, signal ? { signal } : {});
  };
  for (;;) {
    try {
      return await client.pollDeviceAuthorization({ ...authorization, interval }, { sleep: wait });
    } catch (error) {
      const busy = watch.busy;
      watch.busy = undefined;
      if (busy === undefined) throw error;
      // The next pollDeviceAuthorization call waits `interval` first; wait the rest of Retry-After here.
      const retryAfter = busy.retryAfter ?? interval;
      if (retryAfter > interval) await sleep((retryAfter - interval) * 1000);
    }
  }
}

/** The user's name from the userinfo endpoint (OpenID Connect Core §5.3), called with the new access token. */
async function userName(client: OAuthClient, tokens: TokenSet): Promise<string | undefined> {
  const endpoint = (await client.metadata()).userinfo_endpoint;
  if (endpoint === undefined || !(tokens.scope ?? '').split(' ').includes('openid')) return undefined;
  const token = { value: tokens.accessToken, type: tokens.tokenType, expiresAt: tokens.expiresAt ?? 0 };
  const userinfo = authenticatedFetch(
    { getAccessToken: async () => token },
    { timeout: requestTimeoutMs, clock: client.clock },
  );
  try {
    const response = await userinfo(endpoint, { headers: { accept: 'application/json' } });
    if (!response.ok) return undefined;
    const info = (await response.json()) as Record<string, unknown> | null;
    const name = info?.name ?? info?.preferred_username;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

function printSummary(tokens: TokenSet, name: string | undefined, showTokens: boolean): void {
  const lines = ['Signed in.'];
  if (tokens.claims !== undefined) lines.push(`  subject:        ${String(tokens.claims.sub)}`);
  if (name !== undefined) lines.push(`  name:           ${name}`);
  const expiresIn = tokens.raw.expires_in;
  lines.push(
    `  scope:          ${tokens.scope ?? '(as requested)'}`,
    `  access token:   ${tokens.tokenType}${typeof expiresIn === 'number' ? `, expires in ${expiresIn} s` : ''}`,
    `  id token:       ${tokens.idToken === undefined ? 'no' : 'yes'}`,
    `  refresh token:  ${tokens.refreshToken === undefined ? 'no' : 'yes'}`,
  );
  console.log(lines.join('\n'));
  if (showTokens) console.log(`\nToken response:\n${JSON.stringify(tokens.raw, null, 2)}`);
  else console.log('\n(Run with --show-tokens to print the tokens themselves.)');
}

/** The message for an error of the device flow; `step` names the request an OAuth error came from. */
function explain(error: unknown, step: string): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof OAuthResponseError) {
    if (error.error === 'access_denied') return 'Access was denied on the verification page.';
    if (error.error === 'expired_token') return expiredMessage;
    return `${step} failed: ${error.message}`;
  }
  if (error instanceof GatehouseClientError && error.code === 'device_code_expired') return expiredMessage;
  return `Failed: ${describeFailure(error)}`;
}

async function main(argv: string[]): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(argv);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (options === undefined) {
    console.log(usage);
    return 0;
  }
  const watch: PollWatch = { tokenEndpoint: undefined, slowDown: false, busy: undefined };
  const client = new OAuthClient({
    issuer: options.issuer,
    clientId: options.clientId,
    clientAuthentication:
      options.clientSecret === undefined
        ? { method: 'none' }
        : { method: 'client_secret_basic', clientSecret: options.clientSecret },
    http: { timeout: requestTimeoutMs, fetch: watchingFetch(watch) },
  });
  let step = 'discovery';
  try {
    const metadata = await client.metadata();
    for (const field of ['device_authorization_endpoint', 'token_endpoint'] as const) {
      if (typeof metadata[field] !== 'string')
        throw new CliError(`the server does not advertise a ${field}; does it support RFC 8628?`);
    }
    step = 'device authorization';
    const authorization = await client.startDeviceAuthorization({
      scope: options.scope,
      resource: options.resources,
    });
    printInstructions(authorization);
    step = 'token request';
    watch.tokenEndpoint = metadata.token_endpoint;
    const tokens = await pollForTokens(client, authorization, watch);
    watch.tokenEndpoint = undefined;
    printSummary(tokens, await userName(client, tokens), options.showTokens);
    return 0;
  } catch (error) {
    console.error(explain(error, step));
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
