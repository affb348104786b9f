/** Public API of @gatehouse/server. */
export { ConfigError, loadConfigFile, parseConfig } from './config/load.ts';
export type { GatehouseConfig } from './config/schema.ts';
export type { Clock } from './context.ts';
export { type BuildOptions, buildServer, type GatehouseServer } from './server.ts';
export { escapeHtml, type PageUi, page, type Theme } from './views/html.ts';
export type { MessageKey, Translator } from './views/i18n.ts';
export { defaultPages, type PageTemplates } from './views/templates.ts';
