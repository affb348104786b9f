/** RFC 8628 device codes, pending until the user decides on the verification page. */
import type { DeviceCode } from '../../model.ts';
import type { DeviceCodeRepository } from '../ports.ts';
import type { Db } from './db.ts';
import { SqlPolledRepository } from './polled-authorizations.ts';
import { deviceCodeRows } from './rows.ts';
import { compiledFindBy, first, insertUnlessTaken, selectUnexpired } from './statements.ts';

const findDeviceCode = compiledFindBy('device_codes', 'device_code_hash');

export class SqlDeviceCodeRepository extends SqlPolledRepository implements DeviceCodeRepository {
  constructor(db: Db) {
    super(db, 'device_codes');
  }

  /** Inserts a device code; false when the user code collides with a live one (the caller draws again). */
  create(code: DeviceCode): Promise<boolean> {
    return insertUnlessTaken(this.db, 'device_codes', deviceCodeRows.toRow(code), 'user_code');
  }

  async findByHash(deviceCodeHash: string): Promise<DeviceCode | undefined> {
    const [row] = (await findDeviceCode(this.db, { key: deviceCodeHash })).rows;
    return row && deviceCodeRows.fromRow(row);
  }

  findPendingByUserCode(userCode: string, now: number): Promise<DeviceCode | undefined> {
    const pending = selectUnexpired(this.db, 'device_codes', 'user_code', userCode, now).where(
      'status',
      '=',
      'pending',
    );
    return first(pending, deviceCodeRows.fromRow);
  }
}
