/**
 * The FAPI 2.0 Security Profile as a switch, server-wide or per client (a client can only be made
 * stricter than the server). It requires: pushed authorization requests (§5.3.2.2 point 1,
 * protocol/authorization-request.ts); sender-constrained tokens by DPoP or mTLS (§5.3.2.1 point 5,
 * endpoints/token.ts); private_key_jwt or mTLS client authentication (§5.3.2.1 points 3-4), checked again
 * at /token for clients stored before the switch; PS256 or ES256 only (§5.4.1, `fapi2Algorithms` in
 * config/clients.ts; EdDSA, also allowed by §5.4.1, is left out as the stricter choice). PKCE S256, `iss`
 * (RFC 9207) and codes of at most 60 s hold on every profile. Refresh rotation (§5.3.2.1 point 8) can be
 * turned off for sender-constrained confidential clients. Client assertions of profile clients live at most
 * `fapi2AssertionMaxLifetime` (the profile sets no number; the stricter choice, as for EdDSA).
 */
import { fapi2Algorithms, fapi2AuthMethods } from '../config/clients.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import type { Client } from '../model.ts';
import { OAuthError } from './errors.ts';
import type { TokenBinding } from './token-binding.ts';

/** Seconds a FAPI 2.0 client's assertion may live (`clientAuth.assertionMaxLifetime` can only lower it). */
export const fapi2AssertionMaxLifetime = 300;

/** True when the profile applies to this client (server-wide or for the client alone). */
export function isFapi2(
  config: Pick<GatehouseConfig, 'profile'>,
  client: { profile?: string | null | undefined },
): boolean {
  return config.profile === 'fapi2' || client.profile === 'fapi2';
}

/**
 * FAPI 2.0 checks of an authenticated client at /par and /token: strong client authentication, and a DPoP
 * proof (when one was sent) signed with ES256 or PS256.
 */
export function assertFapi2Client(
  client: Pick<Client, 'tokenEndpointAuthMethod'>,
  dpopAlg: string | undefined,
): void {
  if (!fapi2AuthMethods.includes(client.tokenEndpointAuthMethod))
    throw new OAuthError(
      'invalid_client',
      'the FAPI 2.0 profile requires private_key_jwt or mutual TLS client authentication',
    );
  if (dpopAlg !== undefined && !fapi2Algorithms.includes(dpopAlg))
    throw new OAuthError(
      'invalid_dpop_proof',
      'the FAPI 2.0 profile accepts DPoP proofs signed with ES256 or PS256 only',
    );
}

/** The token endpoint's FAPI 2.0 checks: those of `assertFapi2Client`, and a sender-constrained request. */
export function assertFapi2TokenRequest(
  client: Pick<Client, 'tokenEndpointAuthMethod'>,
  binding: TokenBinding,
  dpopAlg: string | undefined,
): void {
  assertFapi2Client(client, dpopAlg);
  if (binding.jkt === undefined && binding.x5tS256 === undefined)
    throw new OAuthError(
      'invalid_request',
      'the FAPI 2.0 profile requires sender-constrained tokens: send a DPoP proof or use mutual TLS',
    );
}
