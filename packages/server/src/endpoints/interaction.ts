/**
 * The login and consent pages of a pending authorization (OpenID Connect Core §3.1.2.3, §3.1.2.4).
 *
 * The pending request lives server-side under a random id. Each page and form post checks that the
 * browser presenting the id is the one that started it (browser cookie) and each form carries the
 * interaction's CSRF token. A finished interaction is marked complete atomically, so a double submit
 * cannot issue two codes.
 */
import { constantTimeEqual } from '@gatehouse/jose-rules';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { browserCookie, readCookie } from '../http/cookies.ts';
import { noStoreHeaders } from '../http/error-handler.ts';
import { checkPassword, currentSession, startSession } from '../http/login-session.ts';
import type { Client, Interaction, LoginSession } from '../model.ts';
import { AuthorizationRedirectError, OAuthError } from '../protocol/errors.ts';
import { type RawParams, toParams } from '../protocol/params.ts';
import { isHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { issueAuthorizationCode } from '../tokens/authorization-code.ts';
import { pageSecurityHeaders } from '../views/html.ts';
import { consentPage, loginPage } from '../views/pages.ts';
import { needsConsent } from './authorize.ts';

const expired =
  'This sign-in request has expired or was already used. Go back to the application and start again.';

interface Loaded {
  interaction: Interaction;
  client: Client;
}

async function loadInteraction(ctx: ServerContext, request: FastifyRequest): Promise<Loaded> {
  const { id } = request.params as { id: string };
  const interaction = isHandle(id) ? await ctx.storage.interactions.findPending(id, ctx.now()) : undefined;
  if (interaction === undefined) throw new OAuthError('invalid_request', expired);
  const browser = readCookie(request.headers.cookie, browserCookie);
  if (browser === undefined || !constantTimeEqual(sha256Base64Url(browser), interaction.browserHash)) {
    throw new OAuthError(
      'invalid_request',
      'This sign-in request was started in another browser. Go back to the application and start again.',
    );
  }
  const client = await ctx.findClient(interaction.clientId);
  if (client === undefined) throw new OAuthError('invalid_request', expired);
  return { interaction, client };
}

function formParams(request: FastifyRequest) {
  return toParams((request.body as RawParams | undefined) ?? {});
}

function checkCsrf(interaction: Interaction, submitted: string | undefined): void {
  if (submitted === undefined || !constantTimeEqual(submitted, interaction.csrfToken)) {
    throw new OAuthError(
      'invalid_request',
      'The form has expired. Go back to the application and start again.',
    );
  }
}

/** The session that an interaction is waiting on, when it is still this browser's live session. */
async function interactionSession(
  ctx: ServerContext,
  request: FastifyRequest,
  interaction: Interaction,
): Promise<LoginSession | undefined> {
  if (interaction.sessionSid === null) return undefined;
  const session = await currentSession(ctx, request);
  return session?.sid === interaction.sessionSid ? session : undefined;
}

function renderLogin(
  ctx: ServerContext,
  reply: FastifyReply,
  loaded: Loaded,
  username: string | undefined,
  error?: { message: string; status: number },
): void {
  reply
    .code(error?.status ?? 200)
    .headers(pageSecurityHeaders)
    .send(
      loginPage({
        action: `${ctx.issuer}/interaction/${loaded.interaction.id}/login`,
        csrfToken: loaded.interaction.csrfToken,
        clientName: loaded.client.name,
        username,
        error: error?.message,
      }),
    );
}

async function renderConsent(
  ctx: ServerContext,
  reply: FastifyReply,
  loaded: Loaded,
  session: LoginSession,
): Promise<void> {
  const user = await ctx.storage.users.findById(session.userId);
  reply.headers(pageSecurityHeaders).send(
    consentPage({
      action: `${ctx.issuer}/interaction/${loaded.interaction.id}/consent`,
      csrfToken: loaded.interaction.csrfToken,
      clientName: loaded.client.name,
      username: user?.username ?? '',
      scopes: loaded.interaction.request.scopes.map((name) => ({
        name,
        description: ctx.catalog.describe(name),
      })),
    }),
  );
}

/** Finishes the interaction once: issues the code and redirects back to the client. */
async function complete(
  ctx: ServerContext,
  reply: FastifyReply,
  interaction: Interaction,
  session: LoginSession,
): Promise<void> {
  if (!(await ctx.storage.interactions.complete(interaction.id, ctx.now())))
    throw new OAuthError('invalid_request', expired);
  const location = await issueAuthorizationCode(ctx, interaction.request, session);
  reply.code(303).headers(noStoreHeaders).header('location', location).send();
}

export function interactionPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const loaded = await loadInteraction(ctx, request);
    const session = await interactionSession(ctx, request, loaded.interaction);
    if (session === undefined) {
      renderLogin(ctx, reply, loaded, loaded.interaction.request.loginHint);
      return;
    }
    await renderConsent(ctx, reply, loaded, session);
  };
}

export function loginSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const loaded = await loadInteraction(ctx, request);
    const params = formParams(request);
    checkCsrf(loaded.interaction, params.get('csrf'));
    const username = params.get('username');
    const check = await checkPassword(ctx, username, params.get('password'), loaded.client.clientId);
    if ('error' in check) {
      renderLogin(ctx, reply, loaded, username?.slice(0, 256), {
        message: check.error,
        status: check.status,
      });
      return;
    }
    const { user } = check;
    // Without a consent step this login finishes the interaction: claim it before starting a session, so a
    // concurrent second submission of the form starts no session and sets no cookie.
    const consentNeeded = await needsConsent(ctx, loaded.client, loaded.interaction.request, user.id);
    if (!consentNeeded && !(await ctx.storage.interactions.complete(loaded.interaction.id, ctx.now())))
      throw new OAuthError('invalid_request', expired);
    const session = await startSession(ctx, request, reply, user, loaded.client.clientId);
    await ctx.storage.interactions.attachSession(loaded.interaction.id, session.sid);

    if (consentNeeded) {
      reply
        .code(303)
        .headers(noStoreHeaders)
        .header('location', `${ctx.issuer}/interaction/${loaded.interaction.id}`)
        .send();
      return;
    }
    const location = await issueAuthorizationCode(ctx, loaded.interaction.request, session);
    reply.code(303).headers(noStoreHeaders).header('location', location).send();
  };
}

export function consentSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const loaded = await loadInteraction(ctx, request);
    const params = formParams(request);
    checkCsrf(loaded.interaction, params.get('csrf'));
    const session = await interactionSession(ctx, request, loaded.interaction);
    if (session === undefined)
      throw new OAuthError(
        'invalid_request',
        'Your sign-in session has ended. Go back to the application and start again.',
      );
    const { request: authorization } = loaded.interaction;
    const decision = params.get('decision');
    if (decision === 'deny') {
      if (!(await ctx.storage.interactions.complete(loaded.interaction.id, ctx.now())))
        throw new OAuthError('invalid_request', expired);
      ctx.audit('consent_denied', { user_id: session.userId, client_id: loaded.client.clientId });
      throw new AuthorizationRedirectError(
        'access_denied',
        'the user denied the request',
        authorization.redirectUri,
        authorization.state,
      );
    }
    if (decision !== 'allow') throw new OAuthError('invalid_request', 'Choose Allow or Deny.');
    const previous = await ctx.storage.consents.find(session.userId, loaded.client.clientId);
    await ctx.storage.consents.save(
      session.userId,
      loaded.client.clientId,
      [...new Set([...previous, ...authorization.scopes])],
      ctx.now(),
    );
    ctx.audit('consent_granted', {
      user_id: session.userId,
      client_id: loaded.client.clientId,
      scope: authorization.scopes.join(' '),
    });
    await complete(ctx, reply, loaded.interaction, session);
  };
}
