/**
 * The grant registry contract (RFC 6749 §4, §6): each grant type is one module exporting a handler. The
 * token endpoint authenticates the client, looks the handler up by `grant_type`, checks the client is
 * registered for it, and renders whatever the handler returns or throws.
 */
import type { ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import type { Params } from '../protocol/params.ts';
import type { TokenBinding } from '../protocol/token-binding.ts';
import type { TokenResponse } from '../tokens/token-response.ts';

export interface GrantHandler {
  grantType: string;
  handle(ctx: ServerContext, client: Client, params: Params, binding: TokenBinding): Promise<TokenResponse>;
}
