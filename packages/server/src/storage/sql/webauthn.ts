/**
 * WebAuthn credentials and ceremony challenges (sessions/webauthn.ts). A use is recorded by one UPDATE
 * conditional on the stored signature counter (WebAuthn §6.1.1), and a challenge is taken by one
 * DELETE ... RETURNING, so a replayed assertion or a challenge used twice finds nothing the second time.
 */
import type { WebAuthnChallenge, WebAuthnCredentialRecord } from '../../model.ts';
import type { WebAuthnRepository } from '../ports.ts';
import type { WebAuthnChallengesTable, WebAuthnCredentialsTable } from '../schema.ts';
import { either, flag, integer, integerOrNull, rowMapping, text, words } from './columns.ts';
import { affected, type Db, hasNul } from './db.ts';
import { changedOne, first, insertUnlessTaken, selectBy, singleUse } from './statements.ts';

const credentialRows = rowMapping<WebAuthnCredentialRecord, WebAuthnCredentialsTable>()({
  credentialId: text('credential_id'),
  userId: text('user_id'),
  publicKey: text('public_key'),
  counter: integer('counter'),
  transports: words('transports'),
  backupEligible: flag('backup_eligible'),
  backupState: flag('backup_state'),
  discoverable: flag('discoverable'),
  nickname: text('nickname'),
  createdAt: integer('created_at'),
  lastUsedAt: integerOrNull('last_used_at'),
});

const challengeRows = rowMapping<WebAuthnChallenge, WebAuthnChallengesTable>()({
  challengeHash: text('challenge_hash'),
  purpose: either('purpose', 'registration', 'authentication'),
  binding: text('binding'),
  userId: text('user_id'),
  expiresAt: integer('expires_at'),
});
const challenges = singleUse('webauthn_challenges', 'challenge_hash', challengeRows);

export class SqlWebAuthnRepository implements WebAuthnRepository {
  constructor(private readonly db: Db) {}

  addCredential(credential: WebAuthnCredentialRecord): Promise<boolean> {
    return insertUnlessTaken(
      this.db,
      'webauthn_credentials',
      credentialRows.toRow(credential),
      'credential_id',
    );
  }

  async findCredential(credentialId: string): Promise<WebAuthnCredentialRecord | undefined> {
    if (hasNul(credentialId)) return undefined;
    return first(
      selectBy(this.db, 'webauthn_credentials', 'credential_id', credentialId),
      credentialRows.fromRow,
    );
  }

  async listCredentials(userId: string): Promise<WebAuthnCredentialRecord[]> {
    const credentials = selectBy(this.db, 'webauthn_credentials', 'user_id', userId);
    const rows = await credentials.orderBy('created_at').orderBy('credential_id').execute();
    return rows.map(credentialRows.fromRow);
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

  createChallenge(challenge: WebAuthnChallenge, now: number): Promise<void> {
    return challenges.create(this.db, challenge, now);
  }

  takeChallenge(challengeHash: string, now: number): Promise<WebAuthnChallenge | undefined> {
    return challenges.take(this.db, challengeHash, now);
  }
}
