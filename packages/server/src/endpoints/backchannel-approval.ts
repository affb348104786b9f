/**
 * The CIBA approval pages at /bc-approve (CIBA Core §7.1, §15), HTML only; the rules are in
 * protocol/backchannel-authentication.ts, the sign-in in link-sign-in.ts. The notifier's link (`?token=`)
 * opens them: the user signs in as the account the request names (another account is refused), gives a
 * second factor, a code or a passkey, when the MFA policy or the request's `acr_values` ask for one
 * (link-sign-in.ts; the session is stepped up, so the ID token's acr and amr say so), sees the client, the binding message and the
 * scopes, and approves or denies with a CSRF-protected POST. The link works until a decision is made or
 * the request expires, whichever comes first; every page then answers that it has expired.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { BackchannelAuthenticationRequest, LoginSession } from '../model.ts';
import { requestedAcrLevel } from '../protocol/acr.ts';
import {
  approvalCsrfLabel,
  approvalCsrfToken,
  decideBackchannelRequest,
  pendingApproval,
} from '../protocol/backchannel-authentication.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type RawParams, toParams } from '../protocol/params.ts';
import * as link from './link-sign-in.ts';
import { renderPage, scopeGroups, usernameOf } from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

function linkExpired(): OAuthError {
  return new OAuthError('invalid_request', 'This approval link has expired or was already used.', {
    pageMessage: 'error.cibaLinkExpired',
  });
}

/** The pending request behind a link's token, or the "expired or used" page. */
async function pending(ctx: ServerContext, token: string | undefined) {
  const found = await pendingApproval(ctx, token);
  if (found === undefined) throw linkExpired();
  return { ...found, token: token! };
}

type Pending = Awaited<ReturnType<typeof pending>>;

function approvalUrl(ctx: ServerContext, token: string, path = ''): string {
  const url = new URL(`${ctx.endpoints.backchannelApproval}${path}`);
  url.searchParams.set('token', token);
  return url.toString();
}

/** The approval flow's sign-in form, keeping the link's token. */
function cibaSignIn(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  found: Pending,
): link.LinkSignIn {
  return link.signInFlow(ctx, request, reply, {
    csrfLabel: approvalCsrfLabel,
    expired: {
      pageMessage: 'error.cibaFormExpired',
      description: 'The form has expired or was not sent from this browser. Open the link again and retry.',
    },
    page: (view, ui) =>
      ctx.ui.pages.cibaSignIn(
        {
          ...view,
          action: `${ctx.endpoints.backchannelApproval}/login`,
          token: found.token,
          clientName: found.clientName,
        },
        ui,
      ),
  });
}

const otherAccount = { form: { message: { key: 'ciba.otherAccount' } }, status: 403 } as const;

/** True when the session reaches the level the policy and the request's `acr_values` ask for. */
function meetsLevel(ctx: ServerContext, record: BackchannelAuthenticationRequest, session: LoginSession) {
  const requested = requestedAcrLevel(ctx.config, record.acrValues.join(' '), undefined);
  return link.meetsApprovalLevel(ctx, record.clientId, session, requested);
}

async function renderConfirm(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  { browserId, session }: link.LinkEntrant,
  found: Pending,
): Promise<void> {
  const username = await usernameOf(ctx, session.userId);
  renderPage(ctx, request, reply, (ui) =>
    ctx.ui.pages.cibaConfirm(
      {
        action: `${ctx.endpoints.backchannelApproval}/decision`,
        csrfToken: approvalCsrfToken(browserId, session.sid),
        token: found.token,
        username,
        clientName: found.clientName,
        bindingMessage: found.record.bindingMessage ?? undefined,
        groups: scopeGroups(ctx, found.record.scope),
      },
      ui,
    ),
  );
}

/** The second-factor forms of the approval page, posted with the link's token (link-sign-in.ts). */
function factorForm(ctx: ServerContext, browserId: string, session: LoginSession, found: Pending) {
  return {
    codeAction: approvalUrl(ctx, found.token, '/mfa'),
    passkeyAction: approvalUrl(ctx, found.token, '/passkey'),
    csrfToken: approvalCsrfToken(browserId, session.sid),
    clientName: found.clientName,
  };
}

function renderSecondFactor(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  { browserId, session }: link.LinkEntrant,
  found: Pending,
  error?: link.PageFormError,
): Promise<void> {
  const form = factorForm(ctx, browserId, session, found);
  return link.renderSecondFactor(ctx, request, reply, session, form, error);
}

/**
 * GET /bc-approve?token=...: for the signed-in user the request names, the second-factor form when the
 * session is short of the level needed, else the confirmation; otherwise the sign-in form (a session of
 * another account is not used, and says so).
 */
export function backchannelApprovalPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const query = toParams((request.query as RawParams | undefined) ?? {});
    const found = await pending(ctx, query.get('token'));
    const { browserId, session } = await link.visit(ctx, request, reply);
    const flow = cibaSignIn(ctx, request, reply, found);
    if (session === undefined) flow.renderSignIn(browserId, undefined);
    else if (session.userId !== found.record.hintedUserId)
      flow.renderSignIn(browserId, undefined, otherAccount);
    else if (!(await meetsLevel(ctx, found.record, session)))
      await renderSecondFactor(ctx, request, reply, { browserId, session }, found);
    else await renderConfirm(ctx, request, reply, { browserId, session }, found);
  };
}

/** POST /bc-approve/login: signs the named user in, then back to the page. */
export function backchannelApprovalLogin(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = link.postedParams(request);
    const found = await pending(ctx, params.get('token'));
    await link.linkSignInSubmit(ctx, request, reply, cibaSignIn(ctx, request, reply, found), {
      params,
      clientId: found.record.clientId,
      next: approvalUrl(ctx, found.token),
      refuse: (account) => {
        if (account.subject === found.record.hintedUserId) return undefined;
        ctx.audit('ciba_other_account', { client_id: found.record.clientId, user_id: account.subject });
        return otherAccount;
      },
    });
  };
}

/**
 * The hinted user's session behind a form post, after the CSRF check; else the sign-in form is rendered
 * (session ended, or another account's) and undefined returned.
 */
async function hintedUserPost(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  found: Pending,
) {
  const flow = cibaSignIn(ctx, request, reply, found);
  const entrant = await link.signedInPost(ctx, request, flow, link.postedParams(request));
  if (entrant === undefined || entrant.session.userId === found.record.hintedUserId) return entrant;
  flow.renderSignIn(entrant.browserId, undefined, otherAccount);
  return undefined;
}

/**
 * POST /bc-approve/mfa?token=... (a TOTP or recovery code) and /bc-approve/passkey?token=... (one of the
 * account's passkeys): the second factor steps the session up (link-sign-in.ts), then back to the page.
 */
export function backchannelApprovalSecondFactor(ctx: ServerContext, kind: 'code' | 'passkey' = 'code') {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const query = toParams((request.query as RawParams | undefined) ?? {});
    const found = await pending(ctx, query.get('token'));
    const entrant = await hintedUserPost(ctx, request, reply, found);
    if (entrant === undefined) return;
    const step = {
      flow: cibaSignIn(ctx, request, reply, found),
      entrant,
      form: factorForm(ctx, entrant.browserId, entrant.session, found),
      clientId: found.record.clientId,
    };
    if ((await link.secondFactorSubmit(ctx, request, reply, step, kind)) === undefined) return;
    reply.code(303).headers(noStoreHeaders).header('location', approvalUrl(ctx, found.token)).send();
  };
}

/** POST /bc-approve/decision: approves or denies the request for the signed-in user it names. */
export function backchannelApprovalDecision(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = link.postedParams(request);
    const found = await pending(ctx, params.get('token'));
    const entrant = await hintedUserPost(ctx, request, reply, found);
    if (entrant === undefined) return;
    const decision = link.chosenDecision(params);
    // Approval needs the level of the MFA policy and of the request's acr_values: else the factor first.
    if (decision === 'approve' && !(await meetsLevel(ctx, found.record, entrant.session))) {
      await renderSecondFactor(ctx, request, reply, entrant, found, link.factorMissing);
      return;
    }
    if (!(await decideBackchannelRequest(ctx, found.record, entrant.session, decision))) throw linkExpired();
    link.sendOutcome(
      ctx,
      request,
      reply,
      (view, ui) => ctx.ui.pages.cibaDone(view, ui),
      decision,
      found.clientName,
    );
  };
}
