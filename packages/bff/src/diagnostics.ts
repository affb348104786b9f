/**
 * The diagnostics answer (off by default): why this request has, or has not, a valid session, from what
 * the server sees: which cookies arrived, whether the origin matches the configured one (`__Host-` and
 * Secure cookies depend on it), whether the CSRF header came, and the session's expiries and scopes.
 * It never shows a token, a cookie value or the ID Token.
 */
import type { IncomingMessage } from 'node:http';
import { cookieNames } from './http.ts';
import type { SessionData } from './session.ts';

export interface DiagnosticsInput {
  baseUrl: string;
  cookieName: string;
  sameSite: 'Strict' | 'Lax';
  now: number;
  session: SessionData | undefined;
  sessionExpiresAt: number | undefined;
  apis: { name: string; scopes: string[] }[];
  /** Whether the access token is due for refresh. */
  due: boolean;
}

export function diagnose(req: IncomingMessage, input: DiagnosticsInput): Record<string, unknown> {
  const base = new URL(input.baseUrl);
  const names = cookieNames(req);
  const cookieReceived = names.includes(input.cookieName);
  const host = req.headers.host;
  const origin = req.headers.origin;
  const findings: string[] = [];
  if (host !== undefined && host !== base.host) {
    findings.push(
      `The request is for host ${host} but the BFF is configured for ${base.host}: the session cookie is bound to the exact host that set it (__Host- prefix), so a different host name or port never gets it.`,
    );
  }
  if (base.protocol === 'http:' && base.hostname !== 'localhost') {
    findings.push(
      'The BFF is configured on plain http with a host other than localhost: browsers refuse Secure cookies there, so the session cookie is never stored. Serve it over https.',
    );
  }
  if (origin !== undefined && origin !== base.origin) {
    findings.push(
      `The request comes from origin ${origin}, not ${base.origin}: the SPA must be served from the BFF's origin (SameSite=${input.sameSite} cookies are not sent cross-site, and no CORS is granted).`,
    );
  }
  if (!cookieReceived) {
    findings.push(
      `No ${input.cookieName} cookie arrived: not signed in, the cookie expired, or the browser did not send it (fetch must use credentials: 'same-origin' or 'include'; a SameSite=Strict cookie is not sent on a navigation that started on another site).`,
    );
  } else if (input.session === undefined) {
    findings.push(
      'The cookie arrived but names no live session: it expired (idle or absolute timeout), was ended by logout or back-channel logout, or the store was emptied or its secret changed.',
    );
  }
  const session = input.session;
  if (session !== undefined) {
    if (session.refreshToken === undefined) {
      findings.push(
        'The session has no refresh token (offline_access was not granted): when the access token expires, the session ends.',
      );
    }
    for (const api of input.apis) {
      const missing = api.scopes.filter((scope) => !session.scopes.includes(scope));
      if (missing.length > 0)
        findings.push(
          `Calls to API "${api.name}" are refused with 403: the session lacks ${missing.join(' ')}.`,
        );
    }
  }
  if (req.headers['x-csrf'] !== '1') {
    findings.push(
      'This request has no X-CSRF: 1 header: every BFF call except login and callback needs it (403).',
    );
  }
  return {
    valid: session !== undefined,
    request: { host: host ?? null, origin: origin ?? null, csrfHeader: req.headers['x-csrf'] === '1' },
    cookie: {
      name: input.cookieName,
      received: cookieReceived,
      cookieNamesReceived: names,
      attributes: `HttpOnly; Secure; SameSite=${input.sameSite}; Path=/`,
    },
    session:
      session === undefined
        ? null
        : {
            sub: session.sub,
            expiresIn: (input.sessionExpiresAt ?? input.now) - input.now,
            absoluteExpiresIn: session.absoluteExpiresAt - input.now,
            accessTokenExpiresIn: session.accessExpiresAt - input.now,
            accessTokenDueForRefresh: input.due,
            refreshToken: session.refreshToken !== undefined,
            tokenType: session.tokenType,
            scopes: session.scopes,
          },
    findings,
  };
}
