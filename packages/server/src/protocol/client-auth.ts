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

export interface PresentedCredentials {
  clientId: string;
  secret: string | undefined;
  method: Client['tokenEndpointAuthMethod'];
}

/** Reads the credentials a request presents, refusing requests that use two methods at once. */
export function presentedCredentials(
  authorization: string | undefined,
  params: Params,
): PresentedCredentials {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  if (authorization !== undefined) {
    if (bodySecret !== undefined) throw invalidClient('more than one client authentication method used');
    const { clientId, secret } = parseBasic(authorization);
    if (bodyId !== undefined && bodyId !== clientId)
      throw invalidClient('client_id does not match the Authorization header');
    return { clientId, secret, method: 'client_secret_basic' };
  }
  if (bodySecret !== undefined) {
    if (bodyId === undefined) throw invalidClient('client_id is required with client_secret');
    return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' };
  }
  if (bodyId !== undefined) return { clientId: bodyId, secret: undefined, method: 'none' };
  throw invalidClient('client authentication is required');
}

/** Compares a presented secret with a stored SHA-256 hash in constant time (a missing hash still costs a hash). */
export function secretMatches(secret: string, storedHash: string | null | undefined): boolean {
  const matches = constantTimeEqual(sha256Base64Url(secret), storedHash ?? unknownClientHash);
  return matches && storedHash !== null && storedHash !== undefined;
}

export async function authenticateClient(
  authorization: string | undefined,
  params: Params,
  findClient: FindClient,
): Promise<Client> {
  return verifyClientCredentials(presentedCredentials(authorization, params), findClient);
}

export async function verifyClientCredentials(
  credentials: PresentedCredentials,
  findClient: FindClient,
): Promise<Client> {
  const client = await findClient(credentials.clientId);
  if (credentials.secret !== undefined && !secretMatches(credentials.secret, client?.secretHash)) {
    throw invalidClient('client authentication failed');
  }
  if (client === undefined) throw invalidClient('client authentication failed');
  if (client.tokenEndpointAuthMethod !== credentials.method) {
    throw invalidClient(`client must authenticate with ${client.tokenEndpointAuthMethod}`);
  }
  return client;
}
