/**
 * Sign-in at an upstream OpenID Connect provider (sessions/upstream.ts): the chooser's buttons post to
 * `/interaction/{id}/upstream/{upstream}` (CSRF-checked like the login form) and are redirected to the
 * provider; the provider sends the browser back to `/upstream/{upstream}/callback`, which finishes the
 * interaction as a password sign-in would (the second factor and consent when needed, then the code),
 * with `amr` `fed`; or, with no linked account, sends the browser to the link page (upstream-link.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import type { UpstreamAuthentication } from '../model.ts';
import { acrLevelOf, acrSatisfies, requiredAcrLevel } from '../protocol/acr.ts';
import { isHintedUser, needsConsent } from '../protocol/authorization-request.ts';
import { OAuthError } from '../protocol/errors.ts';
import { type RawParams, toParams } from '../protocol/params.ts';
import {
  checkInteractionCsrf,
  completeInteraction,
  type LoadedInteraction,
  loadInteraction,
} from '../sessions/interaction.ts';
import { startSession } from '../sessions/login.ts';
import { finishUpstreamLogin, startUpstreamLogin } from '../sessions/upstream.ts';
import { recordUpstreamSession, type UpstreamIdentity } from '../sessions/upstream-logout.ts';
import { issueAuthorizationCode } from '../tokens/authorization-code.ts';
import { trustClientSite } from './client-site.ts';
import { browserCookie, readCookie, sessionCookie, setSessionCookie } from './cookies.ts';
import { noStoreHeaders } from './responses.ts';

function redirect(reply: FastifyReply, location: string): void {
  reply.code(303).headers(noStoreHeaders).header('location', location).send();
}

/** POST /interaction/{id}/upstream/{upstream}: the chooser's button, off to the provider. */
export function upstreamStartSubmit(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { id, upstream } = request.params as { id: string; upstream: string };
    const loaded = await loadInteraction(ctx, id, readCookie(request.headers.cookie, browserCookie));
    trustClientSite(request, loaded.client, loaded.interaction.request.redirectUri);
    request.uiLocales = loaded.interaction.request.uiLocales;
    const params = toParams((request.body as RawParams | undefined) ?? {});
    checkInteractionCsrf(loaded.interaction, params.get('csrf'));
    redirect(reply, await startUpstreamLogin(ctx, loaded, upstream));
  };
}

/** GET /upstream/{upstream}/callback: the provider's answer (OAuth 2.1 §4.1.2, RFC 9207 §2). */
export function upstreamCallback(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { upstream } = request.params as { upstream: string };
    const queryAt = request.url.indexOf('?');
    const callbackUrl = new URL(
      `${ctx.issuer}/upstream/${encodeURIComponent(upstream)}/callback${queryAt < 0 ? '' : request.url.slice(queryAt)}`,
    );
    const signIn = await finishUpstreamLogin(
      ctx,
      upstream,
      callbackUrl,
      readCookie(request.headers.cookie, browserCookie),
    );
    const { loaded } = signIn;
    trustClientSite(request, loaded.client, loaded.interaction.request.redirectUri);
    request.uiLocales = loaded.interaction.request.uiLocales;
    // No linked account: linking to an existing one is offered, and no session starts (upstream-link.ts).
    if (signIn.account === undefined) {
      redirect(reply, `${ctx.issuer}/interaction/${loaded.interaction.id}/link`);
      return;
    }
    await startUpstreamSession(ctx, request, reply, loaded, signIn);
  };
}

/**
 * Signs the account of an upstream sign-in (or of a link just made) in and goes on with the interaction as
 * a password sign-in would: the second factor and consent when needed, else the code.
 */
export async function startUpstreamSession(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  loaded: LoadedInteraction,
  signIn: {
    account: Account;
    amr: string[];
    upstream: UpstreamAuthentication;
    upstreamSession: UpstreamIdentity;
  },
): Promise<void> {
  const { account, amr } = signIn;
  // OpenID Connect Core §3.1.2.1: with an id_token_hint, only the hinted user may finish this sign-in.
  if (!isHintedUser(loaded.interaction.request, account.subject))
    throw new OAuthError('access_denied', 'The application asked for another account.', {
      pageMessage: 'login.otherAccount',
    });
  // An upstream sign-in is the `pwd` level unless a provider trusted for MFA said `mfa` (sessions/upstream.ts):
  // when more is required, the interaction page asks for the account's own second factor next.
  const factorNeeded = !acrSatisfies(
    acrLevelOf(amr),
    requiredAcrLevel(ctx.config, loaded.client, loaded.interaction.request, account.roles),
  );
  // As at the password form: without a consent or second-factor step this sign-in finishes the
  // interaction, claimed before the session starts.
  const consentNeeded = await needsConsent(ctx, loaded.client, loaded.interaction.request, account.subject);
  if (!consentNeeded && !factorNeeded) await completeInteraction(ctx, loaded.interaction);
  const { session, sessionValue } = await startSession(
    ctx,
    readCookie(request.headers.cookie, sessionCookie),
    account,
    loaded.client.clientId,
    amr,
    signIn.upstream,
  );
  setSessionCookie(reply, sessionValue, ctx.config.login.sessionTtl);
  await recordUpstreamSession(ctx, session, signIn.upstream.id, signIn.upstreamSession);
  await ctx.storage.interactions.attachSession(loaded.interaction.id, session.sid);
  if (consentNeeded || factorNeeded) {
    redirect(reply, `${ctx.issuer}/interaction/${loaded.interaction.id}`);
    return;
  }
  redirect(reply, await issueAuthorizationCode(ctx, loaded.interaction.request, session));
}
