/**
 * The verifier's options, their defaults and their checks: a bad value (a clock skew over 30 seconds, no
 * audience, an unsupported algorithm, a negative number) throws a TypeError naming the option when the
 * verifier is created, never on a request.
 */
import { type DpopNonceSource, type DpopSettings, HmacNonceSource } from './dpop.ts';
import type { AuthErrorCode } from './errors.ts';
import { isSupportedAlgorithm, type JwsAlgorithm, normalizeMediaType, supportedAlgorithms } from './jws.ts';
import type { FetchLike } from './remote.ts';
import { MemoryReplayStore, type ReplayStore } from './replay.ts';
import type { ResourceMetadataOptions } from './resource-metadata.ts';

export interface IntrospectionOptions {
  /** The introspection endpoint; taken from the issuer's metadata when omitted. */
  endpoint?: string;
  /** The identifier the API authenticates with (Gatehouse: the API resource id). */
  clientId: string;
  clientSecret: string;
  /** Seconds an active answer is reused at most (default 60); 0 disables the cache. */
  cacheTtl?: number;
}

export interface DpopOptions {
  /** Refuse tokens that are not DPoP-bound (default false: both Bearer and DPoP are accepted). */
  required?: boolean;
  /** Proof algorithms accepted (default ES256, ES384, EdDSA, RS256, PS256). */
  algorithms?: JwsAlgorithm[];
  /** Seconds a proof is accepted after its `iat` (default 60). */
  proofMaxAge?: number;
  /** Where proof `jti`s are remembered (default in memory; use RedisReplayStore across instances). */
  replayStore?: ReplayStore;
  /** Require server nonces (RFC 9449 §9): true for per-process HMAC nonces, or a nonce source. */
  nonce?: boolean | DpopNonceSource;
}

/** Fields of a failed-authentication log entry; never contains the token. */
export interface FailureLogEntry {
  event: 'access_token_rejected';
  reason: AuthErrorCode;
  error: string;
  status: number;
  description: string;
  /** The `client_id` the token claims; not verified when the token was refused before its signature. */
  client_id: string | undefined;
  method: string;
  path: string;
  ip: string | undefined;
}

/** A pino-compatible logger: only `warn(fields, message)` is used. */
export interface Logger {
  warn(fields: FailureLogEntry, message: string): void;
}

/** Reported to `onAuthentication` once per request, for metrics. */
export interface AuthEvent {
  outcome: 'success' | 'failure';
  status: number;
  reason: AuthErrorCode | undefined;
  clientId: string | undefined;
  format: 'jwt' | 'opaque' | undefined;
  /** True when the token came from the verified-token or introspection cache. */
  cached: boolean;
}

export interface VerifierOptions {
  /** The issuer, compared exactly with `iss`; its metadata gives the JWKS and introspection URIs. */
  issuer: string;
  /** The audience this API accepts (one of them must be in `aud`). */
  audience: string | string[];
  /** The JWKS URI, skipping discovery. */
  jwksUri?: string;
  /** Static keys, skipping any fetch. */
  jwks?: { keys: unknown[] };
  /** Access-token signature algorithms accepted (default: all supported asymmetric ones). */
  algorithms?: JwsAlgorithm[];
  /** Accepted JWT `typ` values (default `at+jwt`, RFC 9068 §2.1); `false` skips the check. */
  typ?: string | string[] | false;
  /** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (default 10, at most 30). */
  clockSkew?: number;
  /** Refuse tokens older than this many seconds since `iat`. */
  maxTokenAge?: number;
  /** Claims that must be present besides `iss`, `aud` and `exp` (e.g. `sub`, `client_id`). */
  requiredClaims?: string[];
  /** Seconds the JWKS is fresh before a background refresh (default 600). */
  jwksCacheTtl?: number;
  /** Minimum seconds between JWKS fetches caused by unknown `kid`s (default 30). */
  jwksCooldown?: number;
  /** Set to check opaque tokens by introspection (RFC 7662). */
  introspection?: IntrospectionOptions;
  /** Verify JWTs locally (default true); false sends every token to introspection. */
  acceptJwt?: boolean;
  /** DPoP settings (on by default with an in-memory replay store); false refuses DPoP-bound tokens. */
  dpop?: DpopOptions | false;
  /**
   * Where access-token signatures are checked: `threadpool` (default) runs node:crypto's verify in the
   * libuv thread pool, off the event loop, so verifications run in parallel with request handling;
   * `sync` verifies on the event loop (lower latency when idle, one core at most).
   */
  signatureVerification?: 'threadpool' | 'sync';
  /** Verified-token cache size (default 10000 entries); 0 disables it. */
  cacheSize?: number;
  /** Longest token accepted, in characters (default 8192). */
  maxTokenLength?: number;
  /** Accept `access_token` in a form-encoded body (RFC 6750 §2.2; default false). */
  allowFormBodyToken?: boolean;
  /**
   * RFC 9728 protected resource metadata: served by the adapters at the well-known URL of `resource`
   * (without authentication) and named in every challenge as `resource_metadata`.
   */
  resourceMetadata?: ResourceMetadataOptions;
  /** The `realm` of challenges (default: the first audience). */
  realm?: string;
  /** The API's public origin, e.g. `https://api.example.com`, for DPoP `htu` checks behind proxies. */
  publicUrl?: string;
  /** Where failures are logged (default: one JSON line on stderr); false disables logging. */
  logger?: Logger | false;
  /** Called once per authenticated request, for metrics. Exceptions are ignored. */
  onAuthentication?: (event: AuthEvent) => void;
  /** Seconds since the epoch (default: the system clock). */
  now?: () => number;
  /** The fetch used for metadata, JWKS and introspection (default: global fetch). */
  fetch?: FetchLike;
  /** Timeout of each outbound request in milliseconds (default 5000). */
  timeoutMs?: number;
}

/** DPoP as the verifier applies it: the proof rules of RFC 9449 §4.3 and whether Bearer is refused. */
export interface DpopPolicy extends DpopSettings {
  required: boolean;
}

/** The options with every default applied and every value checked. */
export interface VerifierSettings {
  issuer: string;
  audiences: readonly string[];
  /** Seconds of clock skew on every time check. */
  skew: number;
  algorithms: readonly JwsAlgorithm[];
  /** Accepted `typ` values, normalised; undefined skips the check. */
  types: readonly string[] | undefined;
  requiredClaims: readonly string[];
  maxTokenAge: number | undefined;
  now: () => number;
  fetcher: FetchLike;
  timeoutMs: number;
  maxTokenLength: number;
  acceptJwt: boolean;
  allowFormBodyToken: boolean;
  publicUrl: string | undefined;
  logger: Logger | undefined;
  onAuthentication: ((event: AuthEvent) => void) | undefined;
  realm: string;
  cacheSize: number;
  threadPool: boolean;
  dpop: DpopPolicy | undefined;
  /** Minimum seconds between metadata or JWKS fetches after a failure or an unknown `kid`. */
  cooldown: number;
  jwksCacheTtl: number;
  introspectionCacheTtl: number;
}

const defaultDpopAlgorithms: JwsAlgorithm[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];
const maxClockSkew = 30;

const defaultLogger: Logger = {
  warn(fields, message) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...fields })}\n`);
  },
};

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a number >= 0`);
  return value;
}

function dpopPolicyOf(options: DpopOptions | false | undefined, skew: number): DpopPolicy | undefined {
  if (options === false) return undefined;
  const dpop = options ?? {};
  return {
    required: dpop.required ?? false,
    algorithms: dpop.algorithms ?? defaultDpopAlgorithms,
    proofMaxAge: positive('dpop.proofMaxAge', dpop.proofMaxAge, 60),
    skew,
    replayStore: dpop.replayStore ?? new MemoryReplayStore(),
    nonces:
      dpop.nonce === true
        ? new HmacNonceSource()
        : dpop.nonce === false || dpop.nonce === undefined
          ? undefined
          : dpop.nonce,
  };
}

/** Applies the defaults and checks every value; throws a TypeError naming the first bad option. */
export function resolveSettings(options: VerifierOptions): VerifierSettings {
  if (typeof options.issuer !== 'string' || options.issuer === '') throw new TypeError('issuer is required');
  const audiences = Array.isArray(options.audience) ? [...options.audience] : [options.audience];
  if (audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === ''))
    throw new TypeError('audience is required');
  const skew = positive('clockSkew', options.clockSkew, 10);
  if (skew > maxClockSkew) throw new TypeError(`clockSkew must be at most ${maxClockSkew} seconds`);
  const algorithms = options.algorithms ?? [...supportedAlgorithms];
  for (const alg of algorithms) {
    if (!isSupportedAlgorithm(alg)) throw new TypeError(`algorithm ${String(alg)} is not supported`);
  }
  const types =
    options.typ === false
      ? undefined
      : (Array.isArray(options.typ) ? options.typ : [options.typ ?? 'at+jwt']).map(normalizeMediaType);
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 5000);
  const maxTokenLength = positive('maxTokenLength', options.maxTokenLength, 8192);
  const acceptJwt = options.acceptJwt ?? true;
  const cacheSize = positive('cacheSize', options.cacheSize, 10_000);
  const dpop = dpopPolicyOf(options.dpop, skew);
  const cooldown = positive('jwksCooldown', options.jwksCooldown, 30);
  const remoteKeys = options.jwks === undefined && acceptJwt;
  const jwksCacheTtl = remoteKeys ? positive('jwksCacheTtl', options.jwksCacheTtl, 600) : 600;
  return {
    issuer: options.issuer,
    audiences,
    skew,
    algorithms,
    types,
    requiredClaims: options.requiredClaims ?? [],
    maxTokenAge: options.maxTokenAge,
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
    fetcher: options.fetch ?? ((input, init) => fetch(input, init)),
    timeoutMs,
    maxTokenLength,
    acceptJwt,
    allowFormBodyToken: options.allowFormBodyToken === true,
    publicUrl: options.publicUrl,
    logger: options.logger === false ? undefined : (options.logger ?? defaultLogger),
    onAuthentication: options.onAuthentication,
    realm: options.realm ?? audiences[0]!,
    cacheSize,
    threadPool: options.signatureVerification !== 'sync',
    dpop,
    cooldown,
    jwksCacheTtl,
    introspectionCacheTtl: positive('introspection.cacheTtl', options.introspection?.cacheTtl, 60),
  };
}
