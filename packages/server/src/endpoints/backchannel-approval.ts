/**
 * The CIBA approval pages at /bc-approve (CIBA Core §7.1, §15), HTML only; the rules are in
 * protocol/backchannel-authentication.ts. The notifier's link (`?token=`) opens them: the user signs in as
 * the account the request names (another account is refused), sees the client, the binding message and
 * the scopes, and approves or denies with a CSRF-protected POST. The link works until a decision is made
 * or the request expires, whichever comes first; every page then answers that it has expired.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { BackchannelAuthenticationRequest, LoginSession } from '../model.ts';
import { requiredAcrLevel, sessionMeetsLevel } from '../protocol/acr.ts';
import {
  approvalCsrfLabel,
  approvalCsrfToken,
  decideBackchannelRequest,
  pendingApproval,
} from '../protocol/backchannel-authentication.ts';
import { browserCsrfMatches } from '../protocol/browser-csrf.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type Params, type RawParams, toParams } from '../protocol/params.ts';
import { randomHandle } from '../protocol/secrets.ts';
import { checkPassword, findSession, startSession } from '../sessions/login.ts';
import type { FormError } from '../views/pages.ts';
import { browserCookie, browserIdFor, readCookie, sessionCookie, setSessionCookie } from './cookies.ts';
import { pageUiFor, scopeGroups, sendPage, signInError } from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

function bodyParams(request: FastifyRequest): Params {
  return toParams((request.body as RawParams | undefined) ?? {});
}

function linkExpired(): OAuthError {
  return new OAuthError('invalid_request', 'This approval link has expired or was already used.', {
    pageMessage: 'error.cibaLinkExpired',
  });
}

function formExpired(): OAuthError {
  return new OAuthError(
    'invalid_request',
    'The form has expired or was not sent from this browser. Open the link again and retry.',
    { pageMessage: 'error.cibaFormExpired' },
  );
}

function checkCsrf(
  browserId: string | undefined,
  sid: string | undefined,
  submitted: string | undefined,
): asserts browserId is string {
  if (!browserCsrfMatches(approvalCsrfLabel, browserId, sid, submitted)) throw formExpired();
}

/** The pending request behind a link's token, or the "expired or used" page. */
async function pending(ctx: ServerContext, token: string | undefined) {
  const found = await pendingApproval(ctx, token);
  if (found === undefined) throw linkExpired();
  return { ...found, token: token! };
}

type Pending = Awaited<ReturnType<typeof pending>>;

function approvalUrl(ctx: ServerContext, token: string): string {
  const url = new URL(ctx.endpoints.backchannelApproval);
  url.searchParams.set('token', token);
  return url.toString();
}

function renderSignIn(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  browserId: string,
  found: Pending,
  username: string | undefined,
  error?: { form: FormError; status: number; retryAfter?: number | undefined },
): void {
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.cibaSignIn(
      {
        action: `${ctx.endpoints.backchannelApproval}/login`,
        csrfToken: approvalCsrfToken(browserId, undefined),
        token: found.token,
        clientName: found.clientName,
        username,
        error: error?.form,
      },
      pageUiFor(ctx, request),
    ),
    error?.retryAfter,
  );
}

const otherAccount = { form: { message: { key: 'ciba.otherAccount' } }, status: 403 } as const;

async function renderConfirm(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  browserId: string,
  session: LoginSession,
  found: Pending,
): Promise<void> {
  const account = await ctx.accounts.findBySubject(session.userId);
  const record: BackchannelAuthenticationRequest = found.record;
  sendPage(
    ctx,
    reply,
    200,
    ctx.ui.pages.cibaConfirm(
      {
        action: `${ctx.endpoints.backchannelApproval}/decision`,
        csrfToken: approvalCsrfToken(browserId, session.sid),
        token: found.token,
        username: account?.username ?? '',
        clientName: found.clientName,
        bindingMessage: record.bindingMessage ?? undefined,
        groups: scopeGroups(ctx, record.scope),
      },
      pageUiFor(ctx, request),
    ),
  );
}

/**
 * GET /bc-approve?token=...: the confirmation for the signed-in user the request names, else the sign-in
 * form (a session of another account is not used, and says so).
 */
export function backchannelApprovalPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const query = toParams((request.query as RawParams | undefined) ?? {});
    const found = await pending(ctx, query.get('token'));
    const browserId = browserIdFor(request.headers.cookie, reply, randomHandle);
    const session = await findSession(ctx, readCookie(request.headers.cookie, sessionCookie));
    if (session === undefined) {
      renderSignIn(ctx, request, reply, browserId, found, undefined);
      return;
    }
    if (session.userId !== found.record.hintedUserId) {
      renderSignIn(ctx, request, reply, browserId, found, undefined, otherAccount);
      return;
    }
    await renderConfirm(ctx, request, reply, browserId, session, found);
  };
}

/** POST /bc-approve/login: signs the named user in, then back to the confirmation. */
export function backchannelApprovalLogin(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = bodyParams(request);
    const browserId = readCookie(request.headers.cookie, browserCookie);
    checkCsrf(browserId, undefined, params.get('csrf'));
    const found = await pending(ctx, params.get('token'));
    const username = params.get('username');
    const check = await checkPassword(ctx, {
      username,
      password: params.get('password'),
      clientId: found.record.clientId,
      browserValue: browserId,
      address: request.ip,
    });
    if ('error' in check) {
      renderSignIn(ctx, request, reply, browserId, found, username?.slice(0, 256), {
        form: signInError(check.error, username),
        status: check.status,
        ...('retryAfter' in check ? { retryAfter: check.retryAfter } : {}),
      });
      return;
    }
    if (check.user.subject !== found.record.hintedUserId) {
      ctx.audit('ciba_other_account', { client_id: found.record.clientId, user_id: check.user.subject });
      renderSignIn(ctx, request, reply, browserId, found, username?.slice(0, 256), otherAccount);
      return;
    }
    const { sessionValue } = await startSession(
      ctx,
      readCookie(request.headers.cookie, sessionCookie),
      check.user,
    );
    setSessionCookie(reply, sessionValue, ctx.config.login.sessionTtl);
    reply.code(303).headers(noStoreHeaders).header('location', approvalUrl(ctx, found.token)).send();
  };
}

/** POST /bc-approve/decision: approves or denies the request for the signed-in user it names. */
export function backchannelApprovalDecision(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const params = bodyParams(request);
    const browserId = readCookie(request.headers.cookie, browserCookie);
    if (browserId === undefined) throw formExpired();
    const found = await pending(ctx, params.get('token'));
    const session = await findSession(ctx, readCookie(request.headers.cookie, sessionCookie));
    if (session === undefined) {
      renderSignIn(ctx, request, reply, browserId, found, undefined, {
        form: { message: { key: 'device.sessionEnded' } },
        status: 401,
      });
      return;
    }
    checkCsrf(browserId, session.sid, params.get('csrf'));
    if (session.userId !== found.record.hintedUserId) {
      renderSignIn(ctx, request, reply, browserId, found, undefined, otherAccount);
      return;
    }
    const decision = params.get('decision');
    if (decision !== 'approve' && decision !== 'deny') {
      throw new OAuthError('invalid_request', 'Choose Approve or Deny.', {
        pageMessage: 'error.chooseApproveDeny',
      });
    }
    // The MFA policy of the client and the account's roles applies as at /authorize (protocol/acr.ts).
    const client = await ctx.findClient(found.record.clientId);
    const account = await ctx.accounts.findBySubject(session.userId);
    if (
      decision === 'approve' &&
      (client === undefined ||
        !sessionMeetsLevel(session, requiredAcrLevel(ctx.config, client, undefined, account?.roles)))
    ) {
      throw new OAuthError(
        'access_denied',
        'This sign-in needs a second factor. Verify it on the two-step verification page, then open the link again.',
        { status: 403, pageMessage: 'error.cibaNeedsMfa' },
      );
    }
    if (!(await decideBackchannelRequest(ctx, found.record, session, decision))) throw linkExpired();
    sendPage(
      ctx,
      reply,
      200,
      ctx.ui.pages.cibaDone(
        { outcome: decision === 'approve' ? 'approved' : 'denied', clientName: found.clientName },
        pageUiFor(ctx, request),
      ),
    );
  };
}
