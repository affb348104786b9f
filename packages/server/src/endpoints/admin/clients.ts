/**
 * `/admin/v1/clients`: list, read, create, replace, delete, disable, enable and rotate the secret of
 * clients, with the operations the CLI runs (admin/clients.ts). A client is written in the config file's client fields
 * (config/clients.ts); secrets are generated here and answered once, never read back (only when each one
 * stops working). Clients of the config file can be read but not changed.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type ClientInput,
  prepareNewClient,
  removeClient,
  replaceClient,
  rotateSecret,
  setClientDisabled,
  storeNewClient,
} from '../../admin/clients.ts';
import { clientFieldsAsWritten } from '../../config/seed.ts';
import type { ServerContext } from '../../context.ts';
import type { Client } from '../../model.ts';
import { OAuthError } from '../../protocol/errors.ts';
import {
  authenticateOperator,
  disableOptions,
  entityTag,
  ifMatchOf,
  jsonBody,
  jsonFields,
  parameter,
  sendJson,
  sendListPage,
} from './support.ts';

/** Fields of the answer that describe the stored client and are not written: ignored in a replacement. */
export const readOnlyClientFields = ['source', 'createdAt', 'secretExpiresAt', 'disabledAt'] as const;

/** A client as the API shows it: the config file's fields (absent ones left out), never a secret or hash. */
export function clientView(client: Client): Record<string, unknown> {
  const view: Record<string, unknown> = {
    ...clientFieldsAsWritten(client),
    requireMfa: client.requireMfa === true,
    upstreams: client.upstreams ?? [],
    ...client.authentication,
  };
  if (client.accessTokenTtl !== null) view.accessTokenTtl = client.accessTokenTtl;
  if (client.backchannelLogoutUri !== null) view.backchannelLogoutUri = client.backchannelLogoutUri;
  if (client.tokenExchange !== null) view.tokenExchange = client.tokenExchange;
  if (client.profile !== null) view.profile = client.profile;
  const ciba = client.backchannelAuthentication;
  if (ciba !== undefined && ciba !== null) {
    view.backchannelTokenDeliveryMode = ciba.tokenDeliveryMode;
    if (ciba.clientNotificationEndpoint !== null)
      view.backchannelClientNotificationEndpoint = ciba.clientNotificationEndpoint;
  }
  const { absolute, idle } = client.refreshTokenLifetime;
  if (absolute !== null || idle !== null)
    view.refreshTokenLifetime = {
      ...(absolute === null ? {} : { absolute }),
      ...(idle === null ? {} : { idle }),
    };
  view.source = client.source;
  view.createdAt = new Date(client.createdAt * 1000).toISOString();
  view.disabledAt = client.disabledAt === undefined ? null : new Date(client.disabledAt * 1000).toISOString();
  // When each secret stops working (null: never), newest first.
  view.secretExpiresAt = client.secrets.map((secret) =>
    secret.expiresAt === null ? null : new Date(secret.expiresAt * 1000).toISOString(),
  );
  return view;
}

/** The client's tag: its view and its secrets' hashes (a rotation changes the client, not its view). */
export function clientTag(client: Client): string {
  return entityTag(
    clientView(client),
    client.secrets.map((secret) => secret.hash),
  );
}

function withoutReadOnly(body: Record<string, unknown>): ClientInput {
  const input = { ...body };
  for (const field of readOnlyClientFields) delete input[field];
  return input;
}

async function storedClient(ctx: ServerContext, clientId: string): Promise<Client> {
  const client = await ctx.storage.clients.find(clientId);
  if (client === undefined) throw new OAuthError('not_found', `no client "${clientId}"`);
  return client;
}

/**
 * The API refuses clients this server's settings cannot serve (certificates without TLS), as the file does;
 * a client may name the API scopes and resources added over the API as well as the file's.
 */
const serverSettings = (ctx: ServerContext) => ({
  serverSettings: true,
  apiScopes: ctx.catalog.apiScopes.keys(),
  apiResources: ctx.catalog.resourcesById.keys(),
});

export function adminClientEndpoints(ctx: ServerContext) {
  const precondition = (request: FastifyRequest) => ifMatchOf(request, clientTag);
  /** Disables or enables the client of the path (admin/clients.ts); a body may ask to revoke its grants. */
  const setDisabled = async (request: FastifyRequest, reply: FastifyReply, disabled: boolean) => {
    const operator = await authenticateOperator(ctx, request, 'write');
    const check = precondition(request);
    const clientId = parameter(request, 'clientId');
    const { revokeGrants } = disableOptions(request, disabled);
    const change = { disabled, revokeGrants };
    const client = await setClientDisabled(ctx.storage, ctx.config, clientId, change, ctx.now(), check);
    if (disabled)
      operator.audit('admin_client_disabled', { client_id: clientId, grants_revoked: revokeGrants });
    else operator.audit('admin_client_enabled', { client_id: clientId });
    sendJson(reply, 200, clientView(client), clientTag(client));
  };
  return {
    list: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const clients = await ctx.storage.clients.list();
      await sendListPage(request, reply, clients, (client) => client.clientId, clientView);
    },

    read: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const client = await storedClient(ctx, parameter(request, 'clientId'));
      sendJson(reply, 200, clientView(client), clientTag(client));
    },

    create: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const body = jsonBody(request);
      const { client, secret } = prepareNewClient(ctx.config, body, ctx.now(), serverSettings(ctx));
      await storeNewClient(ctx.storage, client);
      operator.audit('admin_client_created', { client_id: client.clientId });
      reply.header('location', `${ctx.issuer}/admin/v1/clients/${encodeURIComponent(client.clientId)}`);
      sendJson(reply, 201, { client: clientView(client), clientSecret: secret ?? null }, clientTag(client));
    },

    replace: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const check = precondition(request);
      const clientId = parameter(request, 'clientId');
      const body = jsonBody(request);
      const { client, secret } = await replaceClient(
        ctx.storage,
        ctx.config,
        clientId,
        withoutReadOnly(body),
        check,
        serverSettings(ctx),
      );
      operator.audit('admin_client_updated', { client_id: clientId, new_secret: secret !== undefined });
      sendJson(reply, 200, { client: clientView(client), clientSecret: secret ?? null }, clientTag(client));
    },

    remove: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const check = precondition(request);
      const clientId = parameter(request, 'clientId');
      await removeClient(ctx.storage, ctx.config, clientId, ctx.now(), check);
      operator.audit('admin_client_removed', { client_id: clientId });
      reply.code(204).headers({ 'cache-control': 'no-store' }).send();
    },

    disable: (request: FastifyRequest, reply: FastifyReply) => setDisabled(request, reply, true),

    enable: (request: FastifyRequest, reply: FastifyReply) => setDisabled(request, reply, false),

    rotateSecret: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const check = precondition(request);
      const clientId = parameter(request, 'clientId');
      const body = jsonFields(request, ['overlap']);
      // Anything but a number is refused by rotateSecret's own check, naming the field.
      const overlap =
        typeof body.overlap === 'number' ? body.overlap : body.overlap === undefined ? 0 : Number.NaN;
      const rotated = await rotateSecret(ctx.storage, ctx.config, clientId, overlap, ctx.now(), check);
      operator.audit('admin_client_secret_rotated', { client_id: clientId, overlap });
      sendJson(
        reply,
        200,
        {
          clientId,
          clientSecret: rotated.secret,
          previousSecretExpiresAt:
            rotated.previousSecretExpiresAt === null
              ? null
              : new Date(rotated.previousSecretExpiresAt * 1000).toISOString(),
        },
        clientTag(rotated.client),
      );
    },
  };
}
