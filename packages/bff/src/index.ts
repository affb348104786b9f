/**
 * Public API of @gatehouse/bff: a backend-for-frontend for single-page apps (tokens stay on the server,
 * the browser holds one HttpOnly cookie). Adapters: `@gatehouse/bff/express`, `@gatehouse/bff/fastify`.
 * See README.md.
 */
export { type ApiRoute, Bff, type BffOptions, createBff, type SessionData } from './bff.ts';
export { backchannelLogoutEvent, type LogoutTokenClaims, LogoutTokenValidator } from './logout-token.ts';
export { upstreamUrl } from './proxy.ts';
export { PostgresSessionStore } from './stores/postgres.ts';
export { RedisSessionStore } from './stores/redis.ts';
export { SqliteSessionStore } from './stores/sqlite.ts';
export { MemorySessionStore, type SessionStore, type StoredRecord } from './stores/store.ts';
