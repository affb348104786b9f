/**
 * Client authentication at the token endpoint (RFC 6749 §2.3.1, §5.2; OAuth 2.1 §2.4).
 * Methods: client_secret_basic, client_secret_post and none (public clients). A client must use the one
 * method it is registered for; a request that uses two methods is rejected. Secrets are compared as
 * SHA-256 hashes in constant time, and an unknown client costs the same hash as a known one.
 */
import type { Client } from '../storage/repositories.ts';
import { OAuthError } from './errors.ts';
import type { Params } from './params.ts';
import { constantTimeEqual, sha256Base64Url } from './secrets.ts';

const unknownClientHash = sha256Base64Url('unknown-client-placeholder');

function invalidClient(description: string): OAuthError {
  return new OAuthError('invalid_client', description, { challenge: 'Basic' });
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before being put in the Basic header. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw invalidClient('malformed Basic credentials');
  }
}

function parseBasic(header: string): { clientId: string; secret: string } {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  if (!match) throw invalidClient('malformed Basic credentials');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw invalidClient('malformed Basic credentials');
  return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

export type FindClient = (clientId: string) => Promise<Client | undefined>;

export async function authenticateClient(
  authorization: string | undefined,
  params: Params,
  findClient: FindClient,
): Promise<Client> {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  let clientId: string;
  let secret: string | undefined;
  let method: Client['tokenEndpointAuthMethod'];

  if (authorization !== undefined) {
    if (bodySecret !== undefined) throw invalidClient('more than one client authentication method used');
    ({ clientId, secret } = parseBasic(authorization));
    if (bodyId !== undefined && bodyId !== clientId)
      throw invalidClient('client_id does not match the Authorization header');
    method = 'client_secret_basic';
  } else if (bodySecret !== undefined) {
    if (bodyId === undefined) throw invalidClient('client_id is required with client_secret');
    clientId = bodyId;
    secret = bodySecret;
    method = 'client_secret_post';
  } else if (bodyId !== undefined) {
    clientId = bodyId;
    method = 'none';
  } else {
    throw invalidClient('client authentication is required');
  }

  const client = await findClient(clientId);
  if (secret !== undefined) {
    const matches = constantTimeEqual(sha256Base64Url(secret), client?.secretHash ?? unknownClientHash);
    if (client === undefined || client.secretHash === null || !matches)
      throw invalidClient('client authentication failed');
  }
  if (client === undefined) throw invalidClient('client authentication failed');
  if (client.tokenEndpointAuthMethod !== method) {
    throw invalidClient(`client must authenticate with ${client.tokenEndpointAuthMethod}`);
  }
  return client;
}
