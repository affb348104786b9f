/**
 * The verifier: everything an API needs to accept an access token, strict by default. `createVerifier`
 * checks the options once and composes the parts, each in the module named for its RFC: token
 * extraction (RFC 6750 §2), JWT access tokens (RFC 9068, RFC 8725), introspection (RFC 7662), claim
 * checks (RFC 7519 §4.1), sender binding (RFC 9449, RFC 8705), policies, and the refusal (RFC 6750 §3).
 */
import { createRequestAuthenticator } from './authenticate.ts';
import { createBindingCheck } from './binding.ts';
import { createClaimChecks } from './claims.ts';
import { type AuthError, invalidToken } from './errors.ts';
import { createIntrospectionVerifier } from './introspection.ts';
import { type KeySource, RemoteKeySource, StaticKeySource } from './jwks.ts';
import { createJwtVerifier } from './jwt-access-token.ts';
import type { Attempt, AuthInfo, AuthRequest, AuthResult, Refusal } from './model.ts';
import { resolveSettings, type VerifierOptions, type VerifierSettings } from './options.ts';
import { createOutcomes } from './outcome.ts';
import type { Policy } from './policies.ts';
import { endpointFrom, issuerMetadata } from './remote.ts';
import {
  type ResourceMetadata,
  type ResourceMetadataResponse,
  resolveResourceMetadata,
  resourceMetadataResponse,
} from './resource-metadata.ts';
import { createTokenExtractor } from './token-extraction.ts';

export interface Verifier {
  /**
   * Authenticates a request: extracts the token, verifies it, checks its sender binding, then applies
   * `policies`. Never throws; a refusal comes back as a result with status, headers and body.
   */
  authenticate(request: AuthRequest, ...policies: Policy[]): Promise<AuthResult>;
  /** Verifies a token alone (no sender-binding checks); throws AuthError. */
  verifyAccessToken(token: string): Promise<AuthInfo>;
  /** Builds the refusal (status, challenge, body) for an error found outside the verifier. */
  refuse(error: AuthError): Refusal;
  /**
   * `authenticate` without the promise when nothing asynchronous is needed (the keys are loaded and the
   * token is not sender-constrained): adapters use it to answer without an extra microtask.
   */
  authenticateMaybeSync(request: AuthRequest, policies: readonly Policy[]): AuthResult | Promise<AuthResult>;
  /** Applies policies to an already authenticated request. */
  authorize(auth: AuthInfo, policies: readonly Policy[], request?: AuthRequest): AuthResult;
  /** RFC 9728 protected resource metadata, when `resourceMetadata` is configured. */
  readonly resourceMetadata: ResourceMetadata | undefined;
  /**
   * The framework-free metadata handler: the answer to a GET or HEAD of the metadata's path, or undefined
   * for any other request (and always when no metadata is configured).
   */
  resourceMetadataResponse(method: string, path: string): ResourceMetadataResponse | undefined;
}

/** Static keys, or the JWKS at `jwksUri` or in the issuer's metadata; none when JWTs are not accepted. */
function keySourceOf(
  options: VerifierOptions,
  settings: VerifierSettings,
  metadata: () => Promise<Record<string, unknown>>,
): KeySource | undefined {
  if (options.jwks !== undefined) return new StaticKeySource(options.jwks);
  if (!settings.acceptJwt) return undefined;
  const configuredUri = options.jwksUri;
  return new RemoteKeySource({
    jwksUri: async () => configuredUri ?? endpointFrom(await metadata(), 'jwks_uri', settings.issuer),
    fetch: settings.fetcher,
    now: settings.now,
    ttl: settings.jwksCacheTtl,
    cooldown: settings.cooldown,
    timeoutMs: settings.timeoutMs,
    onError: () => {},
  });
}

/**
 * Creates a verifier. Nothing is fetched until the first token arrives; configuration errors (a skew over
 * 30 seconds, no audience, no key source) throw at once.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const settings = resolveSettings(options);
  const { now, timeoutMs, maxTokenLength, acceptJwt } = settings;
  // Metadata: fetched once, on first need, only from the configured issuer.
  const metadata = issuerMetadata(settings.fetcher, settings.issuer, timeoutMs, now, settings.cooldown);
  const keys = keySourceOf(options, settings, metadata);
  const claims = createClaimChecks(settings);
  const verifyJwt = keys === undefined ? undefined : createJwtVerifier(settings, keys, claims);
  const verifyOpaque = createIntrospectionVerifier(options.introspection, settings, metadata, claims);

  /** A token with two dots is a JWT when JWTs are accepted; anything else goes to introspection. */
  function verifyToken(token: string, attempt: Attempt): AuthInfo | Promise<AuthInfo> {
    if (token.length > maxTokenLength) throw invalidToken('token_too_large', 'the token is too large');
    if (acceptJwt && verifyJwt !== undefined) {
      const dots = token.indexOf('.');
      if (dots > 0 && token.indexOf('.', dots + 1) > dots) return verifyJwt(token, attempt);
    }
    return verifyOpaque(token, attempt);
  }

  const resourceMetadata = resolveResourceMetadata(options.resourceMetadata, settings);
  const outcomes = createOutcomes(settings, resourceMetadata?.url);
  const { authenticateMaybeSync, authorize } = createRequestAuthenticator({
    extractToken: createTokenExtractor({
      maxTokenLength,
      dpop: settings.dpop !== undefined,
      allowFormBodyToken: settings.allowFormBodyToken,
    }),
    verifyToken,
    checkBinding: createBindingCheck(settings.dpop, settings.publicUrl),
    outcomes,
    settings,
  });

  return {
    authenticate: async (request, ...policies) => authenticateMaybeSync(request, policies),
    authenticateMaybeSync,
    authorize,
    refuse: (error) => outcomes.refuse(error),
    resourceMetadata,
    resourceMetadataResponse: (method, path) => resourceMetadataResponse(resourceMetadata, method, path),
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      return verifyToken(token, { cached: false });
    },
  };
}
