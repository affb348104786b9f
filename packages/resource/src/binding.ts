/**
 * Sender-constrained access tokens: a token is used the way its `cnf` claim (RFC 7800 §3.1) binds it.
 * `x5t#S256` names the mutual-TLS client certificate (RFC 8705 §3); `jkt` names the key of a DPoP proof
 * sent with the DPoP scheme (RFC 9449 §7.1-§7.2, §6.1), whose `htu` is this request's URL and whose `ath`
 * covers the token.
 */
import { createHash } from 'node:crypto';
import { verifyDpopProof } from './dpop.ts';
import { invalidToken } from './errors.ts';
import type { AuthInfo, AuthRequest, PresentedToken } from './model.ts';
import type { DpopPolicy } from './options.ts';

/** The confirmation members this library checks: a JWK thumbprint and a certificate thumbprint. */
export function confirmationOf(claims: Record<string, unknown>): { jkt?: string; x5t?: string } {
  const cnf = claims.cnf;
  if (typeof cnf !== 'object' || cnf === null) return {};
  const record = cnf as Record<string, unknown>;
  return {
    ...(typeof record.jkt === 'string' ? { jkt: record.jkt } : {}),
    ...(typeof record['x5t#S256'] === 'string' ? { x5t: record['x5t#S256'] } : {}),
  };
}

/** Checks that a verified token is presented the way it is bound; throws AuthError. */
export type BindingCheck = (
  auth: AuthInfo,
  presented: PresentedToken,
  request: AuthRequest,
  at: number,
) => Promise<void>;

/**
 * The binding check of one verifier. `publicUrl` replaces the request's own scheme and host in the URL
 * a DPoP proof's `htu` must match (RFC 9449 §4.3 point 9), for APIs behind a proxy.
 */
export function createBindingCheck(
  dpop: DpopPolicy | undefined,
  publicUrl: string | undefined,
): BindingCheck {
  const origin = publicUrl?.replace(/\/$/, '');

  /** The request URL without its query (RFC 9449 §4.3 point 9 ignores query and fragment). */
  function requestUrl(request: AuthRequest): string {
    const queryAt = request.path.indexOf('?');
    const path = queryAt >= 0 ? request.path.slice(0, queryAt) : request.path;
    if (origin !== undefined) return `${origin}${path}`;
    return `${request.protocol ?? 'http'}://${request.host ?? 'localhost'}${path}`;
  }

  return async function checkBinding(auth, presented, request, at) {
    const cnf = confirmationOf(auth.claims as Record<string, unknown>);
    if (cnf.x5t !== undefined) {
      const certificate = request.clientCertificate;
      const thumbprint =
        certificate === undefined || certificate.length === 0
          ? undefined
          : createHash('sha256').update(certificate).digest('base64url');
      if (thumbprint !== cnf.x5t) {
        throw invalidToken('mtls_binding', 'the token is bound to another client certificate');
      }
    }
    if (cnf.jkt === undefined) {
      if (presented.scheme === 'dpop') throw invalidToken('wrong_scheme', 'the token is not DPoP-bound');
      if (dpop?.required === true) throw invalidToken('dpop_binding', 'a DPoP-bound token is required');
      return;
    }
    if (dpop === undefined) throw invalidToken('dpop_binding', 'DPoP-bound tokens are not accepted');
    if (presented.scheme !== 'dpop') {
      throw invalidToken('wrong_scheme', 'a DPoP-bound token must be sent with the DPoP scheme');
    }
    await verifyDpopProof(
      {
        proof: request.headers.dpop,
        method: request.method,
        url: requestUrl(request),
        accessToken: presented.token,
        jkt: cnf.jkt,
        now: at,
      },
      dpop,
    );
  };
}
