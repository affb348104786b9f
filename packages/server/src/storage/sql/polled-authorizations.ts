/**
 * The polling half of the tables a client polls (RFC 8628 §3.4, §3.5 device codes; CIBA Core §7.3, §11
 * requests), written once for both: recording a poll (growing the interval by five seconds when it came too
 * soon), recording the user's decision, and consuming an approved record by one conditional UPDATE, so that of any number of concurrent
 * token requests, on any number of nodes, exactly one gets the tokens.
 */
import { sql } from 'kysely';
import type { DeviceCodeDecision } from '../ports.ts';
import { type Db, json } from './db.ts';

/** Each polled table and the column holding the hash of the handle the client polls with. */
const keyColumns = {
  device_codes: 'device_code_hash',
  backchannel_requests: 'auth_req_id_hash',
} as const;

export type PolledTable = keyof typeof keyColumns;

/** The unique column the user's side finds a record by: the typed user code, the approval link's hash. */
const decisionColumns = {
  device_codes: 'user_code',
  backchannel_requests: 'approval_hash',
} as const;

/**
 * What the repositories of both polled tables do alike: `recordPoll`, `decide` and `consume` of
 * DeviceCodeRepository and BackchannelRequestRepository, on the table given.
 */
export class SqlPolledRepository {
  constructor(
    protected readonly db: Db,
    private readonly table: PolledTable,
  ) {}

  /** Records a poll; `slow_down` when the previous one came sooner than `interval` seconds before. */
  async recordPoll(
    hash: string,
    now: number,
    previous: number | null,
    interval: number,
  ): Promise<'ok' | 'slow_down'> {
    const tooSoon = previous !== null && now - previous < interval;
    const grown = tooSoon ? sql`, ${sql.ref('interval')} = ${interval + 5}` : sql``;
    await sql`update ${sql.table(this.table)} set ${sql.ref('last_polled_at')} = ${now}${grown} where ${sql.ref(keyColumns[this.table])} = ${hash}`.execute(
      this.db,
    );
    return tooSoon ? 'slow_down' : 'ok';
  }

  /**
   * Approves (for the signed-in user) or denies a pending, unexpired record found by its decision column;
   * false when it is not one.
   */
  async decide(key: string, now: number, decision: DeviceCodeDecision): Promise<boolean> {
    const values =
      decision.status === 'approved'
        ? sql`${sql.ref('status')} = 'approved', ${sql.ref('user_id')} = ${decision.userId}, ${sql.ref('auth_time')} = ${decision.authTime}, ${sql.ref('amr')} = ${json(decision.amr)}, ${sql.ref('sid')} = ${decision.sid}`
        : sql`${sql.ref('status')} = 'denied'`;
    const result =
      await sql`update ${sql.table(this.table)} set ${values} where ${sql.ref(decisionColumns[this.table])} = ${key} and ${sql.ref('status')} = 'pending' and ${sql.ref('expires_at')} > ${now}`.execute(
        this.db,
      );
    return Number(result.numAffectedRows ?? 0n) === 1;
  }

  /**
   * Moves an approved, unexpired record to consumed; true only for the one caller whose UPDATE took it (the
   * one poll that gets the tokens).
   */
  async consume(hash: string, now: number): Promise<boolean> {
    const result =
      await sql`update ${sql.table(this.table)} set ${sql.ref('status')} = 'consumed' where ${sql.ref(keyColumns[this.table])} = ${hash} and ${sql.ref('status')} = 'approved' and ${sql.ref('expires_at')} > ${now}`.execute(
        this.db,
      );
    return Number(result.numAffectedRows ?? 0n) === 1;
  }
}
