/** CIBA Core §7 authentication requests, pending until the user decides on the approval page. */
import type { BackchannelAuthenticationRequest } from '../../model.ts';
import type { BackchannelRequestRepository } from '../ports.ts';
import type { Db } from './db.ts';
import { SqlPolledRepository } from './polled-authorizations.ts';
import { backchannelRequestRows } from './rows.ts';
import { first, selectBy, updateAll } from './statements.ts';

export class SqlBackchannelRequestRepository
  extends SqlPolledRepository
  implements BackchannelRequestRepository
{
  constructor(db: Db) {
    super(db, 'backchannel_requests');
  }

  async create(request: BackchannelAuthenticationRequest): Promise<void> {
    await this.db.insertInto('backchannel_requests').values(backchannelRequestRows.toRow(request)).execute();
  }

  findByHash(authReqIdHash: string): Promise<BackchannelAuthenticationRequest | undefined> {
    return this.findBy('auth_req_id_hash', authReqIdHash);
  }

  findByApprovalHash(approvalHash: string): Promise<BackchannelAuthenticationRequest | undefined> {
    return this.findBy('approval_hash', approvalHash);
  }

  async forgetPing(authReqIdHash: string): Promise<void> {
    const forgotten = { ping_auth_req_id: null, client_notification_token: null };
    await updateAll(this.db, 'backchannel_requests', forgotten, { auth_req_id_hash: authReqIdHash });
  }

  private findBy(column: 'auth_req_id_hash' | 'approval_hash', hash: string) {
    return first(selectBy(this.db, 'backchannel_requests', column, hash), backchannelRequestRows.fromRow);
  }
}
