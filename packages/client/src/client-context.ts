/**
 * What the requests to the authorization server need from the client that sends them: its registration
 * (`client_id`, client authentication, DPoP key), the server's metadata (RFC 8414 §2) and keys, the HTTP
 * settings and the clock. {@link OAuthClient} builds one and passes it to each request module.
 */
import type { ClientAuthentication } from './client-auth.ts';
import type { Clock } from './clock.ts';
import type { ServerMetadata } from './discovery.ts';
import type { DPoPKey } from './dpop.ts';
import { GatehouseClientError } from './errors.ts';
import type { HttpOptions } from './http.ts';
import type { IssuerRule, JwksCache } from './id-token.ts';

export interface ClientContext {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientAuthentication: ClientAuthentication;
  /** Binds tokens to this key with DPoP (RFC 9449). */
  readonly dpop: DPoPKey | undefined;
  readonly http: HttpOptions;
  readonly clock: Clock;
  /** Seconds of clock skew accepted when validating ID Tokens. */
  readonly clockTolerance: number;
  /** Replaces the comparison of an ID Token's `iss` with `issuer` (multi-tenant servers). */
  readonly issuerRule: IssuerRule | undefined;
  /** The server's metadata (discovered once and cached). */
  metadata(): Promise<ServerMetadata>;
  /** The issuer's JWKS, cached for `jwksMaxAge`. */
  jwksCache(): Promise<JwksCache>;
}

/** The URL of an endpoint the server advertises; `unsupported` when it advertises none. */
export async function endpointUrl(
  context: ClientContext,
  name: keyof ServerMetadata & `${string}_endpoint`,
): Promise<string> {
  const url = (await context.metadata())[name];
  if (typeof url !== 'string') {
    throw new GatehouseClientError('unsupported', `${context.issuer} does not advertise ${name}`);
  }
  return url;
}

/** A response member that must be a string, else `undefined`. */
export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
