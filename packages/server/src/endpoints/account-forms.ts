/**
 * The forms of the account page (endpoints/account.ts), each a POST under /account carrying the page's
 * CSRF token: revoke a connected application, end a session or all others, change the password, and the
 * second factors (a TOTP authenticator, RFC 6238: set up, replace, remove; new recovery codes). The rules
 * are in sessions/account.ts and sessions/mfa.ts. Ending sessions, the password and the factors need a
 * recent sign-in (`account.reauthMaxAge`); revoking an application never does, since it only takes away.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { Params } from '../protocol/params.ts';
import {
  changePassword,
  endOtherSessions,
  endUserSession,
  passwordChangeSupported,
  revokeApplication,
} from '../sessions/account.ts';
import { confirmTotpEnrolment, regenerateRecoveryCodes } from '../sessions/mfa.ts';
import { webauthnEnabled } from '../sessions/webauthn.ts';
import {
  type AccountSection,
  type AccountUser,
  accountUrl,
  accountUser,
  backToAccount,
  checkAccountCsrf,
  factorGate,
  factorRequired,
  recentSignIn,
  renderAccount,
  renderEnrolment,
  renderSignIn,
} from './account.ts';
import { postedParams } from './link-sign-in.ts';
import { sendNewFactorCodes, sendRecoveryCodes } from './mfa.ts';
import { factorPageError } from './page-response.ts';

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

interface FormRule {
  /** The section the page comes back to. */
  section: AccountSection;
  /** True when the change needs a sign-in within `account.reauthMaxAge`. */
  sensitive: boolean;
  /** True for the enrolment a required second factor starts with (allowed before the session has one). */
  enrolment?: boolean;
}

/**
 * A form of the signed-in user, after the CSRF check. Without a session, or while the session still owes a
 * second factor, the browser goes back to the page (which asks for it); a sensitive change after a stale
 * sign-in gets the sign-in form instead. Undefined when the answer was sent here.
 */
async function accountForm(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  rule: FormRule,
): Promise<{ user: AccountUser; params: Params } | undefined> {
  const params = postedParams(request);
  const user = await accountUser(ctx, request);
  if (user === undefined) {
    backToAccount(ctx, reply);
    return undefined;
  }
  checkAccountCsrf(user.browserId, user.session.sid, params.get('csrf'));
  const gate = await factorGate(ctx, user);
  if (gate !== undefined && !(gate === 'enrol' && rule.enrolment === true)) {
    backToAccount(ctx, reply);
    return undefined;
  }
  if (rule.sensitive && !recentSignIn(ctx, user.session)) {
    ctx.audit('account_reauthentication_required', { user_id: user.account.subject, section: rule.section });
    renderSignIn(ctx, request, reply, user.browserId, {
      username: user.account.username,
      reauth: true,
      section: rule.section,
    });
    return undefined;
  }
  return { user, params };
}

/** A 404 for an id that names nothing of this user's (another user's id included). */
function notOnAccount(): OAuthError {
  return new OAuthError('not_found', 'nothing of that kind on this account', {
    pageMessage: 'error.accountItemGone',
  });
}

function form(
  rule: FormRule,
  run: (
    ctx: ServerContext,
    request: FastifyRequest,
    reply: FastifyReply,
    posted: { user: AccountUser; params: Params },
  ) => Promise<void>,
) {
  return (ctx: ServerContext): Handler =>
    async (request, reply) => {
      const posted = await accountForm(ctx, request, reply, rule);
      if (posted !== undefined) await run(ctx, request, reply, posted);
    };
}

const revokeApplicationForm = form(
  { section: 'applications', sensitive: false },
  async (ctx, _request, reply, { user, params }) => {
    const clientId = params.get('client_id');
    if (clientId === undefined || !(await revokeApplication(ctx, user.account.subject, clientId)))
      throw notOnAccount();
    backToAccount(ctx, reply, 'applications', 'application');
  },
);

const endSessionForm = form(
  { section: 'sessions', sensitive: true },
  async (ctx, _request, reply, { user, params }) => {
    const sid = params.get('sid');
    if (sid === undefined || !(await endUserSession(ctx, user.account.subject, sid))) throw notOnAccount();
    backToAccount(ctx, reply, 'sessions', 'session');
  },
);

const endOtherSessionsForm = form(
  { section: 'sessions', sensitive: true },
  async (ctx, _request, reply, { user }) => {
    await endOtherSessions(ctx, user.account.subject, user.session.sid);
    backToAccount(ctx, reply, 'sessions', 'sessions');
  },
);

const passwordForm = form(
  { section: 'password', sensitive: true },
  async (ctx, request, reply, { user, params }) => {
    if (!passwordChangeSupported(ctx)) throw notOnAccount();
    const result = await changePassword(
      ctx,
      user.account,
      {
        current: params.get('current_password'),
        next: params.get('new_password'),
        confirmation: params.get('confirm_password'),
      },
      { address: request.ip, browserValue: user.browserId },
    );
    if (!result.ok) {
      const { field, ...message } = result.error;
      await renderAccount(ctx, request, reply, user, {
        password: { form: { message, field }, status: result.status, retryAfter: result.retryAfter },
      });
      return;
    }
    // A password that leaked may have signed others in: their sessions end with the change when asked.
    if (params.get('end_other_sessions') === 'yes')
      await endOtherSessions(ctx, user.account.subject, user.session.sid);
    backToAccount(ctx, reply, 'password', 'password');
  },
);

const totpStartForm = form({ section: 'factors', sensitive: true }, async (ctx, request, reply, { user }) => {
  await renderEnrolment(ctx, request, reply, user, { restart: true });
});

const totpConfirmForm = form(
  { section: 'factors', sensitive: true, enrolment: true },
  async (ctx, request, reply, { user, params }) => {
    const result = await confirmTotpEnrolment(ctx, user.account, params.get('code'), undefined);
    if (!result.ok) {
      await renderEnrolment(ctx, request, reply, user, { restart: false, error: factorPageError(result) });
      return;
    }
    await sendNewFactorCodes(ctx, request, reply, user, result.recoveryCodes, accountUrl(ctx, '#factors'));
  },
);

/**
 * Refuses (409, on the page) removing the account's last factor while the MFA policy requires one;
 * true when the answer was sent.
 */
async function refuseLastFactor(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  user: AccountUser,
  remaining: number,
): Promise<boolean> {
  if (remaining > 0 || !(await factorRequired(ctx, user.account)).policy) return false;
  await renderAccount(ctx, request, reply, user, {
    factors: { form: { message: { key: 'account.factors.required' } }, status: 409 },
  });
  return true;
}

const totpRemoveForm = form(
  { section: 'factors', sensitive: true },
  async (ctx, request, reply, { user }) => {
    const { totp, passkeys } = await factorRequired(ctx, user.account);
    if (!totp) throw notOnAccount();
    if (await refuseLastFactor(ctx, request, reply, user, passkeys)) return;
    await ctx.storage.mfa.removeTotp(user.account.subject);
    await ctx.storage.mfa.replaceRecoveryCodes(user.account.subject, [], ctx.now());
    ctx.audit('account_totp_removed', { user_id: user.account.subject });
    backToAccount(ctx, reply, 'factors', 'authenticator');
  },
);

const passkeyRemoveForm = form(
  { section: 'factors', sensitive: true },
  async (ctx, request, reply, { user, params }) => {
    const credentialId = params.get('credential_id');
    const { totp, passkeys } = await factorRequired(ctx, user.account);
    const owned = (await ctx.storage.webauthn.listCredentials(user.account.subject)).some(
      (credential) => credential.credentialId === credentialId,
    );
    if (!webauthnEnabled(ctx) || credentialId === undefined || !owned) throw notOnAccount();
    if (await refuseLastFactor(ctx, request, reply, user, (totp ? 1 : 0) + passkeys - 1)) return;
    if (!(await ctx.storage.webauthn.removeCredential(user.account.subject, credentialId)))
      throw notOnAccount();
    ctx.audit('account_passkey_removed', { user_id: user.account.subject });
    backToAccount(ctx, reply, 'factors', 'passkey');
  },
);

const recoveryCodesForm = form(
  { section: 'factors', sensitive: true },
  async (ctx, request, reply, { user }) => {
    if (!(await factorRequired(ctx, user.account)).totp) throw notOnAccount();
    const codes = await regenerateRecoveryCodes(ctx, user.account.subject);
    sendRecoveryCodes(ctx, request, reply, codes, accountUrl(ctx, '#factors'));
  },
);

/** The forms by path under /account (registered by http/routes.ts). */
export const accountForms: Record<string, (ctx: ServerContext) => Handler> = {
  '/applications/revoke': revokeApplicationForm,
  '/sessions/end': endSessionForm,
  '/sessions/end-others': endOtherSessionsForm,
  '/password': passwordForm,
  '/totp': totpStartForm,
  '/totp/confirm': totpConfirmForm,
  '/totp/remove': totpRemoveForm,
  '/recovery-codes': recoveryCodesForm,
  '/passkeys/remove': passkeyRemoveForm,
};
