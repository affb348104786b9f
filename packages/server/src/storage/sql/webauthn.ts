/**
 * WebAuthn credentials and ceremony challenges (sessions/webauthn.ts). A use is recorded by one UPDATE
 * conditional on the stored signature counter (WebAuthn §6.1.1), and a challenge is taken by one
 * DELETE ... RETURNING, so a replayed assertion or a challenge used twice finds nothing the second time.
 */
import type { WebAuthnChallenge, WebAuthnCredentialRecord } from '../../model.ts';
import type { WebAuthnRepository } from '../ports.ts';
import type { WebAuthnChallengesTable, WebAuthnCredentialsTable } from '../schema.ts';
import { affected, type Db, hasNul, numberOrNull } from './db.ts';
import { changedOne, first, insertUnlessTaken, selectBy, takeUnexpired } from './statements.ts';

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

  addCredential(credential: WebAuthnCredentialRecord): Promise<boolean> {
    const row = {
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
    };
    return insertUnlessTaken(this.db, 'webauthn_credentials', row, 'credential_id');
  }

  async findCredential(credentialId: string): Promise<WebAuthnCredentialRecord | undefined> {
    if (hasNul(credentialId)) return undefined;
    return first(selectBy(this.db, 'webauthn_credentials', 'credential_id', credentialId), credentialOf);
  }

  async listCredentials(userId: string): Promise<WebAuthnCredentialRecord[]> {
    const credentials = selectBy(this.db, 'webauthn_credentials', 'user_id', userId);
    const rows = await credentials.orderBy('created_at').orderBy('credential_id').execute();
    return rows.map(credentialOf);
  }

  recordUse(credentialId: string, counter: number, backupState: boolean, now: number): Promise<boolean> {
    return changedOne(
      this.db
        .updateTable('webauthn_credentials')
        .set({ counter, backup_state: backupState ? 1 : 0, last_used_at: now })
        .where('credential_id', '=', credentialId)
        .where((eb) => (counter === 0 ? eb('counter', '=', 0) : eb('counter', '<', counter))),
    );
  }

  async removeCredential(userId: string, credentialId: string): Promise<boolean> {
    if (hasNul(credentialId)) return false;
    return changedOne(
      this.db
        .deleteFrom('webauthn_credentials')
        .where('user_id', '=', userId)
        .where('credential_id', '=', credentialId),
    );
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

  takeChallenge(challengeHash: string, now: number): Promise<WebAuthnChallenge | undefined> {
    return takeUnexpired(this.db, 'webauthn_challenges', 'challenge_hash', challengeHash, now, challengeOf);
  }
}
