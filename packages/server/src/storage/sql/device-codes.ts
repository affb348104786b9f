/** RFC 8628 device codes, pending until the user decides on the verification page. */
import type { DeviceCode } from '../../model.ts';
import { compiled } from '../compiled.ts';
import type { DeviceCodeDecision, DeviceCodeRepository } from '../ports.ts';
import type { Db } from './db.ts';
import { consumeApproved, decidePending, recordPoll } from './polled-authorizations.ts';
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

  recordPoll(
    deviceCodeHash: string,
    now: number,
    previous: number | null,
    interval: number,
  ): Promise<'ok' | 'slow_down'> {
    return recordPoll(this.db, 'device_codes', deviceCodeHash, now, previous, interval);
  }

  /** Approves or denies a pending code; false when it is no longer pending (or has expired). */
  decide(userCode: string, now: number, decision: DeviceCodeDecision): Promise<boolean> {
    return decidePending(this.db, 'device_codes', userCode, now, decision);
  }

  /** Atomically moves an approved code to consumed; true only for the one poll that gets the tokens. */
  consume(deviceCodeHash: string, now: number): Promise<boolean> {
    return consumeApproved(this.db, 'device_codes', deviceCodeHash, now);
  }
}
