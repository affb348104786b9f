/**
 * The grant registry contract (RFC 6749 §4, §6): each grant type is one module exporting a handler. The
 * token endpoint authenticates the client, looks the handler up by `grant_type`, checks the client is
 * registered for it, and renders whatever the handler returns or throws.
 */
import type { ServerContext } from '../context.ts';
import type { Params } from '../protocol/params.ts';
import type { Client } from '../storage/repositories.ts';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

export interface GrantHandler {
  grantType: string;
  handle(ctx: ServerContext, client: Client, params: Params): Promise<TokenResponse>;
}
