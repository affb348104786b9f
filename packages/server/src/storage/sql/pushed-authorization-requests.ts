/** Pushed authorization requests (RFC 9126 §2), found by the SHA-256 of the request_uri's random part. */
import type { PushedAuthorizationRequest } from '../../model.ts';
import type { PushedAuthorizationRequestRepository } from '../ports.ts';
import type { Db } from './db.ts';
import { pushedRequestToRow } from './rows.ts';

export class SqlPushedAuthorizationRequestRepository implements PushedAuthorizationRequestRepository {
  constructor(private readonly db: Db) {}

  async create(request: PushedAuthorizationRequest): Promise<void> {
    await this.db.insertInto('pushed_authorization_requests').values(pushedRequestToRow(request)).execute();
  }

  /**
   * Uses the request once (RFC 9126 §4): one conditional UPDATE marks it consumed, only for its own client
   * and before it expires, and returns its parameters; undefined when it is unknown, another client's,
   * expired or already used (a use by another client does not consume it).
   */
  async consume(
    requestUriHash: string,
    clientId: string,
    now: number,
  ): Promise<Record<string, string[]> | undefined> {
    const row = await this.db
      .updateTable('pushed_authorization_requests')
      .set({ consumed_at: now })
      .where('request_uri_hash', '=', requestUriHash)
      .where('client_id', '=', clientId)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('parameters')
      .executeTakeFirst();
    return row === undefined ? undefined : (JSON.parse(row.parameters) as Record<string, string[]>);
  }
}
