/**
 * GET and POST /authorize (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2, RFC 9126 §4, RFC 9207). The
 * request's rules are in protocol/authorization-request.ts. Until the client and redirect URI are trusted,
 * errors are shown as an HTML page; after that they go back to the client with `state` and `iss`. A valid
 * request is answered at once (a live session that needs no consent), refused (`prompt=none`), or parked
 * server-side as an interaction while the user signs in (sessions/interaction.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { AuthorizationRequestRecord } from '../model.ts';
import {
  authorizationTarget,
  decideAuthorization,
  isPushedRequestUri,
  pushedParameters,
  refuseRequestObjects,
  requiresPushedRequest,
  singleParameter,
  validateAuthorizationRequest,
} from '../protocol/authorization-request.ts';
import { AuthorizationRedirectError, OAuthError } from '../protocol/errors.ts';
import { checkParameterLengths, type RawParams } from '../protocol/params.ts';
import { randomHandle } from '../protocol/secrets.ts';
import { createInteraction } from '../sessions/interaction.ts';
import { findSession } from '../sessions/login.ts';
import { issueAuthorizationCode } from '../tokens/authorization-code.ts';
import { browserCookie, readCookie, serializeCookie, sessionCookie } from './cookies.ts';
import { noStoreHeaders } from './responses.ts';

export function authorizeEndpoint(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const received =
      ((request.method === 'POST' ? request.body : request.query) as RawParams | undefined) ?? {};
    // Before anything is stored or redirected: a too-long parameter is an error page, never sent back.
    checkParameterLengths(received, ctx.config.requestParameters);
    const requestUri = singleParameter(received, 'request_uri');
    const pushed = requestUri !== undefined && isPushedRequestUri(requestUri);
    const raw = pushed ? await pushedParameters(ctx, received, requestUri) : received;
    const { client, redirectUri } = await authorizationTarget(ctx, raw).catch((error: unknown) => {
      // OpenID Connect Core §6: a request object is named as unsupported even when the client cannot be told.
      refuseRequestObjects(raw);
      throw error;
    });
    const state = raw.state?.length === 1 ? raw.state[0] || undefined : undefined;
    const redirectError = (error: OAuthError) =>
      new AuthorizationRedirectError(error.error, error.description, redirectUri, state);

    let authorization: AuthorizationRequestRecord;
    try {
      if (!pushed && requiresPushedRequest(ctx, client))
        throw new OAuthError(
          'invalid_request',
          'authorization requests must be pushed to the PAR endpoint first',
        );
      authorization = validateAuthorizationRequest(ctx, client, redirectUri, raw);
    } catch (error) {
      if (error instanceof OAuthError) throw redirectError(error);
      throw error;
    }
    const session = await findSession(ctx, readCookie(request.headers.cookie, sessionCookie));
    const decision = await decideAuthorization(ctx, client, authorization, session);
    if (decision.outcome === 'refuse') throw redirectError(decision.error);
    if (decision.outcome === 'issue') {
      const location = await issueAuthorizationCode(ctx, authorization, decision.session);
      reply.code(303).headers(noStoreHeaders).header('location', location).send();
      return;
    }

    // Each pending sign-in is stored until it expires: their number per address is capped.
    await ctx.rateLimits.hit('interactionsPerIp', request.ip);
    const existingBrowserId = readCookie(request.headers.cookie, browserCookie);
    const browserId = existingBrowserId ?? randomHandle();
    const interactionId = await createInteraction(ctx, browserId, authorization, decision.sessionSid);
    if (existingBrowserId === undefined) {
      reply.header(
        'set-cookie',
        serializeCookie(browserCookie, browserId, { sameSite: 'Lax', maxAge: 400 * 86400 }),
      );
    }
    reply
      .code(303)
      .headers(noStoreHeaders)
      .header('location', `${ctx.issuer}/interaction/${interactionId}`)
      .send();
  };
}
