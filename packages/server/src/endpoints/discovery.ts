/**
 * Metadata: OpenID Connect Discovery 1.0 §3 at /.well-known/openid-configuration and RFC 8414 §3 at
 * /.well-known/oauth-authorization-server. Lists only what the server really supports; parameters whose
 * OpenID default is "supported" (request_uri_parameter_supported) are stated explicitly as false.
 */

import type { FastifyReply, FastifyRequest } from 'fastify';
import { cibaGrantType, fapi2Algorithms } from '../config/clients.ts';
import type { ServerContext } from '../context.ts';
import { grantHandlers } from '../grants/registry.ts';
import { acrValuesSupported } from '../protocol/acr.ts';

function discoveryDocument(ctx: ServerContext): Record<string, unknown> {
  const alg = ctx.config.keys.algorithm;
  // Mutual TLS is offered only when a client certificate can reach the server (RFC 8705 §2.3, §3.3).
  const mtls = ctx.config.server.tls !== undefined || ctx.config.mtls.trustedProxyHeader !== undefined;
  // Under the FAPI 2.0 profile (protocol/profile.ts) only what the profile allows is offered.
  const fapi2 = ctx.config.profile === 'fapi2';
  const authMethods = [
    ...(fapi2 ? [] : ['client_secret_basic', 'client_secret_post']),
    'private_key_jwt',
    ...(mtls ? ['tls_client_auth', 'self_signed_tls_client_auth'] : []),
  ];
  const publicClients = fapi2 ? [] : ['none'];
  const fapi2Only = <T extends string>(algs: readonly T[]) =>
    fapi2 ? algs.filter((value) => fapi2Algorithms.includes(value)) : algs;
  const assertionAlgs = fapi2Only(ctx.config.clientAuth.signingAlgorithms);
  const claims = new Set([
    'sub',
    'iss',
    'aud',
    'exp',
    'iat',
    'auth_time',
    'nonce',
    'acr',
    'amr',
    'azp',
    'sid',
    'at_hash',
  ]);
  for (const resource of ctx.catalog.identityScopes.values())
    for (const claim of resource.claims) claims.add(claim);
  return {
    issuer: ctx.issuer,
    authorization_endpoint: ctx.endpoints.authorization,
    token_endpoint: ctx.endpoints.token,
    userinfo_endpoint: ctx.endpoints.userinfo,
    jwks_uri: ctx.endpoints.jwks,
    introspection_endpoint: ctx.endpoints.introspection,
    revocation_endpoint: ctx.endpoints.revocation,
    device_authorization_endpoint: ctx.endpoints.deviceAuthorization,
    // RFC 9126 §5.
    pushed_authorization_request_endpoint: ctx.endpoints.pushedAuthorizationRequest,
    require_pushed_authorization_requests: ctx.config.par.required || fapi2,
    scopes_supported: ctx.catalog.allScopes(),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // The CIBA grant only with its endpoint (below): without a notifier no auth_req_id can exist.
    grant_types_supported: [...grantHandlers.keys()].filter(
      (grantType) => grantType !== cibaGrantType || ctx.backchannelNotifier !== undefined,
    ),
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [alg],
    token_endpoint_auth_methods_supported: [...authMethods, ...publicClients],
    token_endpoint_auth_signing_alg_values_supported: assertionAlgs,
    introspection_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_signing_alg_values_supported: assertionAlgs,
    revocation_endpoint_auth_methods_supported: [...authMethods, ...publicClients],
    revocation_endpoint_auth_signing_alg_values_supported: assertionAlgs,
    ...(mtls ? { tls_client_certificate_bound_access_tokens: true } : {}),
    introspection_signing_alg_values_supported: [alg],
    code_challenge_methods_supported: ['S256'],
    // RFC 9449 §5.1.
    dpop_signing_alg_values_supported: fapi2Only(ctx.config.dpop.algorithms),
    claims_supported: [...claims],
    // OpenID Connect Core §5.5 (protocol/claims-request.ts): claims of identity scopes, one by one.
    claims_parameter_supported: true,
    // OpenID Connect Discovery 1.0 §3 (protocol/acr.ts): a password, and a password with a second factor.
    acr_values_supported: acrValuesSupported(ctx.config),
    // OpenID Connect Core §6: no request objects; /authorize answers request_not_supported and, for any
    // request_uri not issued by /par (RFC 9126, announced above), request_uri_not_supported.
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    prompt_values_supported: ['none', 'login', 'consent'],
    // OpenID Connect Discovery 1.0 §3: the languages of the pages (`ui_locales` picks among them).
    ui_locales_supported: ctx.ui.locales,
    authorization_response_iss_parameter_supported: true,
    // OpenID Connect RP-Initiated Logout 1.0 §3.1 and Back-Channel Logout 1.0 §2.1: every logout token
    // carries `sid`. Front-channel logout is not offered.
    end_session_endpoint: ctx.endpoints.endSession,
    // OpenID Connect CIBA Core §4: poll and ping (push is not offered), no user codes, no signed requests;
    // the endpoint is announced only when a notifier can reach users.
    ...(ctx.backchannelNotifier === undefined
      ? {}
      : {
          backchannel_authentication_endpoint: ctx.endpoints.backchannelAuthentication,
          backchannel_token_delivery_modes_supported: ['poll', 'ping'],
          backchannel_user_code_parameter_supported: false,
        }),
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    frontchannel_logout_supported: false,
    frontchannel_logout_session_supported: false,
    // RFC 8414 §2, RFC 7591 §3: dynamic client registration, when it is on.
    ...(ctx.config.registration.enabled ? { registration_endpoint: ctx.endpoints.registration } : {}),
    // OAuth Client ID Metadata Document draft: an https URL client_id names the client's metadata.
    ...(ctx.config.clientIdMetadataDocuments.enabled ? { client_id_metadata_document_supported: true } : {}),
  };
}

/**
 * Serves the metadata document, built at start-up and again when the scope catalogue changes (its
 * `scopes_supported`, admin/api-catalog.ts); cacheable for five minutes.
 */
export function discoveryEndpoint(ctx: ServerContext) {
  let built = { generation: ctx.catalog.generation, document: JSON.stringify(discoveryDocument(ctx)) };
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    if (built.generation !== ctx.catalog.generation)
      built = { generation: ctx.catalog.generation, document: JSON.stringify(discoveryDocument(ctx)) };
    reply.header('cache-control', 'public, max-age=300').type('application/json').send(built.document);
  };
}
