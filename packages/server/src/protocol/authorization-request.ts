/**
 * The authorization request (RFC 6749 §4.1.1, RFC 7636, OpenID Connect Core §3.1.2 and §5.5 `claims`,
 * RFC 8707, RFC 9126, RFC 9449 §10) and the consent rules shared by /authorize, /par, the interaction
 * pages and the device flow.
 *
 * The client and redirect URI are verified first (`authorizationTarget`): until both are trusted, errors are
 * never redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11). `validateAuthorizationRequest` checks the rest and
 * throws plain OAuthErrors that /authorize turns into redirects and /par into JSON. Pushed requests (RFC 9126
 * §4): a `request_uri` of ours is consumed once, for its own client. Request objects (OpenID Connect Core §6)
 * are not supported, as discovery says: `request` and any other `request_uri` are refused by name.
 */
import type { ServerContext } from '../context.ts';
import type { AuthorizationRequestRecord, Client, LoginSession } from '../model.ts';
import { verifyIdTokenHint } from '../tokens/id-token-hint.ts';
import { parseUiLocales } from '../views/i18n.ts';
import { requestedAcrLevel, requiredAcrLevel, sessionMeetsLevel } from './acr.ts';
import { parseClaimsRequest } from './claims-request.ts';
import { isThumbprint } from './dpop.ts';
import { OAuthError } from './errors.ts';
import { credentialParameters, type RawParams, toParams } from './params.ts';
import { validateCodeChallenge } from './pkce.ts';
import { isFapi2 } from './profile.ts';
import { matchesRegisteredRedirectUri } from './redirect-uri.ts';
import { parseScope } from './scopes.ts';
import { isHandle, randomHandle, sha256Base64Url } from './secrets.ts';

const supportedPrompts = new Set(['none', 'login', 'consent']);

/** RFC 9126 §2.2: the request_uri values /par hands out: this prefix and 256 random bits. */
export const requestUriPrefix = 'urn:ietf:params:oauth:request_uri:';

/** True for a request_uri handed out by /par (the only kind supported; nothing is ever fetched). */
export function isPushedRequestUri(requestUri: string): boolean {
  return requestUri.startsWith(requestUriPrefix);
}

/**
 * OpenID Connect Core §6.1, §6.2: discovery says `request_parameter_supported` and
 * `request_uri_parameter_supported` are false, so a request object, by value or by reference, is refused
 * with the error that names it. A request_uri from /par (RFC 9126) is not a request object.
 */
export function refuseRequestObjects(raw: RawParams): void {
  if (raw.request?.some((value) => value !== ''))
    throw new OAuthError('request_not_supported', 'the request parameter (request objects) is not supported');
  const requestUri = raw.request_uri?.find((value) => value !== '');
  if (requestUri !== undefined && !isPushedRequestUri(requestUri))
    throw new OAuthError(
      'request_uri_not_supported',
      'request_uri is supported only for requests pushed to the PAR endpoint',
    );
}

/** A parameter that may appear once; an empty value counts as absent. */
export function singleParameter(raw: RawParams, name: string): string | undefined {
  const values = raw[name]?.filter((value) => value !== '') ?? [];
  if ((raw[name]?.length ?? 0) > 1)
    throw new OAuthError('invalid_request', `parameter ${name} is included more than once`);
  return values[0];
}

/**
 * The parameters pushed for `requestUri` (RFC 9126 §4), used up in the same step: only request_uri values
 * of ours are looked at (nothing is ever fetched), and one that is unknown, expired, already used or
 * pushed by another client is `invalid_request_uri`. Never redirected: until the pushed request is found
 * there is no verified redirect URI.
 */
export async function pushedParameters(
  ctx: ServerContext,
  raw: RawParams,
  requestUri: string,
): Promise<RawParams> {
  const clientId = singleParameter(raw, 'client_id');
  if (clientId === undefined) throw new OAuthError('invalid_request', 'client_id is missing');
  const handle = isPushedRequestUri(requestUri) ? requestUri.slice(requestUriPrefix.length) : '';
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

/**
 * The parameters of a request pushed by `clientId` (RFC 9126 §2.1), as they are stored: without the
 * client's authentication, with its authenticated client_id. A `request_uri` inside is `invalid_request`.
 */
export function pushedRequestParameters(raw: RawParams, clientId: string): RawParams {
  if ('request_uri' in raw)
    throw new OAuthError('invalid_request', 'request_uri must not be part of a pushed request');
  const pushed: RawParams = {};
  for (const [name, values] of Object.entries(raw)) {
    if (!credentialParameters.has(name)) pushed[name] = values;
  }
  pushed.client_id = [clientId];
  return pushed;
}

/**
 * RFC 9126 §2.2: validates a pushed request as /authorize would, and stores it (as a hash of its handle)
 * under a new request_uri that lives `par.ttl` seconds.
 */
export async function pushAuthorizationRequest(
  ctx: ServerContext,
  client: Client,
  pushed: RawParams,
  now: number,
): Promise<{ requestUri: string; expiresIn: number }> {
  validateAuthorizationRequest(ctx, client, checkedRedirectUri(client, pushed), pushed);
  const handle = randomHandle();
  const ttl = ctx.config.par.ttl;
  await ctx.storage.pushedAuthorizationRequests.create({
    requestUriHash: sha256Base64Url(handle),
    clientId: client.clientId,
    parameters: pushed,
    expiresAt: now + ttl,
    createdAt: now,
  });
  ctx.audit('authorization_request_pushed', { client_id: client.clientId });
  return { requestUri: `${requestUriPrefix}${handle}`, expiresIn: ttl };
}

/** Verifies client_id and redirect_uri; errors here are never redirected. */
export async function authorizationTarget(
  ctx: ServerContext,
  raw: RawParams,
): Promise<{ client: Client; redirectUri: string }> {
  const clientId = singleParameter(raw, 'client_id');
  if (clientId === undefined) throw new OAuthError('invalid_request', 'client_id is missing');
  const client = await ctx.findClient(clientId);
  if (client === undefined) throw new OAuthError('invalid_request', 'the client is not known');
  if (client.disabledAt !== undefined) throw new OAuthError('invalid_request', 'the client is disabled');
  return { client, redirectUri: checkedRedirectUri(client, raw) };
}

/** The request's redirect_uri when it is registered for the client (exact match, RFC 8252 loopback). */
export function checkedRedirectUri(client: Client, raw: RawParams): string {
  const redirectUri = singleParameter(raw, 'redirect_uri');
  if (redirectUri === undefined) throw new OAuthError('invalid_request', 'redirect_uri is missing');
  if (!matchesRegisteredRedirectUri(redirectUri, client.redirectUris)) {
    throw new OAuthError('invalid_request', 'redirect_uri is not registered for this client');
  }
  return redirectUri;
}

/** RFC 9126 §5, FAPI 2.0: a request that must have come through /par. */
export function requiresPushedRequest(ctx: ServerContext, client: Client): boolean {
  return ctx.config.par.required || client.requirePushedAuthorizationRequests || isFapi2(ctx.config, client);
}

/**
 * The requested scopes (required) and RFC 8707 resources, checked against the client's registration and
 * the catalogue (`invalid_scope`, `invalid_target`). Shared with the device authorization request.
 */
export function requestedScopes(
  ctx: ServerContext,
  client: Client,
  scope: string | undefined,
  resources: string[],
): string[] {
  const scopes = parseScope(scope);
  if (scopes.length === 0) throw new OAuthError('invalid_scope', 'scope is required');
  ctx.catalog.assertAllowed(scopes, client.scopes);
  ctx.catalog.resolveResources(resources);
  return scopes;
}

/** Validates everything but the client and redirect URI (see `authorizationTarget`). */
export function validateAuthorizationRequest(
  ctx: ServerContext,
  client: Client,
  redirectUri: string,
  raw: RawParams,
): AuthorizationRequestRecord {
  const params = toParams(raw);
  refuseRequestObjects(raw);
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

  const resources = params.getAll('resource');
  const scopes = requestedScopes(ctx, client, params.get('scope'), resources);

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
  const idTokenHintSub = hintedSubject(ctx, client, params.get('id_token_hint'));
  // A hint only: malformed tags are dropped, never a reason to refuse the request.
  const uiLocales = parseUiLocales(params.get('ui_locales'));
  const claimsRequest = parseClaimsRequest(params.get('claims'));
  // A hint too (like Keycloak's kc_idp_hint): an upstream the client may not use is ignored at the chooser.
  const idp = params.get('idp');
  const requiredAcr = requestedAcrLevel(ctx.config, params.get('acr_values'), claimsRequest);

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
    ...(idTokenHintSub === undefined ? {} : { idTokenHintSub }),
    ...(uiLocales === undefined ? {} : { uiLocales }),
    ...(claimsRequest === undefined ? {} : { claimsRequest }),
    ...(idp === undefined || idp.length > 40 ? {} : { idp }),
    ...(requiredAcr === undefined ? {} : { requiredAcr }),
  };
}

/**
 * OpenID Connect Core §3.1.2.1 `id_token_hint`: an ID token this server issued to this client, signed with a
 * key it still publishes; an expired one is accepted, as the specification allows. Its `sub`, or undefined
 * without a hint; any other token is `invalid_request`.
 */
function hintedSubject(ctx: ServerContext, client: Client, token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const hint = verifyIdTokenHint(ctx, token);
  if (hint === undefined || hint.clientId !== client.clientId)
    throw new OAuthError(
      'invalid_request',
      'id_token_hint is not an ID token this server issued to the client',
    );
  return hint.sub;
}

/** True when `userId` is the user the request's id_token_hint names, or the request names none. */
export function isHintedUser(request: AuthorizationRequestRecord, userId: string): boolean {
  return request.idTokenHintSub === undefined || request.idTokenHintSub === userId;
}

/**
 * True when the session satisfies the request's login requirements: the hinted user's (OpenID Connect Core
 * §3.1.2.1 id_token_hint), recent enough for max_age (prompt=login handled by the caller).
 */
export function sessionSatisfies(
  ctx: ServerContext,
  request: AuthorizationRequestRecord,
  session: LoginSession | undefined,
): session is LoginSession {
  if (session === undefined || !isHintedUser(request, session.userId)) return false;
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

/** Remembers that the user consented to `scopes` for the client, beside what they granted before. */
export async function rememberConsent(
  ctx: ServerContext,
  userId: string,
  clientId: string,
  scopes: readonly string[],
  now: number,
): Promise<void> {
  const previous = await ctx.storage.consents.find(userId, clientId);
  await ctx.storage.consents.save(userId, clientId, [...new Set([...previous, ...scopes])], now);
}

/** What /authorize does with a valid request: answer at once, refuse, or let the user sign in or consent. */
export type AuthorizationDecision =
  | { outcome: 'issue'; session: LoginSession }
  | { outcome: 'refuse'; error: OAuthError }
  | { outcome: 'interact'; sessionSid: string | null };

/**
 * Decides a valid request for the browser's `session` (OpenID Connect Core §3.1.2.3, §3.1.2.4): a live
 * session that satisfies it, reaches the authentication level it needs (protocol/acr.ts) and needs no
 * consent gets a code at once; `prompt=none` otherwise is refused with `login_required`,
 * `interaction_required` (a second factor is missing) or `consent_required` (§3.1.2.6); anything else
 * becomes an interaction. A signed-in session short of the level keeps its sid: the interaction asks for
 * the second factor only (step-up).
 */
export async function decideAuthorization(
  ctx: ServerContext,
  client: Client,
  request: AuthorizationRequestRecord,
  session: LoginSession | undefined,
): Promise<AuthorizationDecision> {
  const signedIn = !request.prompt.includes('login') && sessionSatisfies(ctx, request, session);
  const levelMet =
    signedIn &&
    sessionMeetsLevel(
      session,
      requiredAcrLevel(
        ctx.config,
        client,
        request,
        (await ctx.accounts.findBySubject(session.userId))?.roles,
      ),
    );
  const consent = signedIn ? await needsConsent(ctx, client, request, session.userId) : true;
  if (request.prompt.includes('none')) {
    if (!signedIn)
      return { outcome: 'refuse', error: new OAuthError('login_required', 'the user is not logged in') };
    if (!levelMet)
      return {
        outcome: 'refuse',
        error: new OAuthError(
          'interaction_required',
          'the session does not reach the authentication level required (a second factor is needed)',
        ),
      };
    if (consent)
      return {
        outcome: 'refuse',
        error: new OAuthError('consent_required', 'the user has not consented to this request'),
      };
  }
  if (signedIn && levelMet && !consent) return { outcome: 'issue', session };
  return { outcome: 'interact', sessionSid: signedIn ? session.sid : null };
}
