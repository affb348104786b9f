/**
 * The measured loops, as autocannon request sequences. The same sequence runs against every target;
 * only paths and cookie names differ (see Target). Each sequence counts one operation when its last step
 * succeeds and tallies any other answer as a failure with its step and status.
 *
 * - client_credentials: POST /token, one access token per request.
 * - client_credentials_dpop: the same with a fresh DPoP proof per request (new jti, current iat, signed by
 *   the load generator, lib/dpop.ts); an operation counts only when the answer is a DPoP token.
 * - authorization_code: GET authorize with a fresh PKCE pair and state on a logged-in session (sessions
 *   are used round-robin), expect a redirect with the code and the same state, then POST /token; one
 *   flow = both steps, and the token response must hold access, id and refresh tokens.
 * - refresh_token: POST /token with a refresh token from a pool of chains, one per connection; the
 *   rotated token goes back to the pool, so a connection keeps using its own chain and no token is
 *   presented twice.
 * - login: GET authorize without a session, follow the redirect to the login page, read its form (action
 *   and hidden csrf field), POST username and password; one login = a redirect onwards from the POST.
 */
import type { AutocannonRequest } from 'autocannon';
import { benchUser } from '../fixtures.ts';
import type { DpopSigner } from './dpop.ts';
import { Tally } from './load.ts';
import {
  authorizePath,
  clientCredentialsBody,
  codeFlow,
  codeFromLocation,
  codeTokenBody,
  cookiePairs,
  formHeaders,
  header,
  newPkce,
  parseForm,
  refreshTokenBody,
  serviceAuthorization,
  type Target,
  webAuthorization,
} from './oauth.ts';

export interface Plan {
  requests: AutocannonRequest[];
  tally: Tally;
  /** Runs before each load run (warm-up and measured), outside the timing. */
  prepare(): Promise<void>;
  /** Seconds before a request counts as timed out (an error). */
  timeout: number;
}

const isRedirect = (status: number) => status >= 300 && status < 400;

function tokenLooksIssued(status: number, body: string, fields: readonly string[]): boolean {
  return status === 200 && fields.every((field) => body.includes(`"${field}"`));
}

export function clientCredentialsPlan(target: Target): Plan {
  const tally = new Tally();
  return {
    tally,
    prepare: async () => {},
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: target.tokenPath,
        headers: { ...formHeaders, authorization: serviceAuthorization },
        body: clientCredentialsBody,
        onResponse: (status, body) => {
          if (tokenLooksIssued(status, body, ['access_token'])) tally.ok++;
          else tally.fail(`token HTTP ${status}`);
        },
      },
    ],
  };
}

export function clientCredentialsDpopPlan(target: Target, signer: DpopSigner): Plan {
  const tally = new Tally();
  const htu = `${target.baseUrl}${target.tokenPath}`;
  return {
    tally,
    prepare: async () => {},
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: target.tokenPath,
        body: clientCredentialsBody,
        setupRequest: (request) => ({
          ...request,
          headers: { ...formHeaders, authorization: serviceAuthorization, dpop: signer.proof('POST', htu) },
        }),
        onResponse: (status, body) => {
          if (tokenLooksIssued(status, body, ['access_token']) && /"token_type":"DPoP"/i.test(body))
            tally.ok++;
          else tally.fail(`token HTTP ${status}`);
        },
      },
    ],
  };
}

export function authorizationCodePlan(target: Target, sessions: readonly string[]): Plan {
  const tally = new Tally();
  let next = 0;
  return {
    tally,
    prepare: async () => {},
    timeout: 10,
    requests: [
      {
        method: 'GET',
        setupRequest: (request, context) => {
          const pkce = newPkce();
          const state = `s${++next}`;
          context.verifier = pkce.verifier;
          context.state = state;
          context.code = undefined;
          const cookie = sessions[next % sessions.length]!;
          return { ...request, path: authorizePath(target, pkce, state), headers: { cookie } };
        },
        onResponse: (status, _body, context, headers) => {
          const redirect = codeFromLocation(header(headers, 'location'));
          if (isRedirect(status) && redirect !== undefined && redirect.state === context.state)
            context.code = redirect.code;
          else tally.fail(`authorize HTTP ${status}`);
        },
      },
      {
        method: 'POST',
        path: target.tokenPath,
        headers: { ...formHeaders, authorization: webAuthorization },
        setupRequest: (request, context) => {
          if (typeof context.code !== 'string' || typeof context.verifier !== 'string') return undefined;
          return { ...request, body: codeTokenBody(context.code, context.verifier) };
        },
        onResponse: (status, body) => {
          if (tokenLooksIssued(status, body, ['access_token', 'id_token', 'refresh_token'])) tally.ok++;
          else tally.fail(`token HTTP ${status}`);
        },
      },
    ],
  };
}

/** Runs `count` tasks with at most `parallel` in flight. */
export async function inBatches<T>(
  count: number,
  parallel: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let index = 0;
  const worker = async () => {
    while (index < count) {
      const mine = index++;
      results[mine] = await task(mine);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return results;
}

export function refreshTokenPlan(target: Target, sessionCookie: string, chains: number): Plan {
  const tally = new Tally();
  let pool: string[] = [];
  return {
    tally,
    timeout: 10,
    // Fresh chains for every run: a run that stops drops the responses in flight, and with them the
    // rotated tokens of those chains.
    prepare: async () => {
      const responses = await inBatches(chains, 8, () => codeFlow(target, sessionCookie));
      pool = responses.map((response) => {
        if (response.refresh_token === undefined)
          throw new Error(`${target.kind}: no refresh_token from the code flow`);
        return response.refresh_token;
      });
    },
    requests: [
      {
        method: 'POST',
        path: target.tokenPath,
        headers: { ...formHeaders, authorization: webAuthorization },
        setupRequest: (request) => ({ ...request, body: refreshTokenBody(pool.pop() ?? 'pool-exhausted') }),
        onResponse: (status, body) => {
          if (tokenLooksIssued(status, body, ['access_token', 'refresh_token'])) {
            const rotated = (JSON.parse(body) as { refresh_token?: unknown }).refresh_token;
            if (typeof rotated === 'string') {
              pool.push(rotated);
              tally.ok++;
              return;
            }
          }
          tally.fail(`refresh HTTP ${status}`);
        },
      },
    ],
  };
}

function pathOf(location: string): string {
  if (location.startsWith('/')) return location;
  const url = new URL(location);
  return `${url.pathname}${url.search}`;
}

function mergeCookies(current: unknown, setCookie: string | string[] | undefined): string {
  const jar = new Map<string, string>();
  if (typeof current === 'string' && current !== '') {
    for (const part of current.split('; ')) {
      const separator = part.indexOf('=');
      jar.set(part.slice(0, separator), part.slice(separator + 1));
    }
  }
  for (const [name, value] of cookiePairs(setCookie)) {
    if (value === '') jar.delete(name);
    else jar.set(name, value);
  }
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
}

export function loginPlan(target: Target): Plan {
  const tally = new Tally();
  let next = 0;
  return {
    tally,
    prepare: async () => {},
    // 50 logins in flight queue for 4 argon2 threads: seconds of waiting are expected, not an error.
    timeout: 30,
    requests: [
      {
        method: 'GET',
        setupRequest: (request, context) => {
          context.cookie = '';
          context.page = undefined;
          context.form = undefined;
          return { ...request, path: authorizePath(target, newPkce(), `l${++next}`), headers: {} };
        },
        onResponse: (status, _body, context, headers) => {
          const location = header(headers, 'location');
          if (
            isRedirect(status) &&
            typeof location === 'string' &&
            codeFromLocation(location) === undefined
          ) {
            context.page = pathOf(location);
            context.cookie = mergeCookies(context.cookie, header(headers, 'set-cookie'));
          } else {
            tally.fail(`authorize HTTP ${status}`);
          }
        },
      },
      {
        method: 'GET',
        setupRequest: (request, context) => {
          if (typeof context.page !== 'string') return undefined;
          return { ...request, path: context.page, headers: { cookie: String(context.cookie) } };
        },
        onResponse: (status, body, context, headers) => {
          const form = status === 200 ? parseForm(body) : undefined;
          if (form !== undefined && body.includes('name="password"')) {
            context.form = form;
            context.cookie = mergeCookies(context.cookie, header(headers, 'set-cookie'));
          } else {
            tally.fail(`login page HTTP ${status}`);
          }
        },
      },
      {
        method: 'POST',
        setupRequest: (request, context) => {
          const form = context.form as { action: string; fields: Record<string, string> } | undefined;
          if (form === undefined) return undefined;
          const fields = new URLSearchParams(form.fields);
          fields.set('username', benchUser.username);
          fields.set('password', benchUser.password);
          return {
            ...request,
            // The action may be relative to the login page; resolve it as a browser would.
            path: pathOf(new URL(form.action, new URL(String(context.page), 'http://login.invalid')).href),
            headers: { ...formHeaders, cookie: String(context.cookie) },
            body: fields.toString(),
          };
        },
        onResponse: (status) => {
          if (isRedirect(status)) tally.ok++;
          else tally.fail(`login POST HTTP ${status}`);
        },
      },
    ],
  };
}
