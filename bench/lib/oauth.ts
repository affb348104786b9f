/**
 * OAuth client steps the harness runs outside the measured loops, with fetch: signing in like a browser
 * (following redirects by hand, filling the login form) to obtain a session cookie, running one
 * authorization code flow to obtain a refresh token, and checking that a server's access token is an
 * ES256 RFC 9068 JWT that verifies against its JWKS, so a server cannot look fast by doing less.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { basicAuthorization, benchUser, ordersApi, serviceClient, webClient } from '../fixtures.ts';

export type TargetKind = 'gatehouse' | 'peer' | 'ceiling' | 'floor';

/** Where a server under test keeps its endpoints and which cookies make up its login session. */
export interface Target {
  kind: TargetKind;
  baseUrl: string;
  authorizePath: string;
  tokenPath: string;
  jwksPath: string;
  sessionCookies: readonly string[];
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function newPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The authorization request path (with query) every target gets, differing only in the path. */
export function authorizePath(target: Target, pkce: Pkce, state: string): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: webClient.clientId,
    redirect_uri: webClient.redirectUri,
    scope: webClient.scope,
    state,
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
  });
  return `${target.authorizePath}?${query.toString()}`;
}

export const formHeaders = {
  'content-type': 'application/x-www-form-urlencoded',
} as const;

export function codeTokenBody(code: string, verifier: string): string {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: webClient.redirectUri,
    code_verifier: verifier,
  }).toString();
}

export function refreshTokenBody(refreshToken: string): string {
  return new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString();
}

export const clientCredentialsBody = new URLSearchParams({
  grant_type: 'client_credentials',
  scope: serviceClient.scope,
}).toString();

export const serviceAuthorization = basicAuthorization(serviceClient.clientId, serviceClient.secret);
export const webAuthorization = basicAuthorization(webClient.clientId, webClient.secret);

/** The value of a response header, whatever case the server used. */
export function header(
  headers: Record<string, string | string[]>,
  name: string,
): string | string[] | undefined {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === wanted) return headers[key];
  }
  return undefined;
}

/** `name=value` pairs from Set-Cookie header values. */
export function cookiePairs(setCookie: string | string[] | undefined): [string, string][] {
  if (setCookie === undefined) return [];
  return (Array.isArray(setCookie) ? setCookie : [setCookie]).map((line) => {
    const pair = line.split(';', 1)[0]!;
    const separator = pair.indexOf('=');
    return [pair.slice(0, separator).trim(), pair.slice(separator + 1).trim()];
  });
}

/** The code and state of a redirect to our redirect URI, or undefined when it is something else. */
export function codeFromLocation(
  location: string | string[] | undefined,
): { code: string; state: string | null } | undefined {
  if (typeof location !== 'string' || !location.startsWith(webClient.redirectUri)) return undefined;
  const query = new URLSearchParams(location.slice(location.indexOf('?') + 1));
  const code = query.get('code');
  return code === null ? undefined : { code, state: query.get('state') };
}

const entities: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  '#39': "'",
  '#x27': "'",
  '#x2F': '/',
};

function unescapeHtml(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39|#x27|#x2F);/g, (_match, name: string) => entities[name] ?? '');
}

export interface HtmlForm {
  action: string;
  fields: Record<string, string>;
}

/** The first form of a page: its action and hidden fields (enough for a login or consent page). */
export function parseForm(html: string): HtmlForm | undefined {
  const form = /<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const fields: Record<string, string> = {};
  for (const input of form[2]!.matchAll(/<input\b[^>]*>/gi)) {
    const tag = input[0];
    if (!/\btype="hidden"/i.test(tag)) continue;
    const name = /\bname="([^"]*)"/i.exec(tag)?.[1];
    const value = /\bvalue="([^"]*)"/i.exec(tag)?.[1] ?? '';
    if (name !== undefined) fields[unescapeHtml(name)] = unescapeHtml(value);
  }
  return { action: unescapeHtml(form[1]!), fields };
}

/** A minimal browser: one cookie jar (paths ignored: one origin), redirects followed by hand. */
export class Browser {
  readonly jar = new Map<string, string>();

  constructor(private readonly baseUrl: string) {}

  cookieHeader(names?: readonly string[]): string {
    return [...this.jar]
      .filter(([name]) => names === undefined || names.includes(name))
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
  }

  async request(
    pathOrUrl: string,
    init: { method?: string; body?: string } = {},
  ): Promise<{ status: number; location: string | null; text: string }> {
    const headers: Record<string, string> = { cookie: this.cookieHeader() };
    if (init.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(new URL(pathOrUrl, this.baseUrl), {
      method: init.method ?? 'GET',
      headers,
      body: init.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    for (const [name, value] of cookiePairs(response.headers.getSetCookie())) {
      if (value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return {
      status: response.status,
      location: response.headers.get('location'),
      text: await response.text(),
    };
  }
}

/**
 * Signs the bench user in through the target's own pages and returns the session cookie header and the
 * authorization code the flow ended with. Fills a login form (username, password, hidden fields such
 * as csrf) and allows a consent form if one is shown.
 */
export async function signIn(target: Target): Promise<{ cookie: string; code: string; verifier: string }> {
  const browser = new Browser(target.baseUrl);
  if (target.kind === 'ceiling' || target.kind === 'floor') {
    const created = await browser.request('/bench/session', { method: 'POST' });
    if (created.status !== 204) throw new Error(`${target.kind} session: HTTP ${created.status}`);
  }
  const pkce = newPkce();
  let step = await browser.request(authorizePath(target, pkce, 'sign-in'));
  for (let hops = 0; hops < 10; hops++) {
    const redirect = codeFromLocation(step.location ?? undefined);
    if (redirect !== undefined) {
      const cookie = browser.cookieHeader(target.sessionCookies);
      if (cookie === '')
        throw new Error(
          `${target.kind}: signed in but no session cookie (${target.sessionCookies.join(', ')})`,
        );
      return { cookie, code: redirect.code, verifier: pkce.verifier };
    }
    if (step.status >= 300 && step.status < 400 && step.location !== null) {
      step = await browser.request(step.location);
      continue;
    }
    const form = step.status === 200 ? parseForm(step.text) : undefined;
    if (form === undefined)
      throw new Error(`${target.kind}: sign-in stopped at HTTP ${step.status}: ${step.text.slice(0, 300)}`);
    const fields = new URLSearchParams(form.fields);
    if (/name="password"/.test(step.text)) {
      fields.set('username', benchUser.username);
      fields.set('password', benchUser.password);
    } else if (/name="decision"/.test(step.text)) {
      fields.set('decision', 'allow');
    }
    step = await browser.request(form.action, { method: 'POST', body: fields.toString() });
  }
  throw new Error(`${target.kind}: sign-in did not reach the redirect URI`);
}

export interface TokenResponse {
  access_token?: string;
  id_token?: string;
  refresh_token?: string;
  token_type?: string;
  error?: string;
  error_description?: string;
}

export async function postToken(
  target: Target,
  authorization: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<TokenResponse> {
  const response = await fetch(new URL(target.tokenPath, target.baseUrl), {
    method: 'POST',
    headers: { ...formHeaders, authorization, ...headers },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const json = (await response.json()) as TokenResponse;
  if (response.status !== 200)
    throw new Error(`${target.kind} token endpoint: HTTP ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** One authorization code flow on an existing session; returns the token response. */
export async function codeFlow(target: Target, cookie: string): Promise<TokenResponse> {
  const pkce = newPkce();
  const response = await fetch(new URL(authorizePath(target, pkce, 'prepare'), target.baseUrl), {
    headers: { cookie },
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  const redirect = codeFromLocation(response.headers.get('location') ?? undefined);
  if (redirect === undefined) {
    throw new Error(
      `${target.kind}: authorize answered HTTP ${response.status} to ${response.headers.get('location')}`,
    );
  }
  return postToken(target, webAuthorization, codeTokenBody(redirect.code, pkce.verifier));
}

/**
 * Verifies an access token the way a resource server would: ES256 signature by a key from the target's
 * JWKS, typ at+jwt, the orders API audience, and the RFC 9068 claims. Throws with the reason otherwise.
 */
export async function checkAccessToken(
  target: Target,
  token: string | undefined,
  clientId: string,
): Promise<JWTPayload> {
  if (token === undefined) throw new Error(`${target.kind}: no access_token`);
  const response = await fetch(new URL(target.jwksPath, target.baseUrl), {
    signal: AbortSignal.timeout(10_000),
  });
  const jwks = createLocalJWKSet((await response.json()) as Parameters<typeof createLocalJWKSet>[0]);
  const header = decodeProtectedHeader(token);
  if (header.alg !== 'ES256' || header.typ?.toLowerCase() !== 'at+jwt') {
    throw new Error(`${target.kind}: access token header is ${JSON.stringify(header)}`);
  }
  const { payload } = await jwtVerify(token, jwks, {
    algorithms: ['ES256'],
    audience: ordersApi.audience,
    typ: 'at+jwt',
  });
  for (const claim of ['iss', 'sub', 'client_id', 'scope', 'jti', 'iat', 'exp'] as const) {
    if (payload[claim] === undefined) throw new Error(`${target.kind}: access token has no ${claim}`);
  }
  if (payload.client_id !== clientId)
    throw new Error(`${target.kind}: access token client_id is ${String(payload.client_id)}`);
  return payload;
}

/**
 * Checks a DPoP token response (RFC 9449 §5, §6.1): `token_type` DPoP and an access token (already checked
 * with checkAccessToken) whose `cnf.jkt` is the thumbprint of the key that signed the proof.
 */
export function checkDpopBinding(
  target: Target,
  response: TokenResponse,
  payload: JWTPayload,
  jkt: string,
): void {
  if (response.token_type?.toLowerCase() !== 'dpop')
    throw new Error(`${target.kind}: token_type is ${String(response.token_type)}, not DPoP`);
  const cnf = payload.cnf as { jkt?: unknown } | undefined;
  if (cnf?.jkt !== jkt) throw new Error(`${target.kind}: access token cnf is ${JSON.stringify(cnf)}`);
}
