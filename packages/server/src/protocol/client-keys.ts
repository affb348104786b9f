/**
 * A client's registered public keys (RFC 7591 §2: `jwks` inline or `jwks_uri`), for `private_key_jwt`
 * (RFC 7523) and `self_signed_tls_client_auth` (RFC 8705 §2.2). Failures are `invalid_client`.
 */
import type { ServerContext } from '../context.ts';
import type { Client } from '../model.ts';
import type { JsonWebKeySet } from './client-jwks.ts';
import { invalidClient } from './errors.ts';

/** The client's registered keys: inline, or fetched from its jwks_uri (`refresh` asks for a newer copy). */
async function clientKeys(
  ctx: ServerContext,
  client: Client,
  refresh: boolean,
): Promise<{ jwks: JsonWebKeySet; fresh: boolean }> {
  const { jwks, jwksUri } = client.authentication;
  if (jwks !== undefined) return { jwks, fresh: true };
  if (jwksUri === undefined) throw invalidClient('the client has no registered keys');
  try {
    return await ctx.clientJwks.get(jwksUri, refresh);
  } catch {
    ctx.audit('client_jwks_unavailable', { client_id: client.clientId });
    throw invalidClient("the client's keys could not be fetched from its jwks_uri");
  }
}

/**
 * Runs `match` on the client's registered keys; when nothing matched and the keys came from a cached copy
 * of its jwks_uri, once more on a fresh copy (the client may have rotated its keys; the cache limits how
 * often that fetch can be forced).
 */
export async function withRegisteredKeys<T>(
  ctx: ServerContext,
  client: Client,
  match: (jwks: JsonWebKeySet) => Promise<T | undefined>,
): Promise<T | undefined> {
  const cached = await clientKeys(ctx, client, false);
  const found = await match(cached.jwks);
  if (found !== undefined || cached.fresh) return found;
  const refreshed = await clientKeys(ctx, client, true);
  return refreshed.fresh ? match(refreshed.jwks) : undefined;
}
