/**
 * Builds the server: opens and migrates storage, applies the config's clients and users, loads signing
 * keys, and assembles the Fastify app (form parser, logging, error handler, routes). Tests call
 * `buildServer` with their own clock and drive it through `inject()` or a real port.
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import pino from 'pino';
import { readConfiguredFile } from '../config/load.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import { type Clock, endpointsFor, type ServerContext, systemClock } from '../context.ts';
import { ClientCertificates } from '../endpoints/client-certificate.ts';
import { KeyStore, keyStoreOptions } from '../keys/keystore.ts';
import { ClientJwksCache } from '../protocol/client-jwks.ts';
import { DpopNonces, DpopVerifier } from '../protocol/dpop.ts';
import { parseUrlEncoded } from '../protocol/params.ts';
import { PasswordHasher } from '../protocol/passwords.ts';
import { redisCall } from '../protocol/redis-call.ts';
import { MemoryReplayCache, RedisReplayCache } from '../protocol/replay-cache.ts';
import { ScopeCatalog } from '../protocol/scopes.ts';
import { SessionLogout } from '../sessions/logout.ts';
import { openStorage } from '../storage/index.ts';
import { connectRedis } from '../storage/redis.ts';
import { applyConfiguredEntities } from '../storage/seed.ts';
import { sweepExpired } from '../storage/sweep.ts';
import { createAudit, withRequestId } from './audit.ts';
import { CorsPolicy } from './cors.ts';
import { makeErrorHandler } from './error-handler.ts';
import { loggerOptions, recordLoggerOptions, requestSummary } from './logging.ts';
import { Metrics } from './metrics.ts';
import { RateLimiter, RedisRateLimitStore } from './rate-limit.ts';
import { registerRoutes } from './routes.ts';

/**
 * One log line per request, written when it completes (Fastify's default writes two), and the request's
 * metrics, so the hot path pays for one completion hook. A request that failed is logged with its error by
 * the redacting logger; every other line has a fixed shape and goes to the records logger (logging.ts).
 */
class OneLinePerRequest extends LogController {
  constructor(
    private readonly metrics: Metrics,
    private readonly records: pino.Logger,
  ) {
    super({ requestIdLogLabel: 'request_id' });
  }

  override incomingRequest(): void {}
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const status = reply.statusCode;
    const ms = Math.round(reply.elapsedTime * 10) / 10;
    this.metrics.requestCompleted(
      request.routeOptions.url ?? 'unmatched',
      request.method,
      status,
      reply.elapsedTime,
    );
    if (error) request.log.error({ req: request, status, ms, err: error }, 'request failed');
    else this.records.info({ request_id: request.id, req: requestSummary(request), status, ms }, 'request');
  }
}

export interface BuildOptions {
  clock?: Clock;
  /** Where log lines go (default: standard output). */
  logStream?: NodeJS.WritableStream;
}

export interface GatehouseServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** Listens on the configured host and port; resolves with the bound address. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function buildServer(
  config: GatehouseConfig,
  options: BuildOptions = {},
): Promise<GatehouseServer> {
  const now = options.clock ?? systemClock;
  const storage = await openStorage(config.storage);
  const passwords = new PasswordHasher(config.login.argon2);
  const keys = new KeyStore(storage.signingKeys, keyStoreOptions(config), (work) =>
    storage.exclusive('signing-keys', (repositories) => work(repositories.signingKeys)),
  );
  let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
  let clientCertificates: ClientCertificates;
  let https: Record<string, unknown> | undefined;
  try {
    clientCertificates = new ClientCertificates(config, now);
    if (config.server.tls !== undefined) {
      // Ask for client certificates but let every connection through: the application decides per client
      // (self-signed certificates for self_signed_tls_client_auth, none at all for other clients).
      https = {
        cert: readConfiguredFile('server.tls.cert', config.server.tls.cert),
        key: readConfiguredFile('server.tls.key', config.server.tls.key),
        requestCert: true,
        rejectUnauthorized: false,
        ...(clientCertificates.authorityPem === undefined ? {} : { ca: clientCertificates.authorityPem }),
      };
    }
    await applyConfiguredEntities(storage, config, passwords, now());
    await keys.initialise(now());
    if (config.redis !== undefined) redis = await connectRedis(config.redis.url);
  } catch (error) {
    await storage.close();
    throw error;
  }

  // Standard output is written asynchronously in 4 KiB batches: a synchronous write per log line cost
  // about a tenth of the throughput of the busiest endpoints. pino flushes the buffer on exit and close()
  // flushes it too; only a SIGKILL can lose the last lines.
  const destination = options.logStream ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino(loggerOptions(config.logging.level), destination);
  const records = pino(recordLoggerOptions(config.logging.level), destination);
  const replay =
    redis && config.redis ? new RedisReplayCache(redis, config.redis.keyPrefix) : new MemoryReplayCache();
  const ctx = {
    config,
    issuer: config.issuer,
    endpoints: endpointsFor(config.issuer),
    storage,
    keys,
    catalog: new ScopeCatalog(config),
    passwords,
    now,
    audit: createAudit(records),
    // Shared counters and replay cache when Redis is configured (several nodes), memory otherwise.
    rateLimits: new RateLimiter(
      config.rateLimits,
      now,
      redis && config.redis && new RedisRateLimitStore(redis, config.redis.keyPrefix),
    ),
    replay,
    dpop: new DpopVerifier({
      algorithms: config.dpop.algorithms,
      proofMaxAge: config.dpop.proofMaxAge,
      clockSkew: config.dpop.clockSkew,
      nonces: config.dpop.nonce.required
        ? new DpopNonces(config.dpop.nonce.secret, config.dpop.nonce.lifetime)
        : undefined,
      replay,
    }),
    metrics: new Metrics(config.metrics.enabled),
    cors: new CorsPolicy(config.clients.flatMap((client) => client.corsOrigins)),
    findClient: (clientId) => storage.findClient(clientId),
    clientJwks: new ClientJwksCache(config.clientAuth.jwksUri, now),
    // /readyz: every shared dependency a request may need answers (a database read; Redis, when configured).
    readinessChecks: [
      () => storage.ping(),
      ...(redis === undefined ? [] : [() => redisCall(() => redis!.ping())]),
    ],
  } as Omit<ServerContext, 'logout'> as ServerContext;
  ctx.logout = new SessionLogout(ctx);

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new OneLinePerRequest(ctx.metrics, records),
    genReqId: () => randomUUID(),
    trustProxy: config.server.trustProxy,
    bodyLimit: config.server.bodyLimit,
    routerOptions: { querystringParser: parseUrlEncoded },
    return503OnClosing: true,
    // No implicit HEAD routes: HEAD /authorize or /end_session would run the GET handler's side effects.
    exposeHeadRoutes: false,
    ...(https === undefined ? {} : { https }),
  }) as unknown as FastifyInstance;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, parseUrlEncoded(body as string));
    },
  );
  app.addHook('onRequest', (request, _reply, done) => {
    const rule = request.routeOptions.config?.ipRateLimit;
    if (rule === undefined) {
      withRequestId(request.id, done);
      return;
    }
    ctx.rateLimits.hit(rule, request.ip).then(
      () => withRequestId(request.id, done),
      (error: unknown) => done(error as Error),
    );
  });
  app.setErrorHandler(makeErrorHandler(config.issuer, config.dpop.algorithms));
  app.setNotFoundHandler((_request, reply) => {
    reply
      .code(404)
      .type('application/json')
      .send(JSON.stringify({ error: 'not_found', error_description: 'not found' }));
  });
  registerRoutes(app, ctx, clientCertificates);

  // Every reload also tries a scheduled rotation; storage's lock lets one node do it (keys/keystore.ts).
  const reloadTimer = setInterval(() => {
    keys
      .reload(now())
      .then(() => keys.rotateIfDue(now()))
      .then((rotated) => {
        if (rotated !== undefined) app.log.info({ kid: rotated.kid }, 'signing key rotated on schedule');
      })
      .catch((error: unknown) => app.log.error({ err: error }, 'key reload failed'));
  }, config.keys.reloadInterval * 1000);
  reloadTimer.unref();
  const sweepTimer = setInterval(() => {
    sweepExpired(storage, now()).catch((error: unknown) =>
      app.log.error({ err: error }, 'expiry sweep failed'),
    );
  }, 600_000);
  sweepTimer.unref();

  return {
    app,
    ctx,
    async listen() {
      return app.listen({ host: config.server.host, port: config.server.port });
    },
    async close() {
      clearInterval(reloadTimer);
      clearInterval(sweepTimer);
      await app.close();
      await storage.close();
      redis?.disconnect();
      logger.flush();
    },
  };
}
