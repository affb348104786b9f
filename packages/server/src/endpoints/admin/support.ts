/**
 * What every admin API route shares: the operator's access token (RFC 6750 §2.1, DPoP-bound tokens per
 * RFC 9449 §7, as /userinfo takes them) for the built-in `gatehouse-admin` API with `admin.read` or
 * `admin.write` (RFC 6750 §3.1 `insufficient_scope` otherwise), JSON bodies read strictly, entity tags
 * (RFC 9110 §8.8.3) with `If-Match` required on every change (§13.1.1: 412 when stale; RFC 6585 §3: 428
 * when missing), lists paged by `limit` and an opaque `cursor`, and a rate limit per operator client (the
 * per-address one runs before the route, http/routes.ts). Errors are RFC 9457 problem details
 * (the route's error format, http/error-handler.ts).
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { adminAudience, adminScopes } from '../../config/schema.ts';
import type { Audit, AuditFields, ServerContext } from '../../context.ts';
import { checkDpopBinding, presentedAccessToken } from '../../protocol/bearer.ts';
import { dpopHeaderValues } from '../../protocol/dpop.ts';
import { type InputProblem, OAuthError } from '../../protocol/errors.ts';
import type { RawParams } from '../../protocol/params.ts';
import { validateAccessToken } from '../../tokens/validate.ts';
import { noStoreHeaders } from '../responses.ts';

/** Who is calling: the token's subject and client, recorded with every change. */
export interface Operator {
  sub: string;
  clientId: string;
  /** Records an admin event with the operator's `sub` and `client_id`. */
  audit(event: string, fields?: AuditFields): void;
}

function operatorAudit(audit: Audit, sub: string, clientId: string) {
  return (event: string, fields: AuditFields = {}) =>
    audit(event, { operator_sub: sub, operator_client_id: clientId, ...fields });
}

/**
 * The operator behind the request, whose access token must be active, for the admin API and carry
 * `scope`; `admin.write` implies `admin.read`.
 */
export async function authenticateOperator(
  ctx: ServerContext,
  request: FastifyRequest,
  scope: 'read' | 'write',
): Promise<Operator> {
  const presented = presentedAccessToken(request.headers.authorization);
  const payload = await validateAccessToken(ctx, presented.token);
  const audiences = payload === undefined ? [] : [payload.aud].flat();
  if (payload === undefined || !audiences.includes(adminAudience))
    throw new OAuthError(
      'invalid_token',
      'the access token is invalid, expired, revoked or not for this API',
      {
        challenge: presented.scheme,
      },
    );
  await ctx.rateLimits.hit('adminPerOperator', payload.client_id);
  await checkDpopBinding(ctx, presented, payload.cnf?.jkt, {
    headers: dpopHeaderValues(request.raw.rawHeaders),
    method: request.method,
    url: `${ctx.issuer}${request.url.split('?', 1)[0]}`,
  });
  const scopes = payload.scope.split(' ');
  const allowed =
    scopes.includes(adminScopes.write) || (scope === 'read' && scopes.includes(adminScopes.read));
  if (!allowed)
    throw new OAuthError('insufficient_scope', `this request needs the ${adminScopes[scope]} scope`, {
      challenge: presented.scheme,
    });
  return {
    sub: payload.sub,
    clientId: payload.client_id,
    audit: operatorAudit(ctx.audit, payload.sub, payload.client_id),
  };
}

/** The request's JSON object body; `invalid_request` for anything else (never a 500). */
export function jsonBody(request: FastifyRequest): Record<string, unknown> {
  const body: unknown = request.body;
  if (typeof body !== 'string')
    throw new OAuthError('invalid_request', 'send a JSON object with Content-Type: application/json', {
      status: 415,
    });
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new OAuthError('invalid_request', 'the request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new OAuthError('invalid_request', 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Refuses members of `body` that are not in `allowed` (a typo must not be ignored in silence). */
export function refuseUnknownFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0)
    throw invalidInput(unknown.map((field) => ({ field, message: 'is not a known field' })));
}

/** The request's JSON object body, refusing members not in `allowed`. */
export function jsonFields(request: FastifyRequest, allowed: readonly string[]): Record<string, unknown> {
  const body = jsonBody(request);
  refuseUnknownFields(body, allowed);
  return body;
}

/**
 * The optional body of a disable (`revokeAllowed`) or enable request: `{"revokeGrants": true}` revokes
 * the grants of what is disabled (false when absent).
 */
export function disableOptions(request: FastifyRequest, revokeAllowed: boolean): { revokeGrants: boolean } {
  if (request.body === undefined) return { revokeGrants: false };
  const body = jsonFields(request, revokeAllowed ? ['revokeGrants'] : []);
  if (body.revokeGrants !== undefined && typeof body.revokeGrants !== 'boolean')
    throw invalidInput([{ field: 'revokeGrants', message: 'must be true or false' }]);
  return { revokeGrants: body.revokeGrants === true };
}

export function invalidInput(details: InputProblem[]): OAuthError {
  return new OAuthError('invalid_request', 'the request is not valid', { details });
}

/** A strong entity tag (RFC 9110 §8.8.3) of a representation and of what changes with it unseen. */
export function entityTag(representation: unknown, hidden: unknown = null): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([representation, hidden]))
    .digest('base64url');
  return `"${digest.slice(0, 27)}"`;
}

/**
 * RFC 9110 §13.1.1: the change needs `If-Match` naming the current tag (or `*`); 428 when it is missing
 * (RFC 6585 §3), 412 when the resource changed since the operator read it.
 */
export function ifMatch(request: FastifyRequest): (currentTag: string) => void {
  const header = request.headers['if-match'];
  if (header === undefined || header.trim() === '')
    throw new OAuthError('precondition_required', 'send If-Match with the ETag of the resource you read');
  const tags = header.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  return (currentTag) => {
    if (!tags.includes('*') && !tags.includes(currentTag))
      throw new OAuthError(
        'precondition_failed',
        'the resource changed since you read it: read it again and repeat the change',
      );
  };
}

/**
 * `ifMatch` for a change made inside the store's transaction: the returned check is given the stored
 * resource there, so the tag it compares is the one the change replaces (two operators racing with one
 * tag cannot both pass).
 */
export function ifMatchOf<Current extends unknown[]>(
  request: FastifyRequest,
  tagOf: (...current: Current) => string | Promise<string>,
): (...current: Current) => Promise<void> {
  const matches = ifMatch(request);
  return async (...current) => matches(await tagOf(...current));
}

/** A query parameter given at most once (RFC 6749 §3.1 reads parameters the same way); not empty. */
export function queryValue(request: FastifyRequest, name: string): string | undefined {
  const values = ((request.query ?? {}) as RawParams)[name];
  if (values === undefined) return undefined;
  if (values.length !== 1 || values[0] === '')
    throw invalidInput([{ field: name, message: 'must be given once, not empty' }]);
  return values[0];
}

export const defaultPageSize = 50;
export const maxPageSize = 200;

/** `limit` (1-200, default 50) and the opaque `cursor` of a list request. */
export function pageOf(request: FastifyRequest): { after: string | undefined; limit: number } {
  const problems: InputProblem[] = [];
  const single = (name: string): string | undefined => {
    try {
      return queryValue(request, name);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      problems.push(...error.details);
      return undefined;
    }
  };
  const limitText = single('limit');
  const cursor = single('cursor');
  let limit = defaultPageSize;
  if (limitText !== undefined) {
    limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : 0;
    if (limit < 1 || limit > maxPageSize)
      problems.push({ field: 'limit', message: `must be a whole number from 1 to ${maxPageSize}` });
  }
  let after: string | undefined;
  if (cursor !== undefined) {
    after = /^[A-Za-z0-9_-]{1,400}$/.test(cursor)
      ? Buffer.from(cursor, 'base64url').toString('utf8')
      : undefined;
    if (after === undefined || after === '')
      problems.push({ field: 'cursor', message: 'is not a cursor of this API' });
  }
  if (problems.length > 0) throw invalidInput(problems);
  return { after, limit };
}

/** A list answer: the items, and the cursor of the next page when there may be one. */
export function page<T>(items: T[], limit: number, keyOf: (item: T) => string) {
  const last = items.at(-1);
  return {
    items,
    nextCursor:
      items.length === limit && last !== undefined ? Buffer.from(keyOf(last)).toString('base64url') : null,
  };
}

/** A page of an in-memory list sorted by `keyOf`. */
export function pageOfList<T>(
  all: readonly T[],
  request: { after: string | undefined; limit: number },
  keyOf: (item: T) => string,
) {
  const sorted = [...all].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  const start = request.after === undefined ? sorted : sorted.filter((item) => keyOf(item) > request.after!);
  return page(start.slice(0, request.limit), request.limit, keyOf);
}

/** Answers a page of an in-memory list sorted by `keyOf`, each item shown by `view`. */
export async function sendListPage<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  all: readonly T[],
  keyOf: (item: T) => string,
  view: (item: T) => unknown = (item) => item,
): Promise<void> {
  const listed = pageOfList(all, pageOf(request), keyOf);
  const items = [];
  for (const item of listed.items) items.push(await view(item));
  sendJson(reply, 200, { ...listed, items });
}

/** Sends `body` as JSON (no-store: the answers describe credentials and sessions), with an ETag when given. */
export function sendJson(reply: FastifyReply, status: number, body: unknown, etag?: string): void {
  reply.code(status).headers(noStoreHeaders);
  if (etag !== undefined) reply.header('etag', etag);
  reply.type('application/json').send(JSON.stringify(body));
}

/** A path parameter, as routed. */
export function parameter(request: FastifyRequest, name: string): string {
  return (request.params as Record<string, string>)[name] ?? '';
}
