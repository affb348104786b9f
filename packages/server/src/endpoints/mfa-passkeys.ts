/**
 * The signed-in user's passkeys at /mfa (sessions/webauthn.ts): one used to step a gated session up, a
 * new one added (which steps the session up too: it has just been used), one removed. The ceremonies'
 * challenges are bound to the browser's session; the forms carry the /mfa page's CSRF token
 * (endpoints/mfa.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';
import {
  finishAuthentication,
  finishRegistration,
  sessionBinding,
  webauthnEnabled,
} from '../sessions/webauthn.ts';
import {
  gateForm,
  gatePasskey,
  mfaUrl,
  type SignedIn,
  sendCodePrompt,
  stepUpOwnSession,
  submission,
} from './mfa.ts';
import { factorPageError, postedCeremony } from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

async function passkeySubmission(ctx: ServerContext, request: FastifyRequest, open = false) {
  if (!webauthnEnabled(ctx))
    throw new OAuthError('invalid_request', 'passkeys are not enabled on this server');
  return submission(ctx, request, open);
}

/** Steps the session up after a passkey was used, and goes back to /mfa. */
async function steppedUpToMfaPage(ctx: ServerContext, reply: FastifyReply, user: SignedIn): Promise<void> {
  await stepUpOwnSession(ctx, reply, user, 'hwk');
  reply.code(303).headers(noStoreHeaders).header('location', mfaUrl(ctx)).send();
}

/** POST /mfa/passkey/verify: one of the account's passkeys steps a gated session up. */
export function mfaPasskeyVerifySubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { user, params } = await passkeySubmission(ctx, request, true);
    const result = await finishAuthentication(
      ctx,
      sessionBinding(user.session.sid),
      postedCeremony(params),
      user.account.subject,
      undefined,
    );
    if (!result.ok) {
      await sendCodePrompt(
        ctx,
        request,
        reply,
        gateForm(ctx, user),
        factorPageError(result),
        gatePasskey(ctx, user),
      );
      return;
    }
    await steppedUpToMfaPage(ctx, reply, user);
  };
}

/** POST /mfa/passkeys: a new passkey (with an optional nickname) for the account. */
export function mfaPasskeyAddSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { user, params } = await passkeySubmission(ctx, request);
    const result = await finishRegistration(
      ctx,
      user.account,
      sessionBinding(user.session.sid),
      postedCeremony(params),
      params.get('nickname'),
    );
    if (!result.ok)
      throw new OAuthError('invalid_request', 'the passkey could not be registered', {
        status: result.status,
        pageMessage: result.error.key === 'webauthn.cancelled' ? 'webauthn.cancelled' : 'webauthn.failed',
      });
    await steppedUpToMfaPage(ctx, reply, user);
  };
}

/** POST /mfa/passkeys/remove: removes one of the account's passkeys. */
export function mfaPasskeyRemoveSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { user, params } = await passkeySubmission(ctx, request);
    const credentialId = params.get('credential_id') ?? '';
    if (!(await ctx.storage.webauthn.removeCredential(user.account.subject, credentialId)))
      throw new OAuthError('invalid_request', 'no such passkey for this account');
    ctx.audit('webauthn_removed', { user_id: user.account.subject });
    reply.code(303).headers(noStoreHeaders).header('location', mfaUrl(ctx)).send();
  };
}
