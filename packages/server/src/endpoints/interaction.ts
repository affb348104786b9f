/**
 * The login and consent pages of a pending authorization (OpenID Connect Core §3.1.2.3, §3.1.2.4). The
 * interaction state and its browser and CSRF checks are in sessions/interaction.ts; consent rules in
 * protocol/authorization-request.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { LoginSession } from '../model.ts';
import { isHintedUser, needsConsent, rememberConsent } from '../protocol/authorization-request.ts';
import { AuthorizationRedirectError, OAuthError } from '../protocol/errors.ts';
import { type RawParams, toParams } from '../protocol/params.ts';
import {
  checkInteractionCsrf,
  completeInteraction,
  interactionSession,
  type LoadedInteraction,
  loadInteraction,
} from '../sessions/interaction.ts';
import { checkPassword, startSession } from '../sessions/login.ts';
import { hintedUpstream, startUpstreamLogin } from '../sessions/upstream.ts';
import { issueAuthorizationCode } from '../tokens/authorization-code.ts';
import type { FormError } from '../views/pages.ts';
import { trustClientSite } from './client-site.ts';
import { browserCookie, readCookie, serializeCookie, sessionCookie } from './cookies.ts';
import { pageUiFor, scopeGroups, sendPage, signInError } from './page-response.ts';
import { noStoreHeaders } from './responses.ts';

async function loadFor(ctx: ServerContext, request: FastifyRequest): Promise<LoadedInteraction> {
  const { id } = request.params as { id: string };
  const loaded = await loadInteraction(ctx, id, readCookie(request.headers.cookie, browserCookie));
  // From here on an error page may link back to the client: its redirect URI was verified at /authorize;
  // and it speaks the language the request asked for.
  trustClientSite(request, loaded.client, loaded.interaction.request.redirectUri);
  request.uiLocales = loaded.interaction.request.uiLocales;
  return loaded;
}

/** The interaction a form was posted to and the form's fields, once its CSRF token has been checked. */
async function loadSubmission(ctx: ServerContext, request: FastifyRequest) {
  const loaded = await loadFor(ctx, request);
  const params = formParams(request);
  checkInteractionCsrf(loaded.interaction, params.get('csrf'));
  return { loaded, params };
}

function sessionOf(ctx: ServerContext, request: FastifyRequest, loaded: LoadedInteraction) {
  return interactionSession(ctx, loaded.interaction, readCookie(request.headers.cookie, sessionCookie));
}

function formParams(request: FastifyRequest) {
  return toParams((request.body as RawParams | undefined) ?? {});
}

function renderLogin(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  username: string | undefined,
  error?: { form: FormError; status: number; retryAfter?: number },
): void {
  const ui = pageUiFor(ctx, request, loaded.interaction.request.uiLocales);
  sendPage(
    ctx,
    reply,
    error?.status ?? 200,
    ctx.ui.pages.login(
      {
        action: `${ctx.issuer}/interaction/${loaded.interaction.id}/login`,
        csrfToken: loaded.interaction.csrfToken,
        clientName: loaded.client.name,
        username,
        error: error?.form,
        upstreams: ctx.upstreams.forClient(loaded.client.clientId).map(({ config }) => ({
          name: config.name,
          action: `${ctx.issuer}/interaction/${loaded.interaction.id}/upstream/${config.id}`,
        })),
      },
      ui,
    ),
    error?.retryAfter,
  );
}

async function renderConsent(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  session: LoginSession,
): Promise<void> {
  const user = await ctx.accounts.findBySubject(session.userId);
  sendPage(
    ctx,
    reply,
    200,
    ctx.ui.pages.consent(
      {
        action: `${ctx.issuer}/interaction/${loaded.interaction.id}/consent`,
        csrfToken: loaded.interaction.csrfToken,
        clientName: loaded.client.name,
        username: user?.username ?? '',
        groups: scopeGroups(ctx, loaded.interaction.request.scopes),
      },
      pageUiFor(ctx, request, loaded.interaction.request.uiLocales),
    ),
  );
}

/** Issues the code and redirects back to the client. */
async function redirectWithCode(
  ctx: ServerContext,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  session: LoginSession,
): Promise<void> {
  const location = await issueAuthorizationCode(ctx, loaded.interaction.request, session);
  reply.code(303).headers(noStoreHeaders).header('location', location).send();
}

export function interactionPage(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const loaded = await loadFor(ctx, request);
    const session = await sessionOf(ctx, request, loaded);
    if (session === undefined) {
      // An `idp` parameter or a login_hint domain naming one of the client's upstreams skips the chooser.
      const hinted = hintedUpstream(ctx, loaded);
      if (hinted !== undefined) {
        const location = await startUpstreamLogin(ctx, loaded, hinted.config.id);
        reply.code(303).headers(noStoreHeaders).header('location', location).send();
        return;
      }
      renderLogin(ctx, request, reply, loaded, loaded.interaction.request.loginHint);
      return;
    }
    await renderConsent(ctx, request, reply, loaded, session);
  };
}

export function loginSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { loaded, params } = await loadSubmission(ctx, request);
    const username = params.get('username');
    const check = await checkPassword(ctx, {
      username,
      password: params.get('password'),
      clientId: loaded.client.clientId,
      browserValue: readCookie(request.headers.cookie, browserCookie),
      address: request.ip,
    });
    if ('error' in check) {
      renderLogin(ctx, request, reply, loaded, username?.slice(0, 256), {
        form: signInError(check.error, username),
        status: check.status,
        ...('retryAfter' in check ? { retryAfter: check.retryAfter } : {}),
      });
      return;
    }
    const { user } = check;
    // OpenID Connect Core §3.1.2.1: with an id_token_hint, only the hinted user may finish this sign-in.
    if (!isHintedUser(loaded.interaction.request, user.subject)) {
      renderLogin(ctx, request, reply, loaded, undefined, {
        form: { message: { key: 'login.otherAccount' }, field: 'username' },
        status: 400,
      });
      return;
    }
    // Without a consent step this login finishes the interaction: claim it before starting a session, so a
    // concurrent second submission of the form starts no session and sets no cookie.
    const consentNeeded = await needsConsent(ctx, loaded.client, loaded.interaction.request, user.subject);
    if (!consentNeeded) await completeInteraction(ctx, loaded.interaction);
    const { session, sessionValue } = await startSession(
      ctx,
      readCookie(request.headers.cookie, sessionCookie),
      user,
      loaded.client.clientId,
    );
    reply.header(
      'set-cookie',
      serializeCookie(sessionCookie, sessionValue, { sameSite: 'Lax', maxAge: ctx.config.login.sessionTtl }),
    );
    await ctx.storage.interactions.attachSession(loaded.interaction.id, session.sid);

    if (consentNeeded) {
      reply
        .code(303)
        .headers(noStoreHeaders)
        .header('location', `${ctx.issuer}/interaction/${loaded.interaction.id}`)
        .send();
      return;
    }
    await redirectWithCode(ctx, reply, loaded, session);
  };
}

export function consentSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { loaded, params } = await loadSubmission(ctx, request);
    const session = await sessionOf(ctx, request, loaded);
    if (session === undefined)
      throw new OAuthError(
        'invalid_request',
        'Your sign-in session has ended. Go back to the application and start again.',
        { pageMessage: 'error.sessionEnded' },
      );
    const { request: authorization } = loaded.interaction;
    const decision = params.get('decision');
    if (decision === 'deny') {
      await completeInteraction(ctx, loaded.interaction);
      ctx.audit('consent_denied', { user_id: session.userId, client_id: loaded.client.clientId });
      throw new AuthorizationRedirectError(
        'access_denied',
        'the user denied the request',
        authorization.redirectUri,
        authorization.state,
      );
    }
    if (decision !== 'allow')
      throw new OAuthError('invalid_request', 'Choose Allow or Deny.', {
        pageMessage: 'error.chooseAllowDeny',
      });
    await rememberConsent(ctx, session.userId, loaded.client.clientId, authorization.scopes, ctx.now());
    ctx.audit('consent_granted', {
      user_id: session.userId,
      client_id: loaded.client.clientId,
      scope: authorization.scopes.join(' '),
    });
    await completeInteraction(ctx, loaded.interaction);
    await redirectWithCode(ctx, reply, loaded, session);
  };
}
