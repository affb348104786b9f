/** Public API of @gatehouse/server. */

export type { Account, AccountStore, ClaimsRequest } from './accounts/accounts.ts';
export { profileClaims } from './accounts/accounts.ts';
export { ConfigError, loadConfigFile, parseConfig } from './config/load.ts';
export type { GatehouseConfig } from './config/schema.ts';
export type { Clock } from './context.ts';
export type { BackchannelNotification, BackchannelNotifier } from './protocol/backchannel-notification.ts';
export {
  type BuildOptions,
  buildServer,
  createGatehouse,
  type Gatehouse,
  type GatehouseOptions,
  type GatehouseServer,
} from './server.ts';
export type { ClaimsHook, ClaimsHookContext } from './tokens/claims-hook.ts';
export { escapeHtml, type PageUi, page, type Theme } from './views/html.ts';
export type { MessageKey, Translator } from './views/i18n.ts';
export { defaultPages, type PageTemplates } from './views/templates.ts';
