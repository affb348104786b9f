/**
 * POST /upstream/{upstream}/backchannel-logout: an upstream provider's back-channel logout (OpenID Connect
 * Back-Channel Logout 1.0 §2.5): one form parameter, `logout_token`, checked and acted on by
 * sessions/upstream-logout.ts. 200 with no body when the token is valid (whether or not a session was still
 * live), 400 `invalid_request` otherwise (§2.8), both with `Cache-Control: no-store`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { type RawParams, toParams } from '../protocol/params.ts';
import { upstreamBackchannelLogout } from '../sessions/upstream-logout.ts';
import { noStoreHeaders } from './responses.ts';

export function upstreamBackchannelLogoutEndpoint(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { upstream } = request.params as { upstream: string };
    const params = toParams((request.body as RawParams | undefined) ?? {});
    await upstreamBackchannelLogout(ctx, upstream, params.get('logout_token'));
    reply.code(200).headers(noStoreHeaders).send();
  };
}
