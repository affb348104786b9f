/**
 * `/admin/v1/grants` and `/admin/v1/sessions`: what users have granted to clients, and their browser
 * sessions. Revoking a grant revokes everything issued from it (its refresh tokens at once; its access
 * tokens at introspection and userinfo, storage/ports.ts GrantRepository); revoking by user or by client
 * revokes all of theirs (a client's consents are forgotten with them). Ending a session is the logout of
 * sessions/logout.ts: its short-lived grants are revoked and its clients get back-channel logout tokens
 * (OpenID Connect Back-Channel Logout 1.0 §2.7).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.ts';
import type { Grant, LoginSession } from '../../model.ts';
import { OAuthError } from '../../protocol/errors.ts';
import {
  authenticateOperator,
  entityTag,
  ifMatch,
  invalidInput,
  jsonFields,
  page,
  pageOf,
  parameter,
  queryValue,
  sendJson,
} from './support.ts';

/** RFC 9110 §13.1.1: the resource changed (here: was revoked or ended) since the operator read it. */
const changedSinceRead = () =>
  new OAuthError('precondition_failed', 'the resource changed since you read it: read it again');

const isoTime = (seconds: number) => new Date(seconds * 1000).toISOString();

export function grantView(grant: Grant): Record<string, unknown> {
  return {
    id: grant.id,
    clientId: grant.clientId,
    userId: grant.userId,
    sid: grant.sid,
    scopes: grant.scopes,
    resources: grant.resources,
    createdAt: isoTime(grant.createdAt),
    revokedAt: grant.revokedAt === null ? null : isoTime(grant.revokedAt),
  };
}

export function sessionView(session: LoginSession): Record<string, unknown> {
  return {
    sid: session.sid,
    userId: session.userId,
    authTime: isoTime(session.authTime),
    amr: session.amr,
    expiresAt: isoTime(session.expiresAt),
  };
}

/** A filter of the query (`userId`, `clientId`): one value each, when given. */
function filterOf(request: FastifyRequest, names: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(names.map((name) => [name, queryValue(request, name)]));
}

/** How the list and read endpoints of a collection kept in the store (grants, sessions) find its items. */
interface StoredCollection<Item> {
  /** The item's key field: the list's order and cursor, and the path parameter naming one item. */
  key: { [Field in keyof Item]: Item[Field] extends string ? Field : never }[keyof Item] & string;
  /** The query parameters that filter the list. */
  filters: readonly string[];
  list(
    filter: Record<string, string | undefined>,
    page: { after: string | undefined; limit: number },
  ): Promise<Item[]>;
  /** The item of a key; `not_found` when there is none. */
  find(key: string): Promise<Item>;
  view(item: Item): Record<string, unknown>;
}

/** The list (a page, filtered by the query) and read (with its tag) endpoints of a stored collection. */
function storedCollectionEndpoints<Item>(ctx: ServerContext, collection: StoredCollection<Item>) {
  return {
    list: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const filter = filterOf(request, collection.filters);
      const { after, limit } = pageOf(request);
      const items = await collection.list(filter, { after, limit });
      const listed = page(items, limit, (item) => item[collection.key] as string);
      sendJson(reply, 200, { ...listed, items: listed.items.map(collection.view) });
    },

    read: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const view = collection.view(await collection.find(parameter(request, collection.key)));
      sendJson(reply, 200, view, entityTag(view));
    },
  };
}

export function adminGrantEndpoints(ctx: ServerContext) {
  const activeGrant = async (id: string): Promise<Grant> => {
    const grant = await ctx.storage.grants.find(id);
    if (grant === undefined || grant.revokedAt !== null)
      throw new OAuthError('not_found', `no active grant "${id}"`);
    return grant;
  };
  return {
    ...storedCollectionEndpoints(ctx, {
      key: 'id',
      filters: ['userId', 'clientId'],
      list: (filter, page) => ctx.storage.grants.listActive(filter, page),
      find: activeGrant,
      view: grantView,
    }),

    revoke: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const check = ifMatch(request);
      const id = parameter(request, 'id');
      // A grant revoked since the operator read it no longer has the tag they send: 412, not 404.
      const found = await ctx.storage.grants.find(id);
      if (found !== undefined) check(entityTag(grantView(found)));
      const grant = await activeGrant(id);
      // The store revokes it for one caller only: an operator racing another with the same tag loses.
      if (!(await ctx.storage.grants.revoke(grant.id, ctx.now()))) throw changedSinceRead();
      operator.audit('admin_grant_revoked', {
        grant_id: grant.id,
        client_id: grant.clientId,
        user_id: grant.userId,
      });
      reply.code(204).headers({ 'cache-control': 'no-store' }).send();
    },

    /** Revokes every grant of a user, of a client, or of a user to a client. */
    revokeMatching: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const body = jsonFields(request, ['userId', 'clientId']);
      const problems = (['userId', 'clientId'] as const)
        .filter(
          (field) => body[field] !== undefined && (typeof body[field] !== 'string' || body[field] === ''),
        )
        .map((field) => ({ field, message: 'must be a non-empty string' }));
      if (problems.length > 0) throw invalidInput(problems);
      const userId = body.userId as string | undefined;
      const clientId = body.clientId as string | undefined;
      if (userId === undefined && clientId === undefined)
        throw invalidInput([{ field: '', message: 'give userId, clientId or both' }]);
      const now = ctx.now();
      let revoked = 0;
      if (userId !== undefined && clientId !== undefined) {
        // One user's grants to one client, a page at a time (each page is revoked before the next is read).
        for (;;) {
          const grants = await ctx.storage.grants.listActive(
            { userId, clientId },
            { after: undefined, limit: 200 },
          );
          for (const grant of grants) await ctx.storage.grants.revoke(grant.id, now);
          revoked += grants.length;
          if (grants.length < 200) break;
        }
      } else {
        revoked = await countActive(ctx, { userId, clientId });
        await ctx.storage.transaction(async (repositories) => {
          if (userId !== undefined) await repositories.grants.revokeAllForUser(userId, now);
          else {
            await repositories.grants.revokeAllForClient(clientId!, now);
            await repositories.consents.removeForClient(clientId!);
          }
        });
      }
      operator.audit('admin_grants_revoked', { user_id: userId, client_id: clientId, revoked });
      sendJson(reply, 200, { revoked });
    },
  };
}

async function countActive(
  ctx: ServerContext,
  filter: { userId?: string | undefined; clientId?: string | undefined },
): Promise<number> {
  let count = 0;
  let after: string | undefined;
  for (;;) {
    const grants = await ctx.storage.grants.listActive(filter, { after, limit: 200 });
    count += grants.length;
    if (grants.length < 200) return count;
    after = grants.at(-1)!.id;
  }
}

export function adminSessionEndpoints(ctx: ServerContext) {
  const liveSession = async (sid: string): Promise<LoginSession> => {
    const session = await ctx.storage.sessions.findLiveBySid(sid, ctx.now());
    if (session === undefined) throw new OAuthError('not_found', `no live session "${sid}"`);
    return session;
  };
  return {
    ...storedCollectionEndpoints(ctx, {
      key: 'sid',
      filters: ['userId'],
      list: (filter, page) => ctx.storage.sessions.listLive(filter, ctx.now(), page),
      find: liveSession,
      view: sessionView,
    }),

    end: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const check = ifMatch(request);
      const session = await liveSession(parameter(request, 'sid'));
      check(entityTag(sessionView(session)));
      // Ended once, by one caller (SessionRepository.endBySid): the loser of a race is told it changed.
      if (!(await ctx.logout.endSession(session, undefined, operator.audit))) throw changedSinceRead();
      operator.audit('admin_session_ended', { sid: session.sid, user_id: session.userId });
      reply.code(204).headers({ 'cache-control': 'no-store' }).send();
    },
  };
}
