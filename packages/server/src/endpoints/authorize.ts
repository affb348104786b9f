/**
 * GET and POST /authorize (RFC 6749 §4.1.1, RFC 7636, OpenID Connect Core §3.1.2, RFC 8707, RFC 9207).
 *
 * The client and redirect URI are verified first: until both are trusted, errors are shown as an HTML page
 * and never redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11). After that, errors go back to the client with
 * `state` and `iss`. The validated request is then either answered at once (a live session that needs no
 * consent), refused (`prompt=none`), or parked server-side as an interaction while the user logs in.
 *
 * Pushed requests (RFC 9126 §4): with a `request_uri` from /par, only the pushed parameters are used (the
 * request_uri is consumed once, for its own client; see endpoints/par.ts); a client (or a server) that
 * requires PAR gets `invalid_request` for anything else. `dpop_jkt` (RFC 9449 §10) binds the code to a key.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { browserCookie, readCookie, serializeCookie } from '../http/cookies.ts';
import { noStoreHeaders } from '../http/error-handler.ts';
import { currentSession } from '../http/login-session.ts';
import type { AuthorizationRequestRecord, Client, LoginSession } from '../model.ts';
import { isThumbprint } from '../protocol/dpop.ts';
import { AuthorizationRedirectError, OAuthError } from '../protocol/errors.ts';
import { type RawParams, toParams } from '../protocol/params.ts';
import { validateCodeChallenge } from '../protocol/pkce.ts';
import { isFapi2 } from '../protocol/profile.ts';
import { matchesRegisteredRedirectUri } from '../protocol/redirect-uri.ts';
import { parseScope } from '../protocol/scopes.ts';
import { isHandle, randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { issueAuthorizationCode } from '../tokens/authorization-code.ts';

const supportedPrompts = new Set(['none', 'login', 'consent']);

function single(raw: RawParams, name: string): string | undefined {
  const values = raw[name]?.filter((value) => value !== '') ?? [];
  if ((raw[name]?.length ?? 0) > 1)
    throw new OAuthError('invalid_request', `parameter ${name} is included more than once`);
  return values[0];
}

/** RFC 9126 §2.2: the request_uri values /par hands out: this prefix and 256 random bits. */
export const requestUriPrefix = 'urn:ietf:params:oauth:request_uri:';

/**
 * The parameters pushed for `requestUri` (RFC 9126 §4), used up in the same step: only request_uri values
 * of ours are looked at (nothing is ever fetched), and one that is unknown, expired, already used or
 * pushed by another client is `invalid_request_uri`. Shown as a page, never redirected: until the pushed
 * request is found there is no verified redirect URI.
 */
async function pushedParameters(ctx: ServerContext, raw: RawParams, requestUri: string): Promise<RawParams> {
  const clientId = single(raw, 'client_id');
  if (clientId === undefined) throw new OAuthError('invalid_request', 'client_id is missing');
  const handle = requestUri.startsWith(requestUriPrefix) ? requestUri.slice(requestUriPrefix.length) : '';
  const parameters = isHandle(handle)
    ? await ctx.storage.pushedAuthorizationRequests.consume(sha256Base64Url(handle), clientId, ctx.now())
    : undefined;
  if (parameters === undefined)
    throw new OAuthError(
      'invalid_request_uri',
      'request_uri is unknown, expired, already used or was pushed by another client',
    );
  return parameters;
}

/** Verifies client_id and redirect_uri; errors here are never redirected. */
async function trustedTarget(
  ctx: ServerContext,
  raw: RawParams,
): Promise<{ client: Client; redirectUri: string }> {
  const clientId = single(raw, 'client_id');
  if (clientId === undefined) throw new OAuthError('invalid_request', 'client_id is missing');
  const client = await ctx.findClient(clientId);
  if (client === undefined) throw new OAuthError('invalid_request', 'the client is not known');
  return { client, redirectUri: checkedRedirectUri(client, raw) };
}

/** The request's redirect_uri when it is registered for the client (exact match, RFC 8252 loopback). */
export function checkedRedirectUri(client: Client, raw: RawParams): string {
  const redirectUri = single(raw, 'redirect_uri');
  if (redirectUri === undefined) throw new OAuthError('invalid_request', 'redirect_uri is missing');
  if (!matchesRegisteredRedirectUri(redirectUri, client.redirectUris)) {
    throw new OAuthError('invalid_request', 'redirect_uri is not registered for this client');
  }
  return redirectUri;
}

/**
 * Validates everything else; throws plain OAuthErrors that the caller turns into redirects (at /authorize)
 * or JSON (at /par, which validates pushed requests with this same function).
 */
export function validateRequest(
  ctx: ServerContext,
  client: Client,
  redirectUri: string,
  raw: RawParams,
): AuthorizationRequestRecord {
  const params = toParams(raw);
  if (params.has('request')) throw new OAuthError('invalid_request', 'request objects are not supported');
  if (params.has('request_uri')) throw new OAuthError('invalid_request', 'request_uri is not supported');
  const responseType = params.get('response_type');
  if (responseType === undefined) throw new OAuthError('invalid_request', 'response_type is required');
  if (responseType !== 'code')
    throw new OAuthError('unsupported_response_type', 'only response_type=code is supported');
  if (!client.grantTypes.includes('authorization_code')) {
    throw new OAuthError(
      'unauthorized_client',
      'the client is not registered for the authorization code grant',
    );
  }
  const responseMode = params.get('response_mode');
  if (responseMode !== undefined && responseMode !== 'query')
    throw new OAuthError('invalid_request', 'only response_mode=query is supported');
  const codeChallenge = validateCodeChallenge(
    params.get('code_challenge'),
    params.get('code_challenge_method'),
  );

  const scopes = parseScope(params.get('scope'));
  if (scopes.length === 0) throw new OAuthError('invalid_scope', 'scope is required');
  ctx.catalog.assertAllowed(scopes, client.scopes);
  const resources = params.getAll('resource');
  ctx.catalog.resolveResources(resources);

  const prompt = (params.get('prompt') ?? '').split(' ').filter((value) => value !== '');
  for (const value of prompt) {
    if (!supportedPrompts.has(value))
      throw new OAuthError('invalid_request', `prompt=${value} is not supported`);
  }
  if (prompt.includes('none') && prompt.length > 1)
    throw new OAuthError('invalid_request', 'prompt=none cannot be combined with other values');

  const maxAgeText = params.get('max_age');
  if (maxAgeText !== undefined && !/^\d{1,9}$/.test(maxAgeText))
    throw new OAuthError('invalid_request', 'max_age must be a non-negative integer');
  const dpopJkt = params.get('dpop_jkt');
  if (dpopJkt !== undefined && !isThumbprint(dpopJkt))
    throw new OAuthError('invalid_request', 'dpop_jkt must be a base64url SHA-256 JWK thumbprint');

  return {
    clientId: client.clientId,
    redirectUri,
    scopes,
    resources,
    state: params.get('state'),
    nonce: params.get('nonce'),
    codeChallenge,
    prompt,
    maxAge: maxAgeText === undefined ? undefined : Number(maxAgeText),
    loginHint: params.get('login_hint'),
    dpopJkt,
  };
}

/** True when the session satisfies the request's login requirements (prompt=login handled by the caller). */
export function sessionSatisfies(
  ctx: ServerContext,
  request: AuthorizationRequestRecord,
  session: LoginSession | undefined,
): session is LoginSession {
  if (session === undefined) return false;
  if (request.maxAge === undefined) return true;
  // OpenID Connect Core §3.1.2.1: max_age=0 is equivalent to prompt=login, even within the login's second.
  return request.maxAge > 0 && ctx.now() - session.authTime <= request.maxAge;
}

/** True when the user must be asked to consent to this request. */
export async function needsConsent(
  ctx: ServerContext,
  client: Client,
  request: AuthorizationRequestRecord,
  userId: string,
): Promise<boolean> {
  if (request.prompt.includes('consent')) return true;
  if (!client.requireConsent) return false;
  const granted = await ctx.storage.consents.find(userId, client.clientId);
  return request.scopes.some((scope) => !granted.includes(scope));
}

export function authorizeEndpoint(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const received =
      ((request.method === 'POST' ? request.body : request.query) as RawParams | undefined) ?? {};
    const requestUri = single(received, 'request_uri');
    const pushed = requestUri !== undefined;
    const raw = pushed ? await pushedParameters(ctx, received, requestUri) : received;
    const { client, redirectUri } = await trustedTarget(ctx, raw);
    const state = raw.state?.length === 1 ? raw.state[0] || undefined : undefined;
    const redirectError = (error: OAuthError) =>
      new AuthorizationRedirectError(error.error, error.description, redirectUri, state);

    let authorization: AuthorizationRequestRecord;
    try {
      if (
        !pushed &&
        (ctx.config.par.required || client.requirePushedAuthorizationRequests || isFapi2(ctx.config, client))
      )
        throw new OAuthError(
          'invalid_request',
          'authorization requests must be pushed to the PAR endpoint first',
        );
      authorization = validateRequest(ctx, client, redirectUri, raw);
    } catch (error) {
      if (error instanceof OAuthError) throw redirectError(error);
      throw error;
    }

    const session = await currentSession(ctx, request);
    const forceLogin = authorization.prompt.includes('login');
    const hasSession = !forceLogin && sessionSatisfies(ctx, authorization, session);
    const consent =
      hasSession && session !== undefined
        ? await needsConsent(ctx, client, authorization, session.userId)
        : true;

    if (authorization.prompt.includes('none')) {
      if (!hasSession || session === undefined)
        throw redirectError(new OAuthError('login_required', 'the user is not logged in'));
      if (consent)
        throw redirectError(new OAuthError('consent_required', 'the user has not consented to this request'));
    }
    if (hasSession && session !== undefined && !consent) {
      const location = await issueAuthorizationCode(ctx, authorization, session);
      reply.code(303).headers(noStoreHeaders).header('location', location).send();
      return;
    }

    const now = ctx.now();
    const interactionId = randomHandle();
    const existingBrowserId = readCookie(request.headers.cookie, browserCookie);
    const browserId = existingBrowserId ?? randomHandle();
    await ctx.storage.interactions.create(
      {
        id: interactionId,
        csrfToken: randomHandle(),
        browserHash: sha256Base64Url(browserId),
        clientId: client.clientId,
        request: authorization,
        sessionSid: hasSession && session !== undefined ? session.sid : null,
        expiresAt: now + ctx.config.login.interactionTtl,
        completedAt: null,
      },
      now,
    );
    if (existingBrowserId === undefined) {
      reply.header(
        'set-cookie',
        serializeCookie(browserCookie, browserId, { sameSite: 'Lax', maxAge: 400 * 86400 }),
      );
    }
    reply
      .code(303)
      .headers(noStoreHeaders)
      .header('location', `${ctx.issuer}/interaction/${interactionId}`)
      .send();
  };
}
