/**
 * The grant registry contract (RFC 6749 §4, §6): each grant type is one module exporting a handler. The
 * token endpoint authenticates the client, looks the handler up by `grant_type`, checks the client is
 * registered for it, and renders whatever the handler returns or throws.
 */
import type { ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import type { Params } from '../protocol/params.ts';

/**
 * What a token request proved possession of, to bind the issued tokens to it (`cnf`, RFC 7800): the
 * thumbprint of a DPoP key (RFC 9449 §6, `jkt`) or of a client certificate (RFC 8705 §3.1, `x5t#S256`).
 * Empty for bearer tokens.
 */
export interface TokenBinding {
  jkt?: string | undefined;
  x5tS256?: string | undefined;
}

export const bearer: TokenBinding = Object.freeze({});

export interface TokenResponse {
  access_token: string;
  /** `DPoP` when the access token is bound to a DPoP key (RFC 9449 §5), else `Bearer`. */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
  /** RFC 8693 §2.2.1: the type of the token a token exchange issued. */
  issued_token_type?: string;
}

export interface GrantHandler {
  grantType: string;
  handle(ctx: ServerContext, client: Client, params: Params, binding: TokenBinding): Promise<TokenResponse>;
}
