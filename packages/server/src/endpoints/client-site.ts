/**
 * The client's site an HTML error page may link back to: the origin of the redirect URI of a registered
 * client, recorded once an endpoint has verified that request (the interaction pages). Without it the error
 * page links to the issuer's start page. Only http(s) origins qualify (a native app's custom scheme does not).
 */
import type { FastifyRequest } from 'fastify';
import type { Client } from '../model.ts';

export interface ClientSite {
  href: string;
  name: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The site of the verified client this request is for, when an endpoint has established it. */
    clientSite?: ClientSite | undefined;
  }
}

export function trustClientSite(request: FastifyRequest, client: Client, redirectUri: string): void {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return;
  request.clientSite = { href: `${url.origin}/`, name: client.name };
}
