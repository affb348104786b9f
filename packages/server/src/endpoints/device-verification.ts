/**
 * The device verification page at /device (RFC 8628 §3.3, §3.3.1, §5.1, §5.3, §5.4): the user signs in,
 * enters the code shown on the device (or arrives with it pre-filled from verification_uri_complete),
 * sees which client asks for which scopes, and approves or denies. The device learns the outcome at its
 * next poll (grants/device-code.ts).
 *
 * Flow (HTML only, no JavaScript, strict CSP; views/device.ts):
 *   GET  /device[?user_code=…]  sign-in form when there is no session (or with prompt=login), otherwise
 *                               the code entry form
 *   POST /device/login          username and password (http/login-session.ts: per-username throttle), then
 *                               303 back to GET /device with the code kept
 *   POST /device                look the code up; the confirmation page with client, scopes and the code
 *   POST /device/decision       approve or deny; the result page
 * A pre-filled code is never looked up on GET: every lookup is a CSRF-protected POST that counts against
 * the limits below, and the user always confirms the code matches the device (§3.3.1, §5.4). The
 * confirmation is shown even to clients that skip consent in the authorization flow: a user code may come
 * from a phisher (§5.4), so the user must see what they are approving. Approval is remembered as consent
 * (ConsentRepository), as the authorization flow does, and creates the grant row in the same transaction
 * as the decision, so signing out of the session (which revokes its grants without offline_access) or
 * removing the client before the device polls leaves nothing to redeem.
 *
 * CSRF: each form carries sha256(label, browser id, session sid). The browser id is the random 256-bit
 * HttpOnly `__Host-` cookie shared with the authorization pages, so the token cannot be computed by anyone
 * who cannot read that cookie; it is stateless (nothing to store or expire, works across tabs) and, through
 * the sid, a form rendered for one signed-in user is refused after another user signs in in the same browser.
 *
 * Brute force on user codes (§5.1): code lookups (entry and decision) are limited per IP (`userCodePerIp`),
 * and wrong codes are counted per browser and per signed-in user (RateLimiter.recordFailure, so a cleared
 * cookie does not reset the account's count). From the `device.maxUserCodeFailures`-th wrong code on, code
 * entry is locked, the lock doubling with each further wrong code (1 s, 2 s, 4 s, … up to the code lifetime,
 * the same model as the login throttle), and the count is forgotten a code lifetime after the last wrong
 * code. A doubling lock rather than one long lock: a user who mistyped a few times is not shut out while
 * the device's code runs out, yet a guesser gets a few dozen tries per code lifetime against ~2^34 codes. A
 * correct code does not clear the count, or a guesser could reset it with a code of their own. The page
 * says plainly when entry is locked (HTTP 429 with Retry-After).
 *
 * Audit: device_approved, device_denied, user_code_failed, user_code_locked.
 */
import { constantTimeEqual } from '@gatehouse/jose-rules';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { deviceGrantId } from '../grants/device-code.ts';
import { browserCookie, readCookie, serializeCookie } from '../http/cookies.ts';
import { noStoreHeaders } from '../http/error-handler.ts';
import { checkPassword, currentSession, startSession } from '../http/login-session.ts';
import type { DeviceCode, LoginSession } from '../model.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type Params, type RawParams, toParams } from '../protocol/params.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { deviceCodePage, deviceConfirmPage, deviceDonePage, deviceSignInPage } from '../views/device.ts';
import { pageSecurityHeaders } from '../views/html.ts';
import { formatUserCode, normaliseUserCode } from './device-authorization.ts';

const csrfLabel = 'gatehouse/device-verification/csrf';

export function deviceCsrfToken(browserId: string, sid: string | undefined): string {
  return sha256Base64Url(`${csrfLabel}\u0000${browserId}\u0000${sid ?? ''}`);
}

function formParams(request: FastifyRequest): Params {
  return toParams((request.body as RawParams | undefined) ?? {});
}

/** A typed code kept for re-display: the normalised XXXX-XXXX form when it is one, else as typed (bounded). */
function keptCode(typed: string | undefined): string | undefined {
  if (typed === undefined || typed.length > 32) return undefined;
  const code = normaliseUserCode(typed);
  return code === undefined ? typed : formatUserCode(code);
}

function verificationUrl(ctx: ServerContext, userCode: string | undefined, switchUser = false): string {
  const url = new URL(ctx.endpoints.deviceVerification);
  if (userCode !== undefined) url.searchParams.set('user_code', userCode);
  if (switchUser) url.searchParams.set('prompt', 'login');
  return url.toString();
}

function send(reply: FastifyReply, status: number, html: string, retryAfter?: number): void {
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  reply.code(status).headers(pageSecurityHeaders).send(html);
}

function csrfError(): OAuthError {
  return new OAuthError(
    'invalid_request',
    'The form has expired or was not sent from this browser. Open the device page again and retry.',
  );
}

function checkCsrf(
  browserId: string | undefined,
  sid: string | undefined,
  submitted: string | undefined,
): asserts browserId is string {
  if (
    browserId === undefined ||
    submitted === undefined ||
    !constantTimeEqual(submitted, deviceCsrfToken(browserId, sid))
  ) {
    throw csrfError();
  }
}

function renderSignIn(
  ctx: ServerContext,
  reply: FastifyReply,
  browserId: string,
  userCode: string | undefined,
  username: string | undefined,
  error?: { message: string; status: number },
): void {
  send(
    reply,
    error?.status ?? 200,
    deviceSignInPage({
      action: `${ctx.endpoints.deviceVerification}/login`,
      csrfToken: deviceCsrfToken(browserId, undefined),
      userCode,
      username,
      error: error?.message,
    }),
  );
}

interface SignedIn {
  browserId: string;
  session: LoginSession;
  username: string;
}

async function usernameOf(ctx: ServerContext, session: LoginSession): Promise<string> {
  return (await ctx.storage.users.findById(session.userId))?.username ?? '';
}

function failureKeys(signedIn: SignedIn): string[] {
  return [
    `device_user_code:browser:${sha256Base64Url(signedIn.browserId)}`,
    `device_user_code:user:${signedIn.session.userId}`,
  ];
}

async function lockedFor(ctx: ServerContext, signedIn: SignedIn): Promise<number> {
  const locks = await Promise.all(failureKeys(signedIn).map((key) => ctx.rateLimits.lockedSeconds(key)));
  return Math.max(...locks);
}

async function renderCodeEntry(
  ctx: ServerContext,
  reply: FastifyReply,
  signedIn: SignedIn,
  userCode: string | undefined,
  error?: { message: string; status: number; retryAfter?: number },
): Promise<void> {
  const locked = await lockedFor(ctx, signedIn);
  send(
    reply,
    locked > 0 ? 429 : (error?.status ?? 200),
    deviceCodePage({
      action: ctx.endpoints.deviceVerification,
      csrfToken: deviceCsrfToken(signedIn.browserId, signedIn.session.sid),
      username: signedIn.username,
      userCode,
      error: error?.message,
      lockedFor: locked > 0 ? locked : undefined,
      switchUserUrl: verificationUrl(ctx, userCode, true),
    }),
    locked > 0 ? locked : error?.retryAfter,
  );
}

/**
 * The signed-in user behind a form post, after the CSRF check. When the session has ended, the sign-in
 * form is rendered (keeping the code) and undefined returned.
 */
async function signedInPost(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  params: Params,
): Promise<SignedIn | undefined> {
  const browserId = readCookie(request.headers.cookie, browserCookie);
  if (browserId === undefined) throw csrfError();
  const session = await currentSession(ctx, request);
  if (session === undefined) {
    // Nothing is done on behalf of anyone here, so this needs no CSRF check: just a sign-in form.
    renderSignIn(ctx, reply, browserId, keptCode(params.get('user_code')), undefined, {
      message: 'Your session has ended. Sign in again to continue.',
      status: 401,
    });
    return undefined;
  }
  checkCsrf(browserId, session.sid, params.get('csrf'));
  return { browserId, session, username: await usernameOf(ctx, session) };
}

/**
 * Looks up a typed user code under the brute-force rules. Renders the code entry page (error, lock or
 * limit) and returns undefined when there is no pending code to show.
 */
async function lookUpCode(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  signedIn: SignedIn,
  typed: string | undefined,
): Promise<DeviceCode | undefined> {
  const kept = keptCode(typed);
  const locked = await lockedFor(ctx, signedIn);
  if (locked > 0) {
    ctx.audit('user_code_locked', { user_id: signedIn.session.userId, retry_after: locked });
    await renderCodeEntry(ctx, reply, signedIn, kept);
    return undefined;
  }
  try {
    await ctx.rateLimits.hit('userCodePerIp', request.ip);
  } catch (error) {
    if (!(error instanceof OAuthError) || error.status !== 429) throw error;
    await renderCodeEntry(ctx, reply, signedIn, kept, {
      message: `Too many codes were entered from your network. Try again in ${error.retryAfter ?? 60} seconds.`,
      status: 429,
      retryAfter: error.retryAfter,
    });
    return undefined;
  }
  if (typed === undefined) {
    await renderCodeEntry(ctx, reply, signedIn, undefined, {
      message: 'Enter the code shown on your device.',
      status: 400,
    });
    return undefined;
  }
  const code = normaliseUserCode(typed);
  const record =
    code === undefined ? undefined : await ctx.storage.deviceCodes.findPendingByUserCode(code, ctx.now());
  if (record !== undefined) return record;

  const { maxUserCodeFailures, codeTtl } = ctx.config.device;
  let failures = 0;
  for (const key of failureKeys(signedIn)) {
    failures = Math.max(failures, await ctx.rateLimits.countFailure(key, maxUserCodeFailures - 1, codeTtl));
  }
  ctx.audit('user_code_failed', { user_id: signedIn.session.userId, failures });
  await renderCodeEntry(ctx, reply, signedIn, kept, {
    message:
      'That code is not valid, or it has expired or was already used. Check the code on your device and try again.',
    status: 400,
  });
  return undefined;
}

/**
 * GET /device: the sign-in form, or the code entry form (pre-filled from `user_code`). `prompt=login` shows
 * the sign-in form to a signed-in user too ("Not you?"), so someone else can continue on a shared browser;
 * signing in then replaces the session.
 */
export function deviceVerificationPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = toParams((request.query as RawParams | undefined) ?? {});
    const existing = readCookie(request.headers.cookie, browserCookie);
    const browserId = existing ?? randomHandle();
    if (existing === undefined) {
      reply.header(
        'set-cookie',
        serializeCookie(browserCookie, browserId, { sameSite: 'Lax', maxAge: 400 * 86400 }),
      );
    }
    const userCode = keptCode(params.get('user_code'));
    const session = await currentSession(ctx, request);
    if (session === undefined || params.get('prompt') === 'login') {
      renderSignIn(ctx, reply, browserId, userCode, undefined);
      return;
    }
    await renderCodeEntry(
      ctx,
      reply,
      { browserId, session, username: await usernameOf(ctx, session) },
      userCode,
    );
  };
}

/** POST /device/login: signs the user in, then back to the code entry with the code kept. */
export function deviceLoginSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = formParams(request);
    const browserId = readCookie(request.headers.cookie, browserCookie);
    checkCsrf(browserId, undefined, params.get('csrf'));
    const userCode = keptCode(params.get('user_code'));
    const username = params.get('username');
    const check = await checkPassword(ctx, username, params.get('password'), undefined);
    if ('error' in check) {
      renderSignIn(ctx, reply, browserId, userCode, username?.slice(0, 256), {
        message: check.error,
        status: check.status,
      });
      return;
    }
    await startSession(ctx, request, reply, check.user);
    reply.code(303).headers(noStoreHeaders).header('location', verificationUrl(ctx, userCode)).send();
  };
}

/** POST /device: the code entered; shows the confirmation page for a pending code. */
export function deviceCodeSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = formParams(request);
    const signedIn = await signedInPost(ctx, request, reply, params);
    if (signedIn === undefined) return;
    const record = await lookUpCode(ctx, request, reply, signedIn, params.get('user_code'));
    if (record === undefined) return;
    const client = await ctx.findClient(record.clientId);
    if (client === undefined) {
      await renderCodeEntry(ctx, reply, signedIn, undefined, {
        message: 'The application that showed this code is no longer registered.',
        status: 400,
      });
      return;
    }
    send(
      reply,
      200,
      deviceConfirmPage({
        action: `${ctx.endpoints.deviceVerification}/decision`,
        csrfToken: deviceCsrfToken(signedIn.browserId, signedIn.session.sid),
        username: signedIn.username,
        clientName: client.name,
        userCode: formatUserCode(record.userCode),
        scopes: record.scope.map((name) => ({ name, description: ctx.catalog.describe(name) })),
      }),
    );
  };
}

/** POST /device/decision: approves or denies the code for the signed-in user. */
export function deviceDecisionSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = formParams(request);
    const signedIn = await signedInPost(ctx, request, reply, params);
    if (signedIn === undefined) return;
    const decision = params.get('decision');
    if (decision !== 'approve' && decision !== 'deny') {
      throw new OAuthError('invalid_request', 'Choose Approve or Deny.');
    }
    const record = await lookUpCode(ctx, request, reply, signedIn, params.get('user_code'));
    if (record === undefined) return;
    const client = await ctx.findClient(record.clientId);
    if (client === undefined) {
      await renderCodeEntry(ctx, reply, signedIn, undefined, {
        message: 'The application that showed this code is no longer registered.',
        status: 400,
      });
      return;
    }
    const { session } = signedIn;
    const now = ctx.now();
    // The decision and, on approval, the grant row land together (see grants/device-code.ts).
    const decided = await ctx.storage.transaction(async (repositories) => {
      if (decision === 'deny') {
        return repositories.deviceCodes.decide(record.userCode, now, { status: 'denied' });
      }
      const approved = await repositories.deviceCodes.decide(record.userCode, now, {
        status: 'approved',
        userId: session.userId,
        authTime: session.authTime,
        amr: session.amr,
        sid: session.sid,
      });
      if (approved) {
        await repositories.grants.create({
          id: deviceGrantId(record.deviceCodeHash),
          clientId: record.clientId,
          userId: session.userId,
          sid: session.sid,
          scopes: record.scope,
          resources: record.resources,
          createdAt: now,
          revokedAt: null,
        });
      }
      return approved;
    });
    if (!decided) {
      await renderCodeEntry(ctx, reply, signedIn, undefined, {
        message: 'That code has expired or was already used. Start again on your device.',
        status: 400,
      });
      return;
    }
    const fields = { user_id: session.userId, client_id: record.clientId, sid: session.sid };
    if (decision === 'approve') {
      const previous = await ctx.storage.consents.find(session.userId, record.clientId);
      await ctx.storage.consents.save(
        session.userId,
        record.clientId,
        [...new Set([...previous, ...record.scope])],
        now,
      );
      ctx.audit('device_approved', { ...fields, scope: record.scope.join(' ') });
      send(reply, 200, deviceDonePage('approved', client.name));
      return;
    }
    ctx.audit('device_denied', fields);
    send(reply, 200, deviceDonePage('denied', client.name));
  };
}
