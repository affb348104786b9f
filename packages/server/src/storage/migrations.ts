/**
 * Schema migrations, written with Kysely's schema builder so the same list runs on SQLite and PostgreSQL.
 * Kysely's Migrator records what ran in its own table; `gatehouse migrate` and server start-up apply them.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';

const migrations: Record<string, Migration> = {
  '0001_core': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('clients')
        .addColumn('client_id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text')
        .addColumn('token_endpoint_auth_method', 'text', (c) => c.notNull())
        .addColumn('grant_types', 'text', (c) => c.notNull())
        .addColumn('redirect_uris', 'text', (c) => c.notNull())
        .addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('require_consent', 'integer', (c) => c.notNull())
        .addColumn('access_token_ttl', 'integer')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('claims', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('sid', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('auth_time', 'bigint', (c) => c.notNull())
        .addColumn('amr', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .execute();
      await db.schema
        .createTable('interactions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('browser_hash', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('session_sid', 'text')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('completed_at', 'bigint')
        .execute();
      await db.schema
        .createTable('consents')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('consents_pk', ['user_id', 'client_id'])
        .execute();
      await db.schema
        .createTable('grants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('sid', 'text')
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema
        .createTable('authorization_codes')
        .addColumn('code_hash', 'text', (c) => c.primaryKey())
        .addColumn('grant_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('code_challenge', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text')
        .addColumn('auth_time', 'bigint', (c) => c.notNull())
        .addColumn('amr', 'text', (c) => c.notNull())
        .addColumn('sid', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('refresh_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('grant_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('auth_time', 'bigint', (c) => c.notNull())
        .addColumn('amr', 'text', (c) => c.notNull())
        .addColumn('sid', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('private_jwk', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('not_before', 'bigint', (c) => c.notNull())
        .addColumn('retired_at', 'bigint')
        .addColumn('expires_at', 'bigint')
        .execute();
      await db.schema.createIndex('refresh_tokens_grant').on('refresh_tokens').column('grant_id').execute();
      await db.schema
        .createIndex('authorization_codes_grant')
        .on('authorization_codes')
        .column('grant_id')
        .execute();
      await db.schema.createIndex('grants_sid').on('grants').column('sid').execute();
    },
  },
  '0002_device_introspection_logout': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('clients').addColumn('backchannel_logout_uri', 'text').execute();
      await db.schema
        .alterTable('clients')
        .addColumn('cors_origins', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema
        .createTable('device_codes')
        .addColumn('device_code_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_code', 'text', (c) => c.notNull().unique())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('interval', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('last_polled_at', 'bigint')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('auth_time', 'bigint')
        .addColumn('amr', 'text')
        .addColumn('sid', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('access_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('jti', 'text', (c) => c.notNull())
        .addColumn('grant_id', 'text')
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('audience', 'text', (c) => c.notNull())
        .addColumn('auth_time', 'bigint')
        .addColumn('roles', 'text')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('revoked_tokens')
        .addColumn('jti', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('access_tokens_grant').on('access_tokens').column('grant_id').execute();
    },
  },
  '0003_grants_revoked_at': {
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('grants_revoked_at').on('grants').column('revoked_at').execute();
    },
  },
  // RFC 9449 (DPoP): per-client requirement, key bindings of codes, refresh tokens and opaque access
  // tokens. RFC 9126 (PAR): per-client requirement and the pushed requests.
  '0004_dpop_par': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('clients')
        .addColumn('require_dpop', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('clients')
        .addColumn('require_par', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('authorization_codes').addColumn('dpop_jkt', 'text').execute();
      await db.schema.alterTable('refresh_tokens').addColumn('dpop_jkt', 'text').execute();
      await db.schema.alterTable('access_tokens').addColumn('cnf', 'text').execute();
      await db.schema
        .createTable('pushed_authorization_requests')
        .addColumn('request_uri_hash', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('parameters', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0005_client_auth_token_exchange': {
    async up(db: Kysely<unknown>) {
      // Keys and certificate identity for private_key_jwt and mutual TLS (JSON), and the token exchange policy.
      await db.schema
        .alterTable('clients')
        .addColumn('authentication', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
      await db.schema.alterTable('clients').addColumn('token_exchange', 'text').execute();
    },
  },
  /**
   * Change counters for in-process caches on several nodes (storage/postgres.ts): one row per topic,
   * bumped in the transaction of each write to that topic. Created on SQLite too (one migration set), where
   * `PRAGMA data_version` does the same job for free and the rows are never bumped.
   */
  '0006_change_counters': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('gatehouse_changes')
        .addColumn('topic', 'text', (c) => c.primaryKey())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .execute();
      await (db as Kysely<{ gatehouse_changes: { topic: string; version: number } }>)
        .insertInto('gatehouse_changes')
        .values([
          { topic: 'clients', version: 0 },
          { topic: 'revocations', version: 0 },
        ])
        .execute();
    },
  },
  /** The FAPI 2.0 profile of one client (protocol/profile.ts); null follows the server's profile. */
  '0007_client_profile': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('clients').addColumn('profile', 'text').execute();
    },
  },
  /** Browsers that signed in to an account before, which failed logins elsewhere never lock out. */
  '0008_known_browsers': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('known_browsers')
        .addColumn('browser_hash', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('known_browsers_pk', ['browser_hash', 'user_id'])
        .execute();
    },
  },
  /** Disabled accounts (accounts/accounts.ts): null while the account may sign in. */
  '0009_user_disabled': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('users').addColumn('disabled_at', 'bigint').execute();
    },
  },
  /**
   * OpenID Connect Core §5.5: the `claims` request parameter of an authorization, kept (JSON, null when
   * none) with its grant (userinfo), codes and refresh tokens (ID tokens, refreshed ones too); and the
   * claims of an opaque access token beyond the fixed columns (configured per API, the claims hook, `scp`).
   */
  '0011_claims_request': {
    async up(db: Kysely<unknown>) {
      for (const table of ['grants', 'authorization_codes', 'refresh_tokens'])
        await db.schema.alterTable(table).addColumn('claims_request', 'text').execute();
      await db.schema.alterTable('access_tokens').addColumn('claims', 'text').execute();
    },
  },
  /**
   * Refresh tokens carry their family's absolute expiry beside their own idle expiry (tokens/user-tokens.ts);
   * tokens issued before keep the one expiry they had. Clients hold up to two secrets with expiries
   * (protocol/client-secrets.ts): the one secret_hash becomes the first, never expiring. secret_hash stays,
   * written but not read, for nodes of the previous release during a rolling upgrade.
   */
  '0012_lifetimes_secrets': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('refresh_tokens')
        .addColumn('absolute_expires_at', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`update refresh_tokens set absolute_expires_at = expires_at`.execute(db);
      await db.schema
        .alterTable('clients')
        .addColumn('secrets', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema.alterTable('clients').addColumn('refresh_token_lifetime', 'text').execute();
      // Hashes are base64url (no character JSON would escape); || concatenates on SQLite and PostgreSQL.
      await sql`update clients set secrets = '[{"hash":"' || secret_hash || '","expiresAt":null}]' where secret_hash is not null`.execute(
        db,
      );
    },
  },
  /**
   * CIBA Core 1.0: authentication requests, found by the hash of `auth_req_id` (the token endpoint) or of
   * the approval link's token (the approval page); and a client's CIBA metadata (JSON, null without CIBA).
   */
  '0014_ciba': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('backchannel_requests')
        .addColumn('auth_req_id_hash', 'text', (c) => c.primaryKey())
        .addColumn('approval_hash', 'text', (c) => c.notNull().unique())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('hinted_user_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('acr_values', 'text', (c) => c.notNull())
        .addColumn('binding_message', 'text')
        .addColumn('delivery_mode', 'text', (c) => c.notNull())
        .addColumn('client_notification_token', 'text')
        .addColumn('ping_auth_req_id', 'text')
        .addColumn('interval', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('last_polled_at', 'bigint')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('auth_time', 'bigint')
        .addColumn('amr', 'text')
        .addColumn('sid', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('backchannel_requests_expires_at')
        .on('backchannel_requests')
        .column('expires_at')
        .execute();
      await db.schema.alterTable('clients').addColumn('backchannel_authentication', 'text').execute();
    },
  },
  /**
   * Multi-factor authentication (sessions/mfa.ts): clients that require a second factor, one TOTP factor
   * per account (RFC 6238, with the last time step used) and recovery codes stored as hashes.
   */
  '0013_mfa': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('clients')
        .addColumn('require_mfa', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('mfa_totp')
        .addColumn('user_id', 'text', (c) => c.primaryKey())
        .addColumn('secret', 'text')
        .addColumn('confirmed_at', 'bigint')
        .addColumn('last_used_step', 'bigint')
        .addColumn('pending_secret', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('mfa_recovery_codes')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('code_hash', 'text', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('mfa_recovery_codes_pk', ['user_id', 'code_hash'])
        .execute();
    },
  },
  /**
   * RFC 7592 §1: a dynamically registered client's registration access token, stored as a SHA-256 hash
   * (protocol/registration.ts); null for clients from the config file or the CLI.
   */
  '0016_registration': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('clients').addColumn('registration_access_token_hash', 'text').execute();
    },
  },
  /**
   * Upstream identity providers (sessions/upstream.ts): the local account each upstream `sub` signs in as,
   * and the sign-ins waiting for an upstream's answer (by the hash of their `state`).
   */
  '0017_upstream': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('upstream_identities')
        .addColumn('upstream_id', 'text', (c) => c.notNull())
        .addColumn('upstream_subject', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('upstream_identities_pk', ['upstream_id', 'upstream_subject'])
        .execute();
      await db.schema
        .createIndex('upstream_identities_user')
        .on('upstream_identities')
        .column('user_id')
        .execute();
      await db.schema
        .createTable('upstream_logins')
        .addColumn('state_hash', 'text', (c) => c.primaryKey())
        .addColumn('upstream_id', 'text', (c) => c.notNull())
        .addColumn('interaction_id', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('code_verifier', 'text', (c) => c.notNull())
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  /**
   * WebAuthn (sessions/webauthn.ts): the credentials of accounts (passkeys and security keys, several per
   * account) and the challenges of ceremonies under way, taken once.
   */
  '0018_webauthn': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('webauthn_credentials')
        .addColumn('credential_id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('counter', 'bigint', (c) => c.notNull())
        .addColumn('transports', 'text', (c) => c.notNull())
        .addColumn('backup_eligible', 'integer', (c) => c.notNull())
        .addColumn('backup_state', 'integer', (c) => c.notNull())
        .addColumn('discoverable', 'integer', (c) => c.notNull())
        .addColumn('nickname', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('webauthn_credentials_user')
        .on('webauthn_credentials')
        .column('user_id')
        .execute();
      await db.schema
        .createTable('webauthn_challenges')
        .addColumn('challenge_hash', 'text', (c) => c.primaryKey())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('binding', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('webauthn_challenges_expires_at')
        .on('webauthn_challenges')
        .column('expires_at')
        .execute();
    },
  },
  /**
   * Linking an upstream identity to an existing account (sessions/upstream-link.ts): the link waiting for
   * the user's proof, one per interaction; and the upstream's `amr`/`acr` of a session it started.
   */
  '0021_upstream_linking': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('upstream_pending_links')
        .addColumn('interaction_id', 'text', (c) => c.primaryKey())
        .addColumn('upstream_id', 'text', (c) => c.notNull())
        .addColumn('upstream_subject', 'text', (c) => c.notNull())
        .addColumn('upstream_sid', 'text')
        .addColumn('upstream_amr', 'text', (c) => c.notNull())
        .addColumn('upstream_acr', 'text')
        .addColumn('offered_user_id', 'text')
        .addColumn('proven_user_id', 'text')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.alterTable('sessions').addColumn('upstream', 'text').execute();
    },
  },
  /**
   * Local sessions started by an upstream sign-in (sessions/upstream-logout.ts): the upstream's `sub` and
   * `sid` that its back-channel logout tokens name, and its ID token (sealed) for RP-initiated logout there.
   */
  '0022_upstream_sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('upstream_sessions')
        .addColumn('sid', 'text', (c) => c.primaryKey())
        .addColumn('upstream_id', 'text', (c) => c.notNull())
        .addColumn('upstream_subject', 'text', (c) => c.notNull())
        .addColumn('upstream_sid', 'text')
        .addColumn('id_token', 'text')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('upstream_sessions_subject')
        .on('upstream_sessions')
        .columns(['upstream_id', 'upstream_subject'])
        .execute();
    },
  },
  /**
   * A client an operator has disabled (admin/clients.ts) from `disabled_at` (epoch seconds); null while it
   * may be used. Written only by ClientRepository.setDisabled, never by a save.
   */
  '0019_client_disabled': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('clients').addColumn('disabled_at', 'bigint').execute();
    },
  },
  /** The upstream providers a stored client's sign-in page offers (sessions/upstream-providers.ts): a JSON list of ids. */
  '0024_client_upstreams': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('clients')
        .addColumn('upstreams', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
    },
  },
  /**
   * API scopes and API resources added over the admin API (admin/api-catalog.ts); the config file's are
   * not stored. `definition` is the resource in the file's fields (JSON, without a secret), `secret_hash`
   * the SHA-256 of its introspection secret. Writes bump the `catalog` change counter (postgres.ts).
   */
  '0025_api_resources': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_scopes')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_resources')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await (db as Kysely<{ gatehouse_changes: { topic: string; version: number } }>)
        .insertInto('gatehouse_changes')
        .values({ topic: 'catalog', version: 0 })
        .execute();
    },
  },
};

const provider: MigrationProvider = {
  getMigrations: async () => migrations,
};

/**
 * True when the migration table lists every migration: most starts and every CLI command find nothing to
 * do, and one read says so without the Migrator's introspection of every table. False when the table is
 * missing (a new store) or anything is pending; the Migrator then does the work under its rules.
 */
async function allApplied(db: Kysely<unknown>, schema: string | undefined): Promise<boolean> {
  const typed = db as Kysely<{ gatehouse_migrations: { name: string } }>;
  try {
    const rows = await (schema === undefined ? typed : typed.withSchema(schema))
      .selectFrom('gatehouse_migrations')
      .select('name')
      .execute();
    const applied = new Set(rows.map((row) => row.name));
    return Object.keys(migrations).every((name) => applied.has(name));
  } catch {
    return false;
  }
}

/**
 * Applies every pending migration; throws with the failing migration's name. On PostgreSQL `schema` pins
 * Kysely's bookkeeping tables to Gatehouse's schema (without it Kysely would take a same-named table in any
 * schema for its own). Migrations were written on parallel branches, so their names need not arrive in
 * order: a database that already ran a later-named one still gets an earlier-named newcomer.
 * `inCallersTransaction` is for a caller that already holds a transaction (and the lock) around the run.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  options: { schema?: string; inCallersTransaction?: boolean } = {},
): Promise<string[]> {
  const { schema, inCallersTransaction = false } = options;
  if (await allApplied(db, schema)) return [];
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'gatehouse_migrations',
    migrationLockTableName: 'gatehouse_migrations_lock',
    allowUnorderedMigrations: true,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
    disableTransactions: inCallersTransaction,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${(error as Error).message}`);
  }
  return (results ?? [])
    .filter((result) => result.status === 'Success')
    .map((result) => result.migrationName);
}
