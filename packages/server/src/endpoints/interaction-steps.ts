/**
 * The steps that end a pending authorization's sign-in (OpenID Connect Core §3.1.2.5): a session stepped up
 * by a second factor (sessions/mfa.ts; a code or a passkey) or by one just enrolled, then consent or the
 * code back to the client. Shared by the password, TOTP and passkey forms (interaction.ts,
 * interaction-passkeys.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { LoginSession } from '../model.ts';
import { needsConsent } from '../protocol/authorization-request.ts';
import { OAuthError } from '../protocol/errors.ts';
import { randomHandle } from '../protocol/secrets.ts';
import { completeInteraction, type LoadedInteraction } from '../sessions/interaction.ts';
import { stepUpSession } from '../sessions/mfa.ts';
import { issueAuthorizationCode } from '../tokens/authorization-code.ts';
import { setSessionCookie } from './cookies.ts';
import { pageUiFor, sendPage } from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

/** Issues the code and redirects back to the client. */
export async function redirectWithCode(
  ctx: ServerContext,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  session: LoginSession,
): Promise<void> {
  const location = await issueAuthorizationCode(ctx, loaded.interaction.request, session);
  reply.code(303).headers(noStoreHeaders).header('location', location).send();
}

export function sessionEnded(): OAuthError {
  return new OAuthError(
    'invalid_request',
    'Your sign-in session has ended. Go back to the application and start again.',
    { pageMessage: 'error.sessionEnded' },
  );
}

/** After the sign-in is complete: the consent page when consent is needed, else the code. */
export async function continueAfterSignIn(
  ctx: ServerContext,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  session: LoginSession,
  consentNeeded: boolean,
): Promise<void> {
  if (consentNeeded) {
    reply
      .code(303)
      .headers(noStoreHeaders)
      .header('location', `${ctx.issuer}/interaction/${loaded.interaction.id}`)
      .send();
    return;
  }
  await redirectWithCode(ctx, reply, loaded, session);
}

/** A second factor was shown: the session steps up with `method` (RFC 8176), then consent or the code. */
export async function finishSecondFactor(
  ctx: ServerContext,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  signedIn: { session: LoginSession; sessionValue: string; account: Account },
  method: 'otp' | 'hwk',
): Promise<void> {
  const consentNeeded = await needsConsent(
    ctx,
    loaded.client,
    loaded.interaction.request,
    signedIn.account.subject,
  );
  if (!consentNeeded) await completeInteraction(ctx, loaded.interaction);
  const stepped = await stepUpInteractionSession(ctx, reply, loaded, signedIn, method);
  await continueAfterSignIn(ctx, reply, loaded, stepped, consentNeeded);
}

/** Steps the sign-in's session up with `method` (sessions/mfa.ts) and sets the new session cookie. */
export async function stepUpInteractionSession(
  ctx: ServerContext,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  signedIn: { session: LoginSession; sessionValue: string },
  method: 'otp' | 'hwk',
): Promise<LoginSession> {
  const { session, sessionValue } = signedIn;
  const stepped = await stepUpSession(
    ctx,
    sessionValue,
    session,
    randomHandle(),
    loaded.client.clientId,
    method,
  );
  if (stepped === undefined) throw sessionEnded();
  setSessionCookie(reply, stepped.sessionValue, ctx.config.login.sessionTtl);
  return stepped.session;
}

/**
 * A factor enrolled during sign-in has just been used: the session steps up with it and the new recovery
 * codes are shown once, with a link back to the sign-in.
 */
export async function finishEnrolment(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  signedIn: { session: LoginSession; sessionValue: string },
  method: 'otp' | 'hwk',
  recoveryCodes: string[],
): Promise<void> {
  await stepUpInteractionSession(ctx, reply, loaded, signedIn, method);
  sendPage(
    ctx,
    reply,
    200,
    ctx.ui.pages.recoveryCodes(
      { codes: recoveryCodes, continueUrl: `${ctx.issuer}/interaction/${loaded.interaction.id}` },
      pageUiFor(ctx, request, loaded.interaction.request.uiLocales),
    ),
  );
}
