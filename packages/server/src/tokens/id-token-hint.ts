/**
 * Verifies an `id_token_hint` (OpenID Connect RP-Initiated Logout 1.0 §2, §4; Core §3.1.2.1): an ID token
 * this server issued (`typ: JWT`, so access and logout tokens are refused), signed by a key we still
 * publish, with our `iss`, a string `sub` and one client as audience. Expiry is deliberately not checked:
 * §2 lets an RP send an expired ID token. Any failure yields undefined: the hint counts as not supplied (§4).
 */
import type { ServerContext } from '../context.ts';
import { verifyOwnJwt } from './validate.ts';

export interface IdTokenHint {
  sub: string;
  /** The client the ID token was issued to. */
  clientId: string;
  sid: string | undefined;
}

/** The client an ID token was issued to: a single `aud`, or `azp` when `aud` is a list that holds it. */
function audienceClient(claims: Record<string, unknown>): string | undefined {
  const { aud, azp } = claims;
  if (typeof aud === 'string') return aud;
  if (!Array.isArray(aud)) return undefined;
  if (aud.length === 1 && typeof aud[0] === 'string') return aud[0];
  return typeof azp === 'string' && aud.includes(azp) ? azp : undefined;
}

export function verifyIdTokenHint(ctx: ServerContext, token: string | undefined): IdTokenHint | undefined {
  const claims = token === undefined ? undefined : verifyOwnJwt(ctx, token, 'JWT');
  if (claims === undefined || typeof claims.sub !== 'string') return undefined;
  const clientId = audienceClient(claims);
  if (clientId === undefined) return undefined;
  return { sub: claims.sub, clientId, sid: typeof claims.sid === 'string' ? claims.sid : undefined };
}
