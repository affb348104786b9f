/**
 * The FAPI 2.0 Security Profile (https://openid.net/specs/fapi-security-profile-2_0-final.html) as a
 * switch: `profile: fapi2` in the config applies it to every client, `profile: fapi2` on a client to that
 * client only (a client can only be made stricter than the server, never looser). What it enforces, and
 * where:
 *
 * - Pushed authorization requests (§5.3.2.2 point 1): /authorize refuses a request that was not pushed
 *   (endpoints/authorize.ts), and discovery advertises `require_pushed_authorization_requests` when the
 *   whole server runs the profile.
 * - PKCE with S256 (§5.3.2.2 point 2): always on in Gatehouse, for every client.
 * - Sender-constrained access tokens (§5.3.2.1 point 5, §5.3.3): every token request must be bound by a
 *   DPoP proof or a client certificate (mutual TLS); a bearer request is `invalid_request`
 *   (endpoints/token.ts).
 * - Confidential clients authenticated with private_key_jwt or mutual TLS only (§5.3.2.1 points 3-4):
 *   refused at config load and by `gatehouse client add`, and checked again at the token endpoint for
 *   clients stored before the profile was switched on.
 * - `iss` in authorization responses (§5.3.2.2 point 7, RFC 9207): always sent by Gatehouse.
 * - Authorization codes live at most 60 s (§5.3.2.1 point 9): `tokens.authorizationCodeTtl` cannot be
 *   configured above 60 on any profile.
 * - Signing algorithms PS256 or ES256 (§5.4.1, `fapi2Algorithms` in config/schema.ts): the server's signing
 *   key, client assertions and DPoP proofs of profile clients. (The final profile also allows EdDSA with
 *   Ed25519; the issue that introduced this switch asks for ES256 or PS256 only, the stricter choice, and
 *   EdDSA support in relying-party libraries is still uneven.)
 * - Refresh-token rotation (§5.3.2.1 point 8 says it shall not be used "except in extraordinary
 *   circumstances"): with `tokens.rotateSenderConstrainedRefreshTokens: false`, a confidential client whose
 *   refresh request is sender-constrained keeps its refresh token (grants/refresh-token.ts). Rotation stays
 *   the default because it is what OAuth 2.1 asks of public clients and costs a confidential client little.
 */
import { fapi2Algorithms, fapi2AuthMethods, type GatehouseConfig } from '../config/schema.ts';
import type { Client } from '../model.ts';
import { OAuthError } from './errors.ts';
import type { TokenBinding } from './token-binding.ts';

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
