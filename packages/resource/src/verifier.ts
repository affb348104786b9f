/**
 * The verifier: everything an API needs to accept an access token, strict by default.
 *
 * - JWT access tokens per RFC 9068 §4 with the JWT BCP (RFC 8725 §3): `typ` `at+jwt` (§2.1), an allowed
 *   asymmetric `alg` matched to the key type, `kid` looked up only in the JWKS, `jku`/`x5u`/`x5c`/`jwk`
 *   headers never used, any `crit` rejected (RFC 7515 §4.1.11), `iss` exact, `aud` containing the
 *   configured audience, `exp` required, `nbf` and `iat` honoured (RFC 7519 §4.1), a clock skew of at most
 *   30 seconds.
 * - Opaque tokens by introspection (RFC 7662), when configured.
 * - Sender-constrained tokens: DPoP (RFC 9449 §7) and mutual-TLS certificate binding (RFC 8705 §3).
 * - Bearer tokens only from the Authorization header (RFC 6750 §2.1); the form body (§2.2) only when
 *   enabled; the query string (§2.3) refused.
 * - Refusals as RFC 6750 §3 / RFC 9449 §7.1 challenges; failures logged without the token.
 *
 * Verified tokens are cached by the SHA-256 of the token until their `exp`, so repeated calls skip the
 * signature check; the first verification of a token is one ES256 verify with a KeyObject imported once.
 */
import { createHash } from 'node:crypto';
import { ExpiringCache, tokenHash } from './cache.ts';
import { challengeHeader } from './challenge.ts';
import { type DpopNonceSource, HmacNonceSource, verifyDpopProof } from './dpop.ts';
import { AuthError, type AuthErrorCode, invalidToken } from './errors.ts';
import { basicCredentials, type IntrospectionOptions, introspect } from './introspection.ts';
import { type KeySource, RemoteKeySource, StaticKeySource } from './jwks.ts';
import {
  isSupportedAlgorithm,
  type JwsAlgorithm,
  keyMatchesAlgorithm,
  normalizeMediaType,
  parseCompactJws,
  supportedAlgorithms,
  type VerificationKey,
  verifySignature,
  verifySignatureAsync,
} from './jws.ts';
import type { Policy } from './policies.ts';
import { discoverMetadata, endpointFrom, type FetchLike, RemoteError } from './remote.ts';
import { MemoryReplayStore, type ReplayStore } from './replay.ts';

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

export interface Verifier {
  /**
   * Authenticates a request: extracts the token, verifies it, checks its sender binding, then applies
   * `policies`. Never throws; a refusal comes back as a result with status, headers and body.
   */
  authenticate(request: AuthRequest, ...policies: Policy[]): Promise<AuthResult>;
  /** Verifies a token alone (no sender-binding checks); throws AuthError. */
  verifyAccessToken(token: string): Promise<AuthInfo>;
  /** Builds the refusal (status, challenge, body) for an error found outside the verifier. */
  refuse(error: AuthError): Extract<AuthResult, { ok: false }>;
  /**
   * `authenticate` without the promise when nothing asynchronous is needed (the keys are loaded and the
   * token is not sender-constrained): adapters use it to answer without an extra microtask.
   */
  authenticateMaybeSync(request: AuthRequest, policies: readonly Policy[]): AuthResult | Promise<AuthResult>;
  /** Applies policies to an already authenticated request. */
  authorize(auth: AuthInfo, policies: readonly Policy[], request?: AuthRequest): AuthResult;
}

const defaultDpopAlgorithms: JwsAlgorithm[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];
const maxClockSkew = 30;
const noHeaders: Readonly<Record<string, string>> = Object.freeze({});

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

function scopesOf(claims: Record<string, unknown>): Set<string> {
  if (typeof claims.scope === 'string') return new Set(claims.scope.split(' ').filter((s) => s !== ''));
  if (Array.isArray(claims.scp)) return new Set(claims.scp.filter((s): s is string => typeof s === 'string'));
  return new Set();
}

function rolesOf(claims: Record<string, unknown>): string[] {
  return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
}

function confirmationOf(claims: Record<string, unknown>): { jkt?: string; x5t?: string } {
  const cnf = claims.cnf;
  if (typeof cnf !== 'object' || cnf === null) return {};
  const record = cnf as Record<string, unknown>;
  return {
    ...(typeof record.jkt === 'string' ? { jkt: record.jkt } : {}),
    ...(typeof record['x5t#S256'] === 'string' ? { x5t: record['x5t#S256'] } : {}),
  };
}

const token68 = /^[A-Za-z0-9\-._~+/]+=*$/;

function headerValue(headers: AuthRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Creates a verifier. Nothing is fetched until the first token arrives; configuration errors (a skew over
 * 30 seconds, no audience, no key source) throw at once.
 */
export function createVerifier(options: VerifierOptions): Verifier {
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
  const requiredClaims = options.requiredClaims ?? [];
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const fetcher: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 5000);
  const maxTokenLength = positive('maxTokenLength', options.maxTokenLength, 8192);
  const acceptJwt = options.acceptJwt ?? true;
  const logger = options.logger === false ? undefined : (options.logger ?? defaultLogger);
  const realm = options.realm ?? audiences[0]!;
  const cacheSize = positive('cacheSize', options.cacheSize, 10_000);
  const cache = new ExpiringCache<AuthInfo>(cacheSize);
  const cacheEnabled = cacheSize > 0;
  const threadPool = options.signatureVerification !== 'sync';

  const dpopOptions = options.dpop === false ? undefined : (options.dpop ?? {});
  const dpop =
    dpopOptions === undefined
      ? undefined
      : {
          required: dpopOptions.required ?? false,
          algorithms: dpopOptions.algorithms ?? defaultDpopAlgorithms,
          proofMaxAge: positive('dpop.proofMaxAge', dpopOptions.proofMaxAge, 60),
          skew,
          replayStore: dpopOptions.replayStore ?? new MemoryReplayStore(),
          nonces:
            dpopOptions.nonce === true
              ? new HmacNonceSource()
              : dpopOptions.nonce === false || dpopOptions.nonce === undefined
                ? undefined
                : dpopOptions.nonce,
        };
  const challengeSettings = {
    realm,
    bearer: dpop?.required !== true,
    dpopAlgorithms: dpop?.algorithms,
  };

  // Metadata: fetched once, on first need, only from the configured issuer.
  let metadata: Promise<Record<string, unknown>> | undefined;
  let metadataFailedAt = Number.NEGATIVE_INFINITY;
  const cooldown = positive('jwksCooldown', options.jwksCooldown, 30);
  const getMetadata = (): Promise<Record<string, unknown>> => {
    if (metadata === undefined) {
      if (now() - metadataFailedAt < cooldown) {
        return Promise.reject(new RemoteError('issuer metadata unavailable; waiting for the cooldown'));
      }
      metadata = discoverMetadata(fetcher, options.issuer, timeoutMs);
      metadata.catch(() => {
        metadata = undefined;
        metadataFailedAt = now();
      });
    }
    return metadata;
  };

  let keys: KeySource | undefined;
  if (options.jwks !== undefined) keys = new StaticKeySource(options.jwks);
  else if (acceptJwt) {
    const configuredUri = options.jwksUri;
    keys = new RemoteKeySource({
      jwksUri: async () => configuredUri ?? endpointFrom(await getMetadata(), 'jwks_uri', options.issuer),
      fetch: fetcher,
      now,
      ttl: positive('jwksCacheTtl', options.jwksCacheTtl, 600),
      cooldown,
      timeoutMs,
      onError: () => {},
    });
  }

  const introspection = options.introspection;
  const introspectionAuthorization =
    introspection === undefined
      ? undefined
      : basicCredentials(introspection.clientId, introspection.clientSecret);
  const introspectionCacheTtl = positive('introspection.cacheTtl', introspection?.cacheTtl, 60);
  const introspectionEndpoint = async (): Promise<string> =>
    introspection?.endpoint ?? endpointFrom(await getMetadata(), 'introspection_endpoint', options.issuer);

  /** The time checks of RFC 7519 §4.1.4-§4.1.6 with the skew; returns when the token stops being valid. */
  function checkTimes(claims: Record<string, unknown>, at: number, expRequired: boolean): number {
    const { exp, nbf, iat } = claims;
    if (exp === undefined) {
      if (expRequired) throw invalidToken('missing_claim', 'the token has no exp');
    } else if (typeof exp !== 'number' || !Number.isFinite(exp)) {
      throw invalidToken('malformed_token', 'exp is not a number');
    } else if (exp <= at - skew) {
      throw invalidToken('expired', 'the token has expired');
    }
    if (nbf !== undefined) {
      if (typeof nbf !== 'number' || !Number.isFinite(nbf))
        throw invalidToken('malformed_token', 'nbf is not a number');
      if (nbf > at + skew) throw invalidToken('not_yet_valid', 'the token is not valid yet');
    }
    let validUntil = typeof exp === 'number' ? exp + skew : Number.POSITIVE_INFINITY;
    if (iat !== undefined) {
      if (typeof iat !== 'number' || !Number.isFinite(iat))
        throw invalidToken('malformed_token', 'iat is not a number');
      if (iat > at + skew) throw invalidToken('issued_in_future', 'the token was issued in the future');
      if (options.maxTokenAge !== undefined) {
        if (iat < at - options.maxTokenAge - skew) throw invalidToken('expired', 'the token is too old');
        validUntil = Math.min(validUntil, iat + options.maxTokenAge + skew);
      }
    } else if (options.maxTokenAge !== undefined) {
      throw invalidToken('missing_claim', 'the token has no iat');
    }
    return validUntil;
  }

  function checkAudience(aud: unknown, required: boolean): void {
    if (aud === undefined && !required) return;
    if (typeof aud === 'string') {
      if (audiences.includes(aud)) return;
    } else if (Array.isArray(aud)) {
      if (aud.some((value) => typeof value === 'string' && audiences.includes(value))) return;
    }
    throw invalidToken('wrong_audience', 'the token is not meant for this resource');
  }

  function authInfoOf(claims: Record<string, unknown>, format: 'jwt' | 'opaque'): AuthInfo {
    const cnf = confirmationOf(claims);
    // Frozen: cached results are shared by every request presenting the same token.
    return Object.freeze({
      claims: Object.freeze(claims),
      subject: typeof claims.sub === 'string' ? claims.sub : undefined,
      clientId: typeof claims.client_id === 'string' ? claims.client_id : undefined,
      scopes: scopesOf(claims),
      roles: rolesOf(claims),
      format,
      binding: cnf.jkt !== undefined ? 'dpop' : cnf.x5t !== undefined ? 'mtls' : undefined,
      expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
    });
  }

  /** Tries each usable key in turn in the libuv thread pool, off the event loop (one promise per key). */
  function verifyWithAny(
    alg: JwsAlgorithm,
    usable: VerificationKey[],
    parsed: ReturnType<typeof parseCompactJws>,
    index = 0,
  ): Promise<Record<string, unknown>> {
    return verifySignatureAsync(alg, usable[index]!.key, parsed.signingInput, parsed.signature).then(
      (valid) => {
        if (valid) return parsed.payload;
        if (index + 1 < usable.length) return verifyWithAny(alg, usable, parsed, index + 1);
        throw invalidToken('bad_signature', 'the token signature is invalid');
      },
    );
  }

  /** Header checks, key lookup and signature; returns the verified payload, or a promise when keys load. */
  function verifyJws(
    parsed: ReturnType<typeof parseCompactJws>,
    retried: boolean,
  ): Record<string, unknown> | Promise<Record<string, unknown>> {
    const { header } = parsed;
    const alg = header.alg;
    if (!isSupportedAlgorithm(alg) || !algorithms.includes(alg)) {
      throw invalidToken('unsupported_alg', 'the token alg is not accepted');
    }
    if (
      types !== undefined &&
      (typeof header.typ !== 'string' || !types.includes(normalizeMediaType(header.typ)))
    ) {
      throw invalidToken('wrong_typ', `the token typ must be ${types.join(' or ')}`);
    }
    if (header.crit !== undefined)
      throw invalidToken('unknown_crit', 'the token has unsupported critical headers');
    const kid = header.kid;
    if (kid !== undefined && (typeof kid !== 'string' || kid.length > 512)) {
      throw invalidToken('malformed_token', 'the token kid is malformed');
    }
    if (keys === undefined) throw invalidToken('malformed_token', 'JWT access tokens are not accepted');
    const candidates = keys.lookup(kid);
    if (candidates === undefined) {
      return keys
        .reload('initial')
        .catch((error: Error) => {
          throw new AuthError(
            'temporarily_unavailable',
            'keys_unavailable',
            `the issuer keys are unavailable: ${error.message}`,
          );
        })
        .then(() => verifyJws(parsed, retried));
    }
    const usable = candidates.filter((key) => keyMatchesAlgorithm(key, alg));
    if (usable.length > 0) {
      if (!threadPool) {
        for (const key of usable) {
          if (verifySignature(alg, key.key, parsed.signingInput, parsed.signature)) return parsed.payload;
        }
        throw invalidToken('bad_signature', 'the token signature is invalid');
      }
      return verifyWithAny(alg, usable, parsed);
    }
    if (kid === undefined) throw invalidToken('bad_signature', 'the token signature is invalid');
    if (candidates.length > 0) throw invalidToken('bad_signature', 'the token alg does not match its key');
    if (retried) throw invalidToken('unknown_kid', 'the token key is unknown');
    return keys.reload('unknown_kid').then(
      (reloaded) => {
        if (!reloaded) throw invalidToken('unknown_kid', 'the token key is unknown');
        return verifyJws(parsed, true);
      },
      () => {
        throw invalidToken('unknown_kid', 'the token key is unknown');
      },
    );
  }

  function checkJwtClaims(payload: Record<string, unknown>, cacheKey: string | undefined): AuthInfo {
    const at = now();
    if (payload.iss !== options.issuer)
      throw invalidToken('wrong_issuer', 'the token issuer is not accepted');
    checkAudience(payload.aud, true);
    const validUntil = checkTimes(payload, at, true);
    for (const claim of requiredClaims) {
      if (payload[claim] === undefined) throw invalidToken('missing_claim', `the token has no ${claim}`);
    }
    const auth = authInfoOf(payload, 'jwt');
    if (cacheKey !== undefined) cache.set(cacheKey, auth, validUntil, at);
    return auth;
  }

  interface Attempt {
    /** The client the token claims, for logs (unverified until the signature is checked). */
    claimedClient?: string | undefined;
    cached: boolean;
    format?: 'jwt' | 'opaque' | undefined;
  }

  function verifyJwt(token: string, attempt: Attempt): AuthInfo | Promise<AuthInfo> {
    const cacheKey = cacheEnabled ? tokenHash(token) : undefined;
    if (cacheKey !== undefined) {
      const hit = cache.get(cacheKey, now());
      if (hit !== undefined) {
        attempt.cached = true;
        attempt.claimedClient = hit.clientId;
        return hit;
      }
    }
    const parsed = parseCompactJws(token);
    if (typeof parsed.payload.client_id === 'string') attempt.claimedClient = parsed.payload.client_id;
    const payload = verifyJws(parsed, false);
    if (payload instanceof Promise) return payload.then((verified) => checkJwtClaims(verified, cacheKey));
    return checkJwtClaims(payload, cacheKey);
  }

  const introspectionCache = new ExpiringCache<AuthInfo>(positive('cacheSize', options.cacheSize, 10_000));

  async function verifyOpaque(token: string, attempt: Attempt): Promise<AuthInfo> {
    if (introspection === undefined || introspectionAuthorization === undefined) {
      throw invalidToken('malformed_token', 'the token is not a JWT');
    }
    const cacheKey = tokenHash(token);
    const hit = introspectionCache.get(cacheKey, now());
    if (hit !== undefined) {
      attempt.cached = true;
      attempt.claimedClient = hit.clientId;
      return hit;
    }
    let answer: Record<string, unknown>;
    try {
      answer = await introspect(
        fetcher,
        await introspectionEndpoint(),
        introspectionAuthorization,
        token,
        timeoutMs,
      );
    } catch (error) {
      throw new AuthError(
        'temporarily_unavailable',
        'introspection_unavailable',
        `token introspection is unavailable: ${(error as Error).message}`,
      );
    }
    if (answer.active !== true) throw invalidToken('inactive', 'the token is not active');
    if (typeof answer.client_id === 'string') attempt.claimedClient = answer.client_id;
    if (answer.iss !== undefined && answer.iss !== options.issuer) {
      throw invalidToken('wrong_issuer', 'the token issuer is not accepted');
    }
    checkAudience(answer.aud, false);
    const at = now();
    const validUntil = checkTimes(answer, at, false);
    if (answer.token_type !== undefined && typeof answer.token_type === 'string') {
      const type = answer.token_type.toLowerCase();
      if (type !== 'bearer' && type !== 'dpop' && type !== 'access_token') {
        throw invalidToken('inactive', 'the token is not an access token');
      }
    }
    for (const claim of requiredClaims) {
      if (answer[claim] === undefined) throw invalidToken('missing_claim', `the token has no ${claim}`);
    }
    const auth = authInfoOf(answer, 'opaque');
    if (introspectionCacheTtl > 0)
      introspectionCache.set(cacheKey, auth, Math.min(validUntil, at + introspectionCacheTtl), at);
    return auth;
  }

  function verifyToken(token: string, attempt: Attempt): AuthInfo | Promise<AuthInfo> {
    if (token.length > maxTokenLength) throw invalidToken('token_too_large', 'the token is too large');
    if (acceptJwt && keys !== undefined) {
      const dots = token.indexOf('.');
      if (dots > 0 && token.indexOf('.', dots + 1) > dots) return verifyJwt(token, attempt);
    }
    return verifyOpaque(token, attempt);
  }

  interface Extracted {
    token: string;
    scheme: 'bearer' | 'dpop';
  }

  /** RFC 6750 §2: where the token may come from; throws for the query string and for ambiguity. */
  function extractToken(request: AuthRequest): Extracted | undefined {
    const queryAt = request.path.indexOf('?');
    if (queryAt >= 0 && request.path.includes('access_token', queryAt)) {
      const query = new URLSearchParams(request.path.slice(queryAt + 1));
      if (query.has('access_token')) {
        throw new AuthError(
          'invalid_request',
          'query_token',
          'access tokens in the query string are not accepted',
        );
      }
    }
    const authorization = headerValue(request.headers, 'authorization');
    let fromHeader: Extracted | undefined;
    if (authorization !== undefined) {
      if (authorization.length > maxTokenLength + 16) {
        throw invalidToken('token_too_large', 'the token is too large');
      }
      const space = authorization.indexOf(' ');
      const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
      if (scheme === 'bearer' || (scheme === 'dpop' && dpop !== undefined)) {
        const token = space < 0 ? '' : authorization.slice(space + 1).trim();
        if (!token68.test(token)) {
          throw new AuthError('invalid_request', 'malformed_header', 'the Authorization header is malformed');
        }
        fromHeader = { token, scheme };
      }
    }
    const body = request.body;
    if (
      options.allowFormBodyToken === true &&
      typeof body === 'object' &&
      body !== null &&
      request.method !== 'GET' &&
      headerValue(request.headers, 'content-type')
        ?.toLowerCase()
        .startsWith('application/x-www-form-urlencoded')
    ) {
      const value = (body as Record<string, unknown>).access_token;
      if (value !== undefined) {
        if (fromHeader !== undefined) {
          throw new AuthError(
            'invalid_request',
            'multiple_tokens',
            'only one way of sending the token is allowed',
          );
        }
        if (typeof value !== 'string' || !token68.test(value)) {
          throw new AuthError(
            'invalid_request',
            'malformed_header',
            'the access_token parameter is malformed',
          );
        }
        return { token: value, scheme: 'bearer' };
      }
    }
    return fromHeader;
  }

  function requestUrl(request: AuthRequest): string {
    const queryAt = request.path.indexOf('?');
    const path = queryAt >= 0 ? request.path.slice(0, queryAt) : request.path;
    if (options.publicUrl !== undefined) return `${options.publicUrl.replace(/\/$/, '')}${path}`;
    return `${request.protocol ?? 'http'}://${request.host ?? 'localhost'}${path}`;
  }

  /** RFC 9449 §7.1-§7.2 and RFC 8705 §3: the token is used the way it is bound. */
  async function checkBinding(auth: AuthInfo, extracted: Extracted, request: AuthRequest, at: number) {
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
      if (extracted.scheme === 'dpop') throw invalidToken('wrong_scheme', 'the token is not DPoP-bound');
      if (dpop?.required === true) throw invalidToken('dpop_binding', 'a DPoP-bound token is required');
      return;
    }
    if (dpop === undefined) throw invalidToken('dpop_binding', 'DPoP-bound tokens are not accepted');
    if (extracted.scheme !== 'dpop') {
      throw invalidToken('wrong_scheme', 'a DPoP-bound token must be sent with the DPoP scheme');
    }
    await verifyDpopProof(
      {
        proof: request.headers.dpop,
        method: request.method,
        url: requestUrl(request),
        accessToken: extracted.token,
        jkt: cnf.jkt,
        now: at,
      },
      dpop,
    );
  }

  function refuse(
    error: AuthError,
    scheme?: 'bearer' | 'dpop',
    noCredentials = false,
  ): Extract<AuthResult, { ok: false }> {
    const headers: Record<string, string> = {
      'www-authenticate': challengeHeader(challengeSettings, noCredentials ? undefined : error, scheme),
    };
    if (error.error === 'use_dpop_nonce' && dpop?.nonces !== undefined) {
      headers['dpop-nonce'] = dpop.nonces.current(now());
    }
    if (error.status === 503) headers['retry-after'] = '30';
    const body: { error: string; error_description: string; scope?: string } = {
      error: error.error,
      error_description: error.description,
    };
    if (error.scope !== undefined) body.scope = error.scope;
    // A request without credentials gets a challenge without an error code (RFC 6750 §3.1).
    return { ok: false, error, status: error.status, headers, body };
  }

  function report(event: AuthEvent): void {
    if (options.onAuthentication === undefined) return;
    try {
      options.onAuthentication(event);
    } catch {
      // A metrics hook never breaks authentication.
    }
  }

  function fail(
    error: AuthError,
    request: AuthRequest,
    attempt: Attempt,
    scheme: 'bearer' | 'dpop' | undefined,
    format: 'jwt' | 'opaque' | undefined,
  ): Extract<AuthResult, { ok: false }> {
    if (logger !== undefined) {
      const queryAt = request.path.indexOf('?');
      try {
        logger.warn(
          {
            event: 'access_token_rejected',
            reason: error.code,
            error: error.error,
            status: error.status,
            description: error.description,
            client_id: attempt.claimedClient,
            method: request.method,
            path: queryAt >= 0 ? request.path.slice(0, queryAt) : request.path,
            ip: request.remoteAddress,
          },
          'access token rejected',
        );
      } catch {
        // Logging never breaks authentication.
      }
    }
    report({
      outcome: 'failure',
      status: error.status,
      reason: error.code,
      clientId: attempt.claimedClient,
      format,
      cached: attempt.cached,
    });
    return refuse(error, scheme, error.code === 'missing_token');
  }

  function authorize(auth: AuthInfo, policies: readonly Policy[], request?: AuthRequest): AuthResult {
    for (const policy of policies) {
      let refusal: AuthError | undefined;
      try {
        refusal = policy(auth);
      } catch {
        refusal = new AuthError(
          'insufficient_scope',
          'policy',
          'the token does not meet this resource policy',
        );
      }
      if (refusal !== undefined) {
        const attempt: Attempt = { claimedClient: auth.clientId, cached: false };
        const scheme = auth.binding === 'dpop' ? 'dpop' : 'bearer';
        if (request !== undefined) return fail(refusal, request, attempt, scheme, auth.format);
        return refuse(refusal, scheme);
      }
    }
    return { ok: true, auth, headers: noHeaders };
  }

  function failure(
    error: unknown,
    request: AuthRequest,
    attempt: Attempt,
    scheme: 'bearer' | 'dpop' | undefined,
  ): Extract<AuthResult, { ok: false }> {
    const authError =
      error instanceof AuthError ? error : invalidToken('malformed_token', 'the token could not be verified');
    return fail(authError, request, attempt, scheme, attempt.format);
  }

  function complete(
    auth: AuthInfo,
    headers: Readonly<Record<string, string>>,
    request: AuthRequest,
    policies: readonly Policy[],
    attempt: Attempt,
  ): AuthResult {
    if (policies.length > 0) {
      const decision = authorize(auth, policies, request);
      if (!decision.ok) return decision;
    }
    if (options.onAuthentication !== undefined) {
      report({
        outcome: 'success',
        status: 200,
        reason: undefined,
        clientId: auth.clientId,
        format: auth.format,
        cached: attempt.cached,
      });
    }
    return { ok: true, auth, headers };
  }

  function afterVerification(
    auth: AuthInfo,
    extracted: Extracted,
    request: AuthRequest,
    policies: readonly Policy[],
    attempt: Attempt,
  ): AuthResult | Promise<AuthResult> {
    attempt.format = auth.format;
    if (auth.binding === undefined && extracted.scheme !== 'dpop' && dpop?.required !== true) {
      return complete(auth, noHeaders, request, policies, attempt);
    }
    const at = now();
    return checkBinding(auth, extracted, request, at).then(
      () => {
        const headers =
          auth.binding === 'dpop' && dpop?.nonces !== undefined
            ? { 'dpop-nonce': dpop.nonces.current(at) }
            : noHeaders;
        return complete(auth, headers, request, policies, attempt);
      },
      (error: unknown) => failure(error, request, attempt, extracted.scheme),
    );
  }

  /** The request path without a promise when nothing asynchronous is needed (a known key, no DPoP). */
  function authenticateMaybeSync(
    request: AuthRequest,
    policies: readonly Policy[],
  ): AuthResult | Promise<AuthResult> {
    const attempt: Attempt = { cached: false };
    let extracted: Extracted | undefined;
    try {
      extracted = extractToken(request);
      if (extracted === undefined) {
        throw new AuthError('invalid_token', 'missing_token', 'an access token is required');
      }
      const verified = verifyToken(extracted.token, attempt);
      if (verified instanceof Promise) {
        const found = extracted;
        return verified.then(
          (auth) => afterVerification(auth, found, request, policies, attempt),
          (error: unknown) => failure(error, request, attempt, found.scheme),
        );
      }
      return afterVerification(verified, extracted, request, policies, attempt);
    } catch (error) {
      return failure(error, request, attempt, extracted?.scheme);
    }
  }

  return {
    authenticate: async (request, ...policies) => authenticateMaybeSync(request, policies),
    authenticateMaybeSync,
    authorize,
    refuse: (error) => refuse(error),
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      return verifyToken(token, { cached: false });
    },
  };
}
