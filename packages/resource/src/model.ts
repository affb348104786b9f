/**
 * The values passed between the verifier's parts: the request as an adapter describes it, the verified
 * token as route handlers and policies see it, the result handed back, and what one attempt records for
 * logs and metrics.
 */
import type { AuthError } from './errors.ts';

/** What a verified access token grants, as seen by route handlers and policies. */
export interface AuthInfo {
  /** Every claim of the token (JWT payload or introspection answer), verified. */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly subject: string | undefined;
  readonly clientId: string | undefined;
  readonly scopes: ReadonlySet<string>;
  /** The `roles` claim (RFC 9068 §2.2.3.1), empty when absent. */
  readonly roles: readonly string[];
  readonly format: 'jwt' | 'opaque';
  /** How the token is sender-constrained, if it is. */
  readonly binding: 'dpop' | 'mtls' | undefined;
  /** Seconds since the epoch, or undefined for an opaque token without `exp`. */
  readonly expiresAt: number | undefined;
}

/** A request, as adapters describe it to the verifier. */
export interface AuthRequest {
  method: string;
  /** The path with the query string, as received. */
  path: string;
  /** Lower-case header names; Node's IncomingHttpHeaders fits. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** `Host` and protocol, used for DPoP `htu` when `publicUrl` is not set. */
  host?: string | undefined;
  protocol?: 'http' | 'https' | undefined;
  /** The parsed body, for form-body tokens when enabled. */
  body?: unknown;
  /** The DER client certificate of a mutual-TLS connection. */
  clientCertificate?: Buffer | undefined;
  remoteAddress?: string | undefined;
}

export type AuthResult =
  | { ok: true; auth: AuthInfo; headers: Readonly<Record<string, string>> }
  | {
      ok: false;
      error: AuthError;
      status: number;
      headers: Readonly<Record<string, string>>;
      body: { error: string; error_description: string; scope?: string };
    };

/** A refused request: status, challenge headers and JSON body. */
export type Refusal = Extract<AuthResult, { ok: false }>;

/** The token a request presents and the scheme it used (RFC 6750 §2.1 Bearer, RFC 9449 §7.1 DPoP). */
export interface PresentedToken {
  token: string;
  scheme: 'bearer' | 'dpop';
}

/** What one authentication attempt learns on its way, for the failure log and the metrics event. */
export interface Attempt {
  /** The client the token claims, for logs (unverified until the signature is checked). */
  claimedClient?: string | undefined;
  cached: boolean;
  format?: 'jwt' | 'opaque' | undefined;
}

/** The verifier's answer when nothing is to be added to the response. */
export const noHeaders: Readonly<Record<string, string>> = Object.freeze({});
