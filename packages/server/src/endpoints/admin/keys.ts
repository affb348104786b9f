/**
 * `/admin/v1/keys`. Keys are listed with the status the CLI shows (keys/keystore.ts keyStatuses), never
 * their material beyond the public JWK; a rotation schedules the next key as `gatehouse keys rotate` does (published now, signing
 * after keys.publishBeforeUse, OpenID Connect Core §10.1.1).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.ts';
import { keyStatuses } from '../../keys/keystore.ts';
import type { SigningKeyRecord } from '../../model.ts';
import { authenticateOperator, sendJson, sendListPage } from './support.ts';

const isoTime = (seconds: number | null) =>
  seconds === null ? null : new Date(seconds * 1000).toISOString();

function keyViews(ctx: ServerContext, records: SigningKeyRecord[], now: number) {
  const status = keyStatuses(records, ctx.config.keys.algorithm, now);
  return records.map((record) => ({
    kid: record.kid,
    alg: record.alg,
    status: status.get(record.kid) ?? 'published',
    createdAt: isoTime(record.createdAt),
    signsFrom: isoTime(record.notBefore),
    retiredAt: isoTime(record.retiredAt),
    expiresAt: isoTime(record.expiresAt),
    publicJwk: JSON.parse(record.publicJwk) as Record<string, unknown>,
  }));
}

export function adminKeyEndpoints(ctx: ServerContext) {
  return {
    list: async (request: FastifyRequest, reply: FastifyReply) => {
      await authenticateOperator(ctx, request, 'read');
      const now = ctx.now();
      const records = await ctx.storage.signingKeys.listPublished(now);
      await sendListPage(request, reply, keyViews(ctx, records, now), (key) => key.kid);
    },

    rotate: async (request: FastifyRequest, reply: FastifyReply) => {
      const operator = await authenticateOperator(ctx, request, 'write');
      const now = ctx.now();
      const record = await ctx.keys.rotate(now);
      operator.audit('admin_keys_rotated', { kid: record.kid });
      const records = await ctx.storage.signingKeys.listPublished(now);
      const view = keyViews(ctx, records, now).find((key) => key.kid === record.kid);
      sendJson(reply, 201, view);
    },
  };
}
