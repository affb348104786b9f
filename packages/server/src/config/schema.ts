/**
 * Configuration schema: one file (JSON or YAML), validated at start-up with typed defaults.
 * A bad value stops the server with a message naming the field (see load.ts). The sections live in
 * document.ts and the modules it names; the cross-field checks in checks.ts.
 */
import type * as z from 'zod';
import { checkConfig } from './checks.ts';
import { configDocumentSchema } from './document.ts';
import { withAdminApi } from './resources.ts';

export { certificateSettingsProblems } from './checks.ts';
export {
  type LogFormat,
  logFormats,
  profiles,
  type SigningAlgorithm,
  signingAlgorithms,
} from './document.ts';
export { adminAudience, adminScopes } from './resources.ts';
export { logoContentTypes } from './ui.ts';

export const configSchema = configDocumentSchema.transform(withAdminApi).superRefine(checkConfig);

export type GatehouseConfig = z.infer<typeof configSchema>;
export type ClientConfig = GatehouseConfig['clients'][number];
export type ApiResourceConfig = GatehouseConfig['apiResources'][number];
