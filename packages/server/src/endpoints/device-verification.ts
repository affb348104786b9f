/**
 * The device verification pages at /device (RFC 8628 §3.3, §5.1, §5.4), HTML only; the rules are in
 * protocol/device-authorization.ts. A pre-filled code is never looked up on GET: every lookup is a
 * CSRF-protected POST that counts against the limits, and the user always confirms that the code matches
 * the device, even for clients that skip consent elsewhere, since a user code may come from a phisher
 * (§3.3.1, §5.4). When the MFA policy asks for a second factor, a code or a passkey steps the session up
 * before the confirmation (link-sign-in.ts), so the tokens' acr and amr say so.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { DeviceCode } from '../model.ts';
import {
  type CodeEntrant,
  decideDeviceCode,
  deviceCsrfLabel,
  deviceCsrfToken,
  formatUserCode,
  keptUserCode,
  lookUpUserCode,
  userCodeLockedFor,
} from '../protocol/device-authorization.ts';
import { type Params, type RawParams, toParams } from '../protocol/params.ts';
import type { MessageKey } from '../views/i18n.ts';
import type { FormError } from '../views/pages.ts';
import * as link from './link-sign-in.ts';
import { pageUiFor, renderPage, scopeGroups, sendPage, usernameOf } from './page-response.ts';

function verificationUrl(ctx: ServerContext, userCode: string | undefined, switchUser = false): string {
  const url = new URL(ctx.endpoints.deviceVerification);
  if (userCode !== undefined) url.searchParams.set('user_code', userCode);
  if (switchUser) url.searchParams.set('prompt', 'login');
  return url.toString();
}

/** The device flow's sign-in form, keeping the user code typed so far. */
function deviceSignIn(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  userCode: string | undefined,
): link.LinkSignIn {
  return link.signInFlow(ctx, request, reply, {
    csrfLabel: deviceCsrfLabel,
    expired: {
      pageMessage: 'error.deviceFormExpired',
      description:
        'The form has expired or was not sent from this browser. Open the device page again and retry.',
    },
    page: (view, ui) =>
      ctx.ui.pages.deviceSignIn(
        { ...view, action: `${ctx.endpoints.deviceVerification}/login`, userCode },
        ui,
      ),
  });
}

/** An error about the user code field. */
function codeError(key: MessageKey): FormError {
  return { message: { key }, field: 'user_code' };
}

interface SignedIn extends CodeEntrant {
  username: string;
}

async function signedIn(ctx: ServerContext, entrant: link.LinkEntrant): Promise<SignedIn> {
  return { ...entrant, username: await usernameOf(ctx, entrant.session.userId) };
}

async function renderCodeEntry(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  entrant: SignedIn,
  userCode: string | undefined,
  error?: link.PageFormError,
): Promise<void> {
  const locked = await userCodeLockedFor(ctx, entrant);
  sendPage(
    ctx,
    reply,
    locked > 0 ? 429 : (error?.status ?? 200),
    ctx.ui.pages.deviceCode(
      {
        action: ctx.endpoints.deviceVerification,
        csrfToken: deviceCsrfToken(entrant.browserId, entrant.session.sid),
        username: entrant.username,
        userCode,
        error: error?.form,
        lockedFor: locked > 0 ? locked : undefined,
        switchUserUrl: verificationUrl(ctx, userCode, true),
      },
      pageUiFor(ctx, request),
    ),
    locked > 0 ? locked : error?.retryAfter,
  );
}

/** The signed-in user behind a form post (link-sign-in.ts); the sign-in form keeps the code. */
async function signedInPost(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  params: Params,
): Promise<SignedIn | undefined> {
  const flow = deviceSignIn(ctx, request, reply, keptUserCode(params.get('user_code')));
  const entrant = await link.signedInPost(ctx, request, flow, params);
  return entrant && signedIn(ctx, entrant);
}

const lookupErrors = { missing: 'device.missing', unknown: 'device.unknown' } as const;

/**
 * The pending code the user typed, with its client. Otherwise renders the code entry page (error, lock,
 * limit or an unregistered client) and returns undefined.
 */
async function pendingCode(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  entrant: SignedIn,
  typed: string | undefined,
): Promise<Pending | undefined> {
  const lookup = await lookUpUserCode(ctx, entrant, request.ip, typed);
  if ('refused' in lookup) {
    const kept = keptUserCode(typed);
    if (lookup.refused === 'locked') await renderCodeEntry(ctx, request, reply, entrant, kept);
    else if (lookup.refused === 'rate_limited')
      await renderCodeEntry(ctx, request, reply, entrant, kept, {
        form: { message: { key: 'device.rateLimited', params: { seconds: lookup.retryAfter ?? 60 } } },
        status: 429,
        retryAfter: lookup.retryAfter,
      });
    else
      await renderCodeEntry(ctx, request, reply, entrant, lookup.refused === 'missing' ? undefined : kept, {
        form: codeError(lookupErrors[lookup.refused]),
        status: 400,
      });
    return undefined;
  }
  const client = await ctx.findClient(lookup.found.clientId);
  // A client removed or disabled (admin/clients.ts) since the code was issued: nothing to approve.
  if (client === undefined || client.disabledAt !== undefined) {
    await renderCodeEntry(ctx, request, reply, entrant, undefined, {
      form: { message: { key: 'device.clientGone' } },
      status: 400,
    });
    return undefined;
  }
  return { record: lookup.found, clientName: client.name };
}

/**
 * GET /device: the sign-in form, or the code entry form (pre-filled from `user_code`). `prompt=login` shows
 * the sign-in form to a signed-in user too ("Not you?"), so someone else can continue on a shared browser;
 * signing in then replaces the session.
 */
export function deviceVerificationPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = toParams((request.query as RawParams | undefined) ?? {});
    const userCode = keptUserCode(params.get('user_code'));
    const { browserId, session } = await link.visit(ctx, request, reply);
    if (session === undefined || params.get('prompt') === 'login') {
      deviceSignIn(ctx, request, reply, userCode).renderSignIn(browserId, undefined);
      return;
    }
    await renderCodeEntry(ctx, request, reply, await signedIn(ctx, { browserId, session }), userCode);
  };
}

/** POST /device/login: signs the user in, then back to the code entry with the code kept. */
export function deviceLoginSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = link.postedParams(request);
    const userCode = keptUserCode(params.get('user_code'));
    await link.linkSignInSubmit(ctx, request, reply, deviceSignIn(ctx, request, reply, userCode), {
      params,
      clientId: undefined,
      next: verificationUrl(ctx, userCode),
    });
  };
}

type Pending = { record: DeviceCode; clientName: string };

/** The confirmation page: the client, the code to compare with the device's, the scopes. */
function renderConfirm(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  entrant: SignedIn,
  pending: Pending,
): void {
  renderPage(ctx, request, reply, (ui) =>
    ctx.ui.pages.deviceConfirm(
      {
        action: `${ctx.endpoints.deviceVerification}/decision`,
        csrfToken: deviceCsrfToken(entrant.browserId, entrant.session.sid),
        username: entrant.username,
        clientName: pending.clientName,
        userCode: formatUserCode(pending.record.userCode),
        groups: scopeGroups(ctx, pending.record.scope),
      },
      ui,
    ),
  );
}

/** The second-factor forms (link-sign-in.ts), posted with the user code in their address. */
function factorForm(ctx: ServerContext, entrant: SignedIn, pending: Pending) {
  const userCode = formatUserCode(pending.record.userCode);
  const action = (path: string) => {
    const url = new URL(`${ctx.endpoints.deviceVerification}${path}`);
    url.searchParams.set('user_code', userCode);
    return url.toString();
  };
  return {
    codeAction: action('/mfa'),
    passkeyAction: action('/passkey'),
    csrfToken: deviceCsrfToken(entrant.browserId, entrant.session.sid),
    clientName: pending.clientName,
  };
}

function renderSecondFactor(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  entrant: SignedIn,
  pending: Pending,
  error?: link.PageFormError,
): Promise<void> {
  const form = factorForm(ctx, entrant, pending);
  return link.renderSecondFactor(ctx, request, reply, entrant.session, form, error);
}

/**
 * POST /device: the code entered; for a pending code, the confirmation page, or first the second factor
 * when the session is short of the level the MFA policy asks of this client (protocol/acr.ts).
 */
export function deviceCodeSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = link.postedParams(request);
    const entrant = await signedInPost(ctx, request, reply, params);
    if (entrant === undefined) return;
    const pending = await pendingCode(ctx, request, reply, entrant, params.get('user_code'));
    if (pending === undefined) return;
    if (await link.meetsApprovalLevel(ctx, pending.record.clientId, entrant.session))
      renderConfirm(ctx, request, reply, entrant, pending);
    else await renderSecondFactor(ctx, request, reply, entrant, pending);
  };
}

/** POST /device/decision: approves or denies the code for the signed-in user. */
export function deviceDecisionSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = link.postedParams(request);
    const entrant = await signedInPost(ctx, request, reply, params);
    if (entrant === undefined) return;
    const decision = link.chosenDecision(params);
    const pending = await pendingCode(ctx, request, reply, entrant, params.get('user_code'));
    if (pending === undefined) return;
    // Approval needs the level of the MFA policy, never less: else the second factor first.
    if (
      decision === 'approve' &&
      !(await link.meetsApprovalLevel(ctx, pending.record.clientId, entrant.session))
    ) {
      await renderSecondFactor(ctx, request, reply, entrant, pending, link.factorMissing);
      return;
    }
    if (!(await decideDeviceCode(ctx, pending.record, entrant.session, decision))) {
      await renderCodeEntry(ctx, request, reply, entrant, undefined, {
        form: codeError('device.expired'),
        status: 400,
      });
      return;
    }
    link.sendOutcome(
      ctx,
      request,
      reply,
      (view, ui) => ctx.ui.pages.deviceDone(view, ui),
      decision,
      pending.clientName,
    );
  };
}

/**
 * POST /device/mfa?user_code=... (a TOTP or recovery code) and /device/passkey?user_code=... (a passkey):
 * the second factor steps the session up (link-sign-in.ts); then the confirmation page for the code.
 */
export function deviceSecondFactorSubmit(ctx: ServerContext, kind: 'code' | 'passkey' = 'code') {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const typed = toParams((request.query as RawParams | undefined) ?? {}).get('user_code');
    const flow = deviceSignIn(ctx, request, reply, keptUserCode(typed));
    const linked = await link.signedInPost(ctx, request, flow, link.postedParams(request));
    if (linked === undefined) return;
    const entrant = await signedIn(ctx, linked);
    const pending = await pendingCode(ctx, request, reply, entrant, typed);
    if (pending === undefined) return;
    const form = factorForm(ctx, entrant, pending);
    const step = { flow, entrant, form, clientId: pending.record.clientId };
    const session = await link.secondFactorSubmit(ctx, request, reply, step, kind);
    if (session !== undefined) renderConfirm(ctx, request, reply, { ...entrant, session }, pending);
  };
}
