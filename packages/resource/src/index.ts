/**
 * @gatehouse/resource: access-token validation for APIs (RFC 9068 JWTs, RFC 7662 introspection, RFC 9449
 * DPoP, RFC 8705 certificate binding, RFC 6750 errors, RFC 9728 protected resource metadata),
 * framework-neutral. Adapters live in
 * `@gatehouse/resource/express`, `/fastify` and `/fetch`.
 */

export { type DpopNonceSource, HmacNonceSource, jwkThumbprint } from './dpop.ts';
export { AuthError, type AuthErrorCode, type AuthErrorKind, type StepUpRequirement } from './errors.ts';
export type { JwsAlgorithm } from './jws.ts';
export type { AuthInfo, AuthRequest, AuthResult } from './model.ts';
export type {
  AuthEvent,
  DpopOptions,
  FailureLogEntry,
  IntrospectionOptions,
  Logger,
  VerifierOptions,
} from './options.ts';
export {
  allOf,
  anyOf,
  type Policy,
  requireAcr,
  requireAnyRole,
  requireAnyScope,
  requireAuthTime,
  requireClaims,
  requireRoles,
  requireScopes,
} from './policies.ts';
export { type RedisLike, RedisReplayStore, type RedisReplayStoreOptions } from './redis.ts';
export type { FetchLike } from './remote.ts';
export { MemoryReplayStore, type ReplayStore } from './replay.ts';
export {
  type ResourceMetadata,
  type ResourceMetadataOptions,
  type ResourceMetadataResponse,
  resourceMetadataUrl,
} from './resource-metadata.ts';
export { createVerifier, type Verifier } from './verifier.ts';
