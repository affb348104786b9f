/**
 * A command-line app that signs a user in with the OAuth 2.0 Device Authorization Grant (RFC 8628), the way
 * a TV, a console tool or an IoT device would: it has no browser, so it shows a short code and a URL, the
 * user approves on another device, and the app polls the token endpoint until it gets tokens.
 *
 *   node --import tsx examples/device-cli/src/main.ts --issuer http://localhost:3000 \
 *     --client-id device-app --scope "openid profile offline_access api1.read"
 *
 * Steps, with the RFC sections they follow:
 * 1. Discovery (RFC 8414 §3 / OpenID Connect Discovery): the device authorization and token endpoints are
 *    read from the issuer's metadata, whose `issuer` must equal the one configured (RFC 8414 §3.3).
 * 2. Device authorization request (RFC 8628 §3.1, §3.2): the client authenticates as it would at the token
 *    endpoint (a public client sends client_id; a confidential one uses HTTP Basic).
 * 3. User instruction (§3.3, §3.3.1): prints the user code, verification_uri and verification_uri_complete.
 * 4. Polling (§3.4, §3.5): waits `interval` seconds (default 5) before each request; on `slow_down` adds
 *    5 seconds to the interval for all later polls; keeps going on `authorization_pending`; stops on
 *    `access_denied`, `expired_token`, any other error, or when `expires_in` has passed. A 429/503 with
 *    Retry-After waits that long.
 * 5. Prints a summary of the token response, with the user's name from the userinfo endpoint (called with
 *    the new access token) when `openid` was granted. Tokens are credentials: they are printed only with
 *    --show-tokens. The id_token's claims are decoded for display without verifying its signature, which
 *    OpenID Connect Core §3.1.3.7 permits for an id_token received directly from the token endpoint over
 *    TLS; an app that passes the id_token on, or uses anything but https, should verify it (openid-client).
 *
 * Exit status: 0 signed in, 1 denied, expired or failed, 2 bad usage.
 */
import { parseArgs } from 'node:util';

const deviceGrantType = 'urn:ietf:params:oauth:grant-type:device_code';
const requestTimeoutMs = 30_000;

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

interface Metadata {
  issuer: string;
  device_authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint?: string;
}

interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  interval?: number;
}

interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in?: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

async function readJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new CliError(`${response.url} answered ${response.status} with something that is not a JSON object`);
}

function describeError(body: Record<string, unknown>, status: number): string {
  const error = typeof body.error === 'string' ? body.error : `HTTP ${status}`;
  return typeof body.error_description === 'string' ? `${error}: ${body.error_description}` : error;
}

/** A network failure with its cause (fetch reports "fetch failed" and puts the reason in `cause`). */
function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause =
    error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  const reason = cause?.code ?? cause?.message;
  return reason === undefined ? message : `${message} (${reason})`;
}

async function discover(issuer: string): Promise<Metadata> {
  const url = `${issuer}/.well-known/openid-configuration`;
  const response = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
  if (!response.ok) throw new CliError(`discovery at ${url} answered ${response.status}`);
  const metadata = await readJson(response);
  if (metadata.issuer !== issuer)
    throw new CliError(`discovery names issuer ${String(metadata.issuer)}, not ${issuer}`);
  for (const field of ['device_authorization_endpoint', 'token_endpoint'] as const) {
    if (typeof metadata[field] !== 'string')
      throw new CliError(`the server does not advertise a ${field}; does it support RFC 8628?`);
  }
  return metadata as unknown as Metadata;
}

/** Client authentication as at the token endpoint (RFC 6749 §2.3.1): Basic for a secret, else client_id. */
function authenticated(options: Options, form: URLSearchParams): Record<string, string> {
  if (options.clientSecret === undefined) {
    form.set('client_id', options.clientId);
    return {};
  }
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  const credentials = Buffer.from(`${encode(options.clientId)}:${encode(options.clientSecret)}`).toString(
    'base64',
  );
  return { authorization: `Basic ${credentials}` };
}

async function postForm(url: string, options: Options, form: URLSearchParams): Promise<Response> {
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    ...authenticated(options, form),
  };
  return fetch(url, {
    method: 'POST',
    headers,
    body: form.toString(),
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
}

async function requestDeviceAuthorization(
  metadata: Metadata,
  options: Options,
): Promise<DeviceAuthorization> {
  const form = new URLSearchParams({ scope: options.scope });
  for (const resource of options.resources) form.append('resource', resource);
  const response = await postForm(metadata.device_authorization_endpoint, options, form);
  const body = await readJson(response);
  if (!response.ok)
    throw new CliError(`device authorization failed: ${describeError(body, response.status)}`);
  const valid =
    typeof body.device_code === 'string' &&
    typeof body.user_code === 'string' &&
    typeof body.verification_uri === 'string' &&
    typeof body.expires_in === 'number' &&
    (body.interval === undefined || typeof body.interval === 'number') &&
    (body.verification_uri_complete === undefined || typeof body.verification_uri_complete === 'string');
  if (!valid) throw new CliError('the device authorization response is missing required fields');
  return body as unknown as DeviceAuthorization;
}

function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  return value !== null && /^\d+$/.test(value) ? Number(value) : undefined;
}

async function pollForTokens(
  metadata: Metadata,
  options: Options,
  authorization: DeviceAuthorization,
): Promise<TokenResponse> {
  let interval = authorization.interval ?? 5;
  const deadline = Date.now() + authorization.expires_in * 1000;
  for (;;) {
    await sleep(interval);
    if (Date.now() >= deadline)
      throw new CliError('The code expired before it was approved. Run the app again.');
    const form = new URLSearchParams({ grant_type: deviceGrantType, device_code: authorization.device_code });
    let response: Response;
    try {
      response = await postForm(metadata.token_endpoint, options, form);
    } catch (error) {
      console.error(`Polling failed: ${describeFailure(error)}; retrying.`);
      continue;
    }
    if (response.status === 429 || response.status === 503) {
      await response.body?.cancel();
      const wait = retryAfterSeconds(response) ?? interval;
      if (wait > interval) await sleep(wait - interval);
      continue;
    }
    const body = await readJson(response);
    if (response.ok) {
      if (typeof body.access_token !== 'string' || typeof body.token_type !== 'string')
        throw new CliError('the token response is missing access_token or token_type');
      return body as unknown as TokenResponse;
    }
    switch (body.error) {
      case 'authorization_pending':
        continue;
      case 'slow_down':
        interval += 5;
        console.log(`The server asked to slow down; polling every ${interval} seconds.`);
        continue;
      case 'access_denied':
        throw new CliError('Access was denied on the verification page.');
      case 'expired_token':
        throw new CliError('The code expired before it was approved. Run the app again.');
      default:
        throw new CliError(`token request failed: ${describeError(body, response.status)}`);
    }
  }
}

/** The id_token's claims, for display only (see the header comment). */
function idTokenClaims(idToken: string): Record<string, unknown> | undefined {
  const payload = idToken.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The user's name from the userinfo endpoint (OpenID Connect Core §5.3), called with the new access token. */
async function userName(metadata: Metadata, tokens: TokenResponse): Promise<string | undefined> {
  if (metadata.userinfo_endpoint === undefined || !(tokens.scope ?? '').split(' ').includes('openid'))
    return undefined;
  try {
    const response = await fetch(metadata.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    if (!response.ok) return undefined;
    const info = await readJson(response);
    const name = info.name ?? info.preferred_username;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

function printSummary(tokens: TokenResponse, name: string | undefined, showTokens: boolean): void {
  const lines = ['Signed in.'];
  const claims = tokens.id_token === undefined ? undefined : idTokenClaims(tokens.id_token);
  if (claims !== undefined) lines.push(`  subject:        ${String(claims.sub)}`);
  if (name !== undefined) lines.push(`  name:           ${name}`);
  lines.push(
    `  scope:          ${tokens.scope ?? '(as requested)'}`,
    `  access token:   ${tokens.token_type}${tokens.expires_in === undefined ? '' : `, expires in ${tokens.expires_in} s`}`,
    `  id token:       ${tokens.id_token === undefined ? 'no' : 'yes'}`,
    `  refresh token:  ${tokens.refresh_token === undefined ? 'no' : 'yes'}`,
  );
  console.log(lines.join('\n'));
  if (showTokens) console.log(`\nToken response:\n${JSON.stringify(tokens, null, 2)}`);
  else console.log('\n(Run with --show-tokens to print the tokens themselves.)');
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
  try {
    const metadata = await discover(options.issuer);
    const authorization = await requestDeviceAuthorization(metadata, options);
    const lines = [
      'To sign in, open this page on your phone or computer:',
      '',
      `    ${authorization.verification_uri}`,
      '',
      'and enter the code:',
      '',
      `    ${authorization.user_code}`,
      '',
    ];
    if (authorization.verification_uri_complete !== undefined) {
      lines.push(
        'Or open this link, which fills in the code for you:',
        '',
        `    ${authorization.verification_uri_complete}`,
        '',
      );
    }
    lines.push(
      `Waiting for approval (the code expires in ${Math.round(authorization.expires_in / 60)} minutes)...`,
    );
    console.log(lines.join('\n'));
    const tokens = await pollForTokens(metadata, options, authorization);
    printSummary(tokens, await userName(metadata, tokens), options.showTokens);
    return 0;
  } catch (error) {
    if (error instanceof CliError) console.error(error.message);
    else console.error(`Failed: ${describeFailure(error)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
