/** Public API of @gatehouse/server. */
export { ConfigError, loadConfigFile, parseConfig } from './config/load.ts';
export type { GatehouseConfig } from './config/schema.ts';
export type { Clock } from './context.ts';
export { type BuildOptions, buildServer, type GatehouseServer } from './server.ts';
export type { ClaimsHook, ClaimsHookContext } from './tokens/claims-hook.ts';
