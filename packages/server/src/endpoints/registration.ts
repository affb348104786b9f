/**
 * POST /register (RFC 7591 §3) and GET/PUT/DELETE /register/:clientId (RFC 7592 §2): JSON in, JSON out,
 * `Cache-Control: no-store` (§3.2.1). A missing or wrong initial or registration access token is 401
 * `invalid_token` with a Bearer challenge (RFC 6750 §3); refused metadata is 400 `invalid_redirect_uri` or
 * `invalid_client_metadata` (RFC 7591 §3.2.2). The rules are in protocol/registration.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';
import {
  checkInitialAccessToken,
  deleteRegistration,
  parseRegistrationBody,
  readRegistration,
  registerClient,
  updateRegistration,
} from '../protocol/registration.ts';
import { noStoreHeaders } from './responses.ts';

/** The client metadata of a JSON body; any other media type is 415 (RFC 7591 §3.1). */
function metadataOf(request: FastifyRequest): Record<string, unknown> {
  if (!request.headers['content-type']?.toLowerCase().startsWith('application/json'))
    throw new OAuthError('invalid_request', 'the body must be application/json', { status: 415 });
  return parseRegistrationBody(request.body);
}

/** Sets the Bearer challenge on a 401 (RFC 6750 §3) before the error handler renders the error. */
async function withBearerChallenge<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof OAuthError && error.error === 'invalid_token')
      reply.header(
        'www-authenticate',
        `Bearer realm="gatehouse", error="invalid_token", error_description="${error.description.replace(/["\\]/g, '')}"`,
      );
    throw error;
  }
}

function clientIdOf(request: FastifyRequest): string {
  return (request.params as { clientId: string }).clientId;
}

/** `initialTokenHashes`: `initialAccessTokenHashes(config)`, computed once at start-up. */
export function registrationEndpoints(ctx: ServerContext, initialTokenHashes: readonly string[]) {
  const json = (reply: FastifyReply, status: number, body: unknown) =>
    reply.code(status).headers(noStoreHeaders).type('application/json').send(JSON.stringify(body));
  return {
    register: async (request: FastifyRequest, reply: FastifyReply) => {
      await withBearerChallenge(reply, async () =>
        checkInitialAccessToken(ctx.config, initialTokenHashes, request.headers.authorization),
      );
      json(reply, 201, await registerClient(ctx, metadataOf(request)));
    },
    read: async (request: FastifyRequest, reply: FastifyReply) => {
      const information = await withBearerChallenge(reply, () =>
        readRegistration(ctx, clientIdOf(request), request.headers.authorization),
      );
      json(reply, 200, information);
    },
    update: async (request: FastifyRequest, reply: FastifyReply) => {
      const information = await withBearerChallenge(reply, () =>
        updateRegistration(ctx, clientIdOf(request), request.headers.authorization, () =>
          metadataOf(request),
        ),
      );
      json(reply, 200, information);
    },
    remove: async (request: FastifyRequest, reply: FastifyReply) => {
      await withBearerChallenge(reply, () =>
        deleteRegistration(ctx, clientIdOf(request), request.headers.authorization),
      );
      reply.code(204).headers(noStoreHeaders).send();
    },
  };
}
