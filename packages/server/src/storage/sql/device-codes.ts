/** RFC 8628 device codes, pending until the user decides on the verification page. */
import type { DeviceCode } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { DeviceCodeDecision, DeviceCodeRepository } from '../ports.ts';
import { affected, type Db, json } from './db.ts';
import { deviceCodeFromRow, deviceCodeToRow } from './rows.ts';

const findDeviceCode = compiled((db, p: { deviceCodeHash: string }) =>
  db.selectFrom('device_codes').selectAll().where('device_code_hash', '=', p.deviceCodeHash),
);

export class SqlDeviceCodeRepository implements DeviceCodeRepository {
  constructor(private readonly db: Db) {}

  /** Inserts a device code; false when the user code collides with a live one (the caller draws again). */
  async create(code: DeviceCode): Promise<boolean> {
    const result = await this.db
      .insertInto('device_codes')
      .values(deviceCodeToRow(code))
      .onConflict((conflict) => conflict.column('user_code').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async findByHash(deviceCodeHash: string): Promise<DeviceCode | undefined> {
    const [row] = (await findDeviceCode(this.db, { deviceCodeHash })).rows;
    return row && deviceCodeFromRow(row);
  }

  async findPendingByUserCode(userCode: string, now: number): Promise<DeviceCode | undefined> {
    const row = await this.db
      .selectFrom('device_codes')
      .selectAll()
      .where('user_code', '=', userCode)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row && deviceCodeFromRow(row);
  }

  /**
   * Records a poll. When the previous poll came sooner than the interval allows, the interval grows by
   * five seconds (RFC 8628 §3.5) and the result says to slow down.
   */
  async recordPoll(
    deviceCodeHash: string,
    now: number,
    previous: number | null,
    interval: number,
  ): Promise<'ok' | 'slow_down'> {
    const tooSoon = previous !== null && now - previous < interval;
    await this.db
      .updateTable('device_codes')
      .set({ last_polled_at: now, ...(tooSoon ? { interval: interval + 5 } : {}) })
      .where('device_code_hash', '=', deviceCodeHash)
      .execute();
    return tooSoon ? 'slow_down' : 'ok';
  }

  /** Approves or denies a pending code; false when it is no longer pending (or has expired). */
  async decide(userCode: string, now: number, decision: DeviceCodeDecision): Promise<boolean> {
    const values =
      decision.status === 'approved'
        ? {
            status: 'approved',
            user_id: decision.userId,
            auth_time: decision.authTime,
            amr: json(decision.amr),
            sid: decision.sid,
          }
        : { status: 'denied' };
    const result = await this.db
      .updateTable('device_codes')
      .set(values)
      .where('user_code', '=', userCode)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return affected(result) === 1;
  }

  /** Atomically moves an approved code to consumed; true only for the one poll that gets the tokens. */
  async consume(deviceCodeHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('device_codes')
      .set({ status: 'consumed' })
      .where('device_code_hash', '=', deviceCodeHash)
      .where('status', '=', 'approved')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return affected(result) === 1;
  }
}
