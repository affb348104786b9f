/**
 * The passkey forms of a pending authorization's pages (sessions/webauthn.ts): passkey-first sign-in from
 * the login page (a discoverable credential with user verification, no username typed), a passkey as the
 * second factor after the password, and a passkey enrolled during sign-in when the account has no factor.
 * Each ceremony's challenge is bound to the interaction; the forms carry its CSRF token.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { passkeyAmr } from '../protocol/acr.ts';
import { OAuthError } from '../protocol/errors.ts';
import { regenerateRecoveryCodes } from '../sessions/mfa.ts';
import {
  finishAuthentication,
  finishRegistration,
  interactionBinding,
  webauthnEnabled,
} from '../sessions/webauthn.ts';
import { enrolmentPost, finishSignIn, loadSubmission, renderLogin, secondFactorPost } from './interaction.ts';
import { factorPageError, postedCeremony } from './page-response.ts';

function requireWebauthn(ctx: ServerContext, passkeyFirst = false): void {
  if (!webauthnEnabled(ctx, passkeyFirst))
    throw new OAuthError('invalid_request', 'passkeys are not enabled on this server');
}

/** `post`, refused on a server without passkeys. */
function withPasskeys(
  ctx: ServerContext,
  post: (request: FastifyRequest, reply: FastifyReply) => Promise<void>,
) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    requireWebauthn(ctx);
    await post(request, reply);
  };
}

/** POST /interaction/:id/passkey-login: passkey-first sign-in; the passkey alone is `mfa` (protocol/acr.ts). */
export function passkeyLoginSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    requireWebauthn(ctx, true);
    const { loaded, params } = await loadSubmission(ctx, request);
    const result = await finishAuthentication(
      ctx,
      interactionBinding(loaded.interaction.id),
      postedCeremony(params),
      null,
      loaded.client.clientId,
    );
    if (!result.ok) {
      await renderLogin(ctx, request, reply, loaded, undefined, factorPageError(result));
      return;
    }
    const account = await ctx.accounts.findBySubject(result.userId);
    if (account === undefined || !account.enabled) {
      ctx.audit('login_refused_disabled', { client_id: loaded.client.clientId, user_id: result.userId });
      await renderLogin(ctx, request, reply, loaded, undefined, {
        form: { message: { key: account === undefined ? 'webauthn.unknown' : 'login.disabled' } },
        status: 403,
      });
      return;
    }
    ctx.audit('login_succeeded', {
      client_id: loaded.client.clientId,
      user_id: account.subject,
      passkey: true,
    });
    await finishSignIn(ctx, request, reply, loaded, account, passkeyAmr);
  };
}

/** POST /interaction/:id/passkey: one of the account's passkeys as the second factor. */
export function passkeySecondFactorSubmit(ctx: ServerContext) {
  const post = secondFactorPost(ctx, 'hwk', ({ loaded, params, account }) =>
    finishAuthentication(
      ctx,
      interactionBinding(loaded.interaction.id),
      postedCeremony(params),
      account.subject,
      loaded.client.clientId,
    ),
  );
  return withPasskeys(ctx, post);
}

/**
 * POST /interaction/:id/passkey/enrol: a passkey registered during sign-in by an account without a factor
 * steps the session up (it has just been used); new recovery codes are shown once, as after TOTP enrolment
 * (`enrolmentPost`).
 */
export function passkeyEnrolmentSubmit(ctx: ServerContext) {
  const post = enrolmentPost(
    ctx,
    'hwk',
    'a second factor is already set up for this account',
    async ({ loaded, params, account }) => {
      const result = await finishRegistration(
        ctx,
        account,
        interactionBinding(loaded.interaction.id),
        postedCeremony(params),
        params.get('nickname'),
      );
      if (!result.ok) return result;
      return { ok: true, recoveryCodes: await regenerateRecoveryCodes(ctx, account.subject) };
    },
  );
  return withPasskeys(ctx, post);
}
