/**
 * The user's decision on an authorization a client polls for, shared by the device flow (RFC 8628 §3.3)
 * and CIBA (CIBA Core §7, the approval page): the decision is recorded by one conditional UPDATE, and an
 * approval creates the grant in the same transaction, so a sign-out or removed client leaves nothing to
 * redeem. The grant's id is derived from the stored hash of the polled handle (`polledGrantId`), so the
 * decision and the token request agree on it without a stored link.
 */
import type { ServerContext } from '../context.ts';
import type { LoginSession } from '../model.ts';
import type { DeviceCodeDecision, Repositories } from '../storage/ports.ts';
import { rememberConsent } from './authorization-request.ts';
import { sha256Base64Url } from './secrets.ts';

/**
 * The grant id of a polled authorization: derived from its handle's stored hash under a label per flow
 * (132 bits, the size of a random grant id). It reveals nothing about the handle (SHA-256 preimage
 * resistance, applied twice).
 */
export function polledGrantId(label: string, handleHash: string): string {
  return sha256Base64Url(`${label}\u0000${handleHash}`).slice(0, 22);
}

/** The fields of a polled authorization no one has decided or polled yet. */
export function undecidedFields(now: number) {
  return {
    lastPolledAt: null,
    status: 'pending',
    userId: null,
    authTime: null,
    amr: null,
    sid: null,
    createdAt: now,
  } as const;
}

export interface PolledDecision {
  grantId: string;
  clientId: string;
  scope: string[];
  resources: string[];
  /** Records the decision on the pending record in the caller's transaction; false when not pending. */
  record(repositories: Repositories, decision: DeviceCodeDecision): Promise<boolean>;
}

/**
 * Records the user's decision; on approval creates the grant and remembers the consent. False when the
 * record is no longer pending (expired, or decided meanwhile).
 */
export async function decidePolledAuthorization(
  ctx: ServerContext,
  target: PolledDecision,
  session: LoginSession,
  decision: 'approve' | 'deny',
): Promise<boolean> {
  const now = ctx.now();
  const decided = await ctx.storage.transaction(async (repositories) => {
    if (decision === 'deny') return target.record(repositories, { status: 'denied' });
    const approved = await target.record(repositories, {
      status: 'approved',
      userId: session.userId,
      authTime: session.authTime,
      amr: session.amr,
      sid: session.sid,
    });
    if (approved) {
      await repositories.grants.create({
        id: target.grantId,
        clientId: target.clientId,
        userId: session.userId,
        sid: session.sid,
        scopes: target.scope,
        resources: target.resources,
        createdAt: now,
        revokedAt: null,
      });
    }
    return approved;
  });
  if (decided && decision === 'approve')
    await rememberConsent(ctx, session.userId, target.clientId, target.scope, now);
  return decided;
}
