/** CIBA Core §7 authentication requests, pending until the user decides on the approval page. */
import type { BackchannelAuthenticationRequest } from '../../model.ts';
import type { BackchannelRequestRepository, DeviceCodeDecision } from '../ports.ts';
import type { Db } from './db.ts';
import { consumeApproved, decidePending, recordPoll } from './polled-authorizations.ts';
import { backchannelRequestFromRow, backchannelRequestToRow } from './rows.ts';

export class SqlBackchannelRequestRepository implements BackchannelRequestRepository {
  constructor(private readonly db: Db) {}

  async create(request: BackchannelAuthenticationRequest): Promise<void> {
    await this.db.insertInto('backchannel_requests').values(backchannelRequestToRow(request)).execute();
  }

  async findByHash(authReqIdHash: string): Promise<BackchannelAuthenticationRequest | undefined> {
    const row = await this.db
      .selectFrom('backchannel_requests')
      .selectAll()
      .where('auth_req_id_hash', '=', authReqIdHash)
      .executeTakeFirst();
    return row && backchannelRequestFromRow(row);
  }

  async findByApprovalHash(approvalHash: string): Promise<BackchannelAuthenticationRequest | undefined> {
    const row = await this.db
      .selectFrom('backchannel_requests')
      .selectAll()
      .where('approval_hash', '=', approvalHash)
      .executeTakeFirst();
    return row && backchannelRequestFromRow(row);
  }

  recordPoll(
    hash: string,
    now: number,
    previous: number | null,
    interval: number,
  ): Promise<'ok' | 'slow_down'> {
    return recordPoll(this.db, 'backchannel_requests', hash, now, previous, interval);
  }

  decide(approvalHash: string, now: number, decision: DeviceCodeDecision): Promise<boolean> {
    return decidePending(this.db, 'backchannel_requests', approvalHash, now, decision);
  }

  async forgetPing(authReqIdHash: string): Promise<void> {
    await this.db
      .updateTable('backchannel_requests')
      .set({ ping_auth_req_id: null, client_notification_token: null })
      .where('auth_req_id_hash', '=', authReqIdHash)
      .execute();
  }

  consume(hash: string, now: number): Promise<boolean> {
    return consumeApproved(this.db, 'backchannel_requests', hash, now);
  }
}
