/**
 * WebAuthn credentials and ceremony challenges (sessions/webauthn.ts). A use is recorded by one UPDATE
 * conditional on the stored signature counter (WebAuthn §6.1.1), and a challenge is taken by one
 * DELETE ... RETURNING, so a replayed assertion or a challenge used twice finds nothing the second time.
 */
import type { WebAuthnChallenge, WebAuthnCredentialRecord } from '../../model.ts';
import type { WebAuthnRepository } from '../ports.ts';
import type { WebAuthnChallengesTable, WebAuthnCredentialsTable } from '../schema.ts';
import { affected, type Db, numberOrNull } from './db.ts';

/** PostgreSQL text cannot hold NUL (it fails the query): a value with one names nothing, on either database. */
const hasNul = (...values: string[]) => values.some((value) => value.includes('\u0000'));

function credentialOf(row: WebAuthnCredentialsTable): WebAuthnCredentialRecord {
  return {
    credentialId: row.credential_id,
    userId: row.user_id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: row.transports === '' ? [] : row.transports.split(' '),
    backupEligible: Number(row.backup_eligible) === 1,
    backupState: Number(row.backup_state) === 1,
    discoverable: Number(row.discoverable) === 1,
    nickname: row.nickname,
    createdAt: Number(row.created_at),
    lastUsedAt: numberOrNull(row.last_used_at),
  };
}

function challengeOf(row: WebAuthnChallengesTable): WebAuthnChallenge {
  return {
    challengeHash: row.challenge_hash,
    purpose: row.purpose === 'registration' ? 'registration' : 'authentication',
    binding: row.binding,
    userId: row.user_id,
    expiresAt: Number(row.expires_at),
  };
}

export class SqlWebAuthnRepository implements WebAuthnRepository {
  constructor(private readonly db: Db) {}

  async addCredential(credential: WebAuthnCredentialRecord): Promise<boolean> {
    const result = await this.db
      .insertInto('webauthn_credentials')
      .values({
        credential_id: credential.credentialId,
        user_id: credential.userId,
        public_key: credential.publicKey,
        counter: credential.counter,
        transports: credential.transports.join(' '),
        backup_eligible: credential.backupEligible ? 1 : 0,
        backup_state: credential.backupState ? 1 : 0,
        discoverable: credential.discoverable ? 1 : 0,
        nickname: credential.nickname,
        created_at: credential.createdAt,
        last_used_at: credential.lastUsedAt,
      })
      .onConflict((conflict) => conflict.column('credential_id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async findCredential(credentialId: string): Promise<WebAuthnCredentialRecord | undefined> {
    if (hasNul(credentialId)) return undefined;
    const row = await this.db
      .selectFrom('webauthn_credentials')
      .selectAll()
      .where('credential_id', '=', credentialId)
      .executeTakeFirst();
    return row && credentialOf(row);
  }

  async listCredentials(userId: string): Promise<WebAuthnCredentialRecord[]> {
    const rows = await this.db
      .selectFrom('webauthn_credentials')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('credential_id')
      .execute();
    return rows.map(credentialOf);
  }

  async recordUse(
    credentialId: string,
    counter: number,
    backupState: boolean,
    now: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('webauthn_credentials')
      .set({ counter, backup_state: backupState ? 1 : 0, last_used_at: now })
      .where('credential_id', '=', credentialId)
      .where((eb) => (counter === 0 ? eb('counter', '=', 0) : eb('counter', '<', counter)))
      .executeTakeFirst();
    return affected(result) === 1;
  }

  async removeCredential(userId: string, credentialId: string): Promise<boolean> {
    if (hasNul(credentialId)) return false;
    const result = await this.db
      .deleteFrom('webauthn_credentials')
      .where('user_id', '=', userId)
      .where('credential_id', '=', credentialId)
      .executeTakeFirst();
    return affected(result) === 1;
  }

  async removeAll(userId: string): Promise<number> {
    const result = await this.db
      .deleteFrom('webauthn_credentials')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return affected(result);
  }

  async createChallenge(challenge: WebAuthnChallenge, now: number): Promise<void> {
    await this.db
      .insertInto('webauthn_challenges')
      .values({
        challenge_hash: challenge.challengeHash,
        purpose: challenge.purpose,
        binding: challenge.binding,
        user_id: challenge.userId,
        expires_at: challenge.expiresAt,
        created_at: now,
      })
      .execute();
  }

  async takeChallenge(challengeHash: string, now: number): Promise<WebAuthnChallenge | undefined> {
    if (hasNul(challengeHash)) return undefined;
    const row = await this.db
      .deleteFrom('webauthn_challenges')
      .where('challenge_hash', '=', challengeHash)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined || Number(row.expires_at) <= now) return undefined;
    return challengeOf(row);
  }
}
