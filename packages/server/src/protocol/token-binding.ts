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
