/**
 * Public API of @gatehouse/bff: a backend-for-frontend for single-page apps (tokens stay on the server,
 * the browser holds one HttpOnly cookie). Adapters: `@gatehouse/bff/express`, `@gatehouse/bff/fastify`.
 * Session stores beyond memory: `@gatehouse/bff/sqlite`, `/postgres`, `/redis` (each needs its driver).
 * See README.md.
 */

export { backchannelLogoutEvent, type LogoutTokenClaims, LogoutTokenValidator } from '@gatehouse/client';
export { Bff, createBff } from './bff.ts';
export type { ApiRoute, BffOptions } from './context.ts';
export { upstreamUrl } from './proxy.ts';
export type { SessionData } from './session.ts';
export { MemorySessionStore, type SessionStore, type StoredRecord } from './stores/store.ts';
