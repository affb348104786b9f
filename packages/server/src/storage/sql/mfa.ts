/**
 * Second factors (sessions/mfa.ts): TOTP secrets with their last used time step, and recovery codes as
 * hashes. Confirming an enrolment, using a time step or a recovery code is one conditional UPDATE: of two
 * requests racing, exactly one wins.
 */
import type { TotpFactor } from '../../model.ts';
import type { MfaRepository } from '../ports.ts';
import type { MfaTotpTable } from '../schema.ts';
import { integer, integerOrNull, rowMapping, text } from './columns.ts';
import { type Db, inTransaction } from './db.ts';
import { changedOne, first, selectBy, updateOne } from './statements.ts';

const totpRows = rowMapping<TotpFactor, MfaTotpTable>()({
  userId: text('user_id'),
  secret: text('secret'),
  confirmedAt: integerOrNull('confirmed_at'),
  lastUsedStep: integerOrNull('last_used_step'),
  pendingSecret: text('pending_secret'),
  createdAt: integer('created_at'),
});

export class SqlMfaRepository implements MfaRepository {
  constructor(private readonly db: Db) {}

  findTotp(userId: string): Promise<TotpFactor | undefined> {
    return first(selectBy(this.db, 'mfa_totp', 'user_id', userId), totpRows.fromRow);
  }

  async startTotp(userId: string, secret: string, now: number): Promise<void> {
    // A confirmed secret stays in place beside the pending one until that is confirmed.
    await this.db
      .insertInto('mfa_totp')
      .values({
        user_id: userId,
        secret: null,
        confirmed_at: null,
        last_used_step: null,
        pending_secret: secret,
        created_at: now,
      })
      .onConflict((conflict) => conflict.column('user_id').doUpdateSet({ pending_secret: secret }))
      .execute();
  }

  confirmTotp(userId: string, secret: string, step: number, now: number): Promise<boolean> {
    const confirmed = { secret, pending_secret: null, confirmed_at: now, last_used_step: step };
    return updateOne(this.db, 'mfa_totp', confirmed, { user_id: userId, pending_secret: secret });
  }

  useTotpStep(userId: string, step: number): Promise<boolean> {
    return changedOne(
      this.db
        .updateTable('mfa_totp')
        .set({ last_used_step: step })
        .where('user_id', '=', userId)
        .where('confirmed_at', 'is not', null)
        .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)])),
    );
  }

  removeTotp(userId: string): Promise<boolean> {
    return changedOne(this.db.deleteFrom('mfa_totp').where('user_id', '=', userId));
  }

  async replaceRecoveryCodes(userId: string, codeHashes: string[], now: number): Promise<void> {
    await inTransaction(this.db, async (db) => {
      await db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
      if (codeHashes.length > 0)
        await db
          .insertInto('mfa_recovery_codes')
          .values(
            codeHashes.map((hash) => ({ user_id: userId, code_hash: hash, used_at: null, created_at: now })),
          )
          .execute();
    });
  }

  useRecoveryCode(userId: string, codeHash: string, now: number): Promise<boolean> {
    const unused = { user_id: userId, code_hash: codeHash, used_at: null };
    return updateOne(this.db, 'mfa_recovery_codes', { used_at: now }, unused);
  }

  async unusedRecoveryCodes(userId: string): Promise<number> {
    const row = await this.db
      .selectFrom('mfa_recovery_codes')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(row?.count ?? 0);
  }

  async removeAll(userId: string): Promise<void> {
    await inTransaction(this.db, async (db) => {
      await db.deleteFrom('mfa_totp').where('user_id', '=', userId).execute();
      await db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    });
  }
}
