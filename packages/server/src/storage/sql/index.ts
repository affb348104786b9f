/**
 * The SQL repositories over one Kysely instance or transaction. Writes that caches elsewhere depend on
 * (clients, revocations, the API catalog) call their change listener inside their transaction (storage/index.ts), which on
 * PostgreSQL bumps a counter other nodes read (postgres.ts). The queries the login and token flows run on
 * every request are built and compiled once (compiled.ts); the rest are built per call.
 */
import type { Repositories } from '../ports.ts';
import { SqlAccessTokenRepository } from './access-tokens.ts';
import { SqlApiCatalogRepository } from './api-catalog.ts';
import { SqlAuthorizationCodeRepository } from './authorization-codes.ts';
import { SqlBackchannelRequestRepository } from './backchannel-requests.ts';
import { SqlClientRepository } from './clients.ts';
import { SqlConsentRepository } from './consents.ts';
import type { ChangeListener, Db } from './db.ts';
import { SqlDeviceCodeRepository } from './device-codes.ts';
import { SqlGrantRepository } from './grants.ts';
import { SqlInteractionRepository } from './interactions.ts';
import { SqlKnownBrowserRepository } from './known-browsers.ts';
import { SqlMfaRepository } from './mfa.ts';
import { SqlPushedAuthorizationRequestRepository } from './pushed-authorization-requests.ts';
import { SqlRefreshTokenRepository } from './refresh-tokens.ts';
import { SqlRevocationRepository } from './revocations.ts';
import { SqlSessionRepository } from './sessions.ts';
import { SqlSigningKeyRepository } from './signing-keys.ts';
import { SqlUpstreamSessionRepository } from './upstream-sessions.ts';
import { SqlUpstreamRepository } from './upstreams.ts';
import { SqlUserRepository } from './users.ts';
import { SqlWebAuthnRepository } from './webauthn.ts';

export interface ChangeListeners {
  clients: ChangeListener;
  revocations: ChangeListener;
  catalog: ChangeListener;
}

export function sqlRepositories(db: Db, changed: ChangeListeners): Repositories {
  return {
    clients: new SqlClientRepository(db, changed.clients),
    users: new SqlUserRepository(db),
    sessions: new SqlSessionRepository(db),
    interactions: new SqlInteractionRepository(db),
    knownBrowsers: new SqlKnownBrowserRepository(db),
    mfa: new SqlMfaRepository(db),
    webauthn: new SqlWebAuthnRepository(db),
    consents: new SqlConsentRepository(db),
    grants: new SqlGrantRepository(db, changed.revocations),
    authorizationCodes: new SqlAuthorizationCodeRepository(db),
    refreshTokens: new SqlRefreshTokenRepository(db),
    signingKeys: new SqlSigningKeyRepository(db),
    deviceCodes: new SqlDeviceCodeRepository(db),
    backchannelRequests: new SqlBackchannelRequestRepository(db),
    accessTokens: new SqlAccessTokenRepository(db),
    pushedAuthorizationRequests: new SqlPushedAuthorizationRequestRepository(db),
    revocations: new SqlRevocationRepository(db, changed.revocations),
    upstreams: new SqlUpstreamRepository(db),
    upstreamSessions: new SqlUpstreamSessionRepository(db),
    apiCatalog: new SqlApiCatalogRepository(db, changed.catalog),
  };
}
