/**
 * The composition root: opens and migrates storage, applies the config's clients and users, loads signing
 * keys, connects Redis when configured, builds the context the core runs on, and hands it to the Fastify
 * adapter (http/app.ts). Starts the key-reload and expiry-sweep timers. Tests call `buildServer` with their
 * own clock and drive it through `inject()` or a real port; the CLI's `serve` runs it.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import pino from 'pino';
import { type AccountStore, SqlAccountStore, withScopeClaims } from './accounts/accounts.ts';
// Types only: the legacy store (and pg) is loaded when `accounts.type` is postgres-legacy.
import type { PostgresLegacyAccountStore } from './accounts/legacy.ts';
import { catalogSource } from './admin/api-catalog.ts';
import { parseConfig, readConfiguredFile, readUiFile } from './config/load.ts';
import { type GatehouseConfig, logoContentTypes } from './config/schema.ts';
import { applyConfiguredClients, applyConfiguredUsers } from './config/seed.ts';
import { type Clock, endpointsFor, type ServerContext, systemClock } from './context.ts';
import { ClientCertificates } from './endpoints/client-certificate.ts';
import { createHttpApp } from './http/app.ts';
import { createAudit } from './http/audit.ts';
import { CorsPolicy } from './http/cors.ts';
import { openLogOutput } from './http/log-output.ts';
import { loggerOptions, recordLoggerOptions } from './http/logging.ts';
import { createManagementApp, managementIsExposed } from './http/management.ts';
import { Metrics } from './http/metrics.ts';
import { RateLimiter, RedisRateLimitStore } from './http/rate-limit.ts';
import { KeyStore, keyStoreOptions } from './keys/keystore.ts';
import type { BackchannelNotifier } from './protocol/backchannel-notification.ts';
import { webhookNotifier } from './protocol/backchannel-notifier.ts';
import { ClientJwksCache } from './protocol/client-jwks.ts';
import { ClientMetadataDocuments } from './protocol/client-metadata-document.ts';
import { DpopNonces, DpopVerifier } from './protocol/dpop.ts';
import { PasswordHasher } from './protocol/passwords.ts';
import { redisCall } from './protocol/redis-call.ts';
import { MemoryReplayCache, RedisReplayCache } from './protocol/replay-cache.ts';
import { RetriedDeliveries } from './protocol/retried-delivery.ts';
import { ScopeCatalog } from './protocol/scopes.ts';
import { SessionLogout } from './sessions/logout.ts';
import { UpstreamProviders } from './sessions/upstream-providers.ts';
import { openStorage } from './storage/index.ts';
import { importOptionalPackage } from './storage/optional-package.ts';
import type { Storage } from './storage/ports.ts';
import { connectRedis } from './storage/redis.ts';
import { sweepExpired } from './storage/sweep.ts';
import { type ClaimsHook, guardClaimsHook } from './tokens/claims-hook.ts';
import { createUi, type PageTemplates, type Ui } from './views/templates.ts';

export interface BuildOptions {
  clock?: Clock;
  /** Where accounts come from (default: Gatehouse's own users table). */
  accounts?: AccountStore;
  /** Where log lines go (default: standard output). */
  logStream?: NodeJS.WritableStream;
  /** Pages to render instead of the default ones (views/templates.ts); the others stay the defaults. */
  pages?: Partial<PageTemplates>;
  /** Computed access-token claims (tokens/claims-hook.ts); reserved claims it returns are dropped. */
  claims?: ClaimsHook;
  /**
   * How CIBA requests reach users (a push to their phone, a message), instead of the configured webhook
   * (`ciba.notifier`); without either, /bc-authorize refuses every request.
   */
  backchannelNotifier?: BackchannelNotifier;
  /**
   * Store the config users (an argon2id hash each, tens of milliseconds) once `listen()` has bound, not
   * before buildServer returns: sign-ins and /readyz wait for them (`ready`). `gatehouse serve` starts so.
   */
  seedUsersInBackground?: boolean;
}

export interface GatehouseServer {
  app: FastifyInstance;
  /** The management listener (/metrics, /healthz, /readyz), unless `management.enabled` is false. */
  management: FastifyInstance | undefined;
  ctx: ServerContext;
  /**
   * Listens on the configured host and port, and the management listener on its own; resolves with the
   * issuer listener's bound address.
   */
  listen(): Promise<string>;
  close(): Promise<void>;
  /** Resolves once the config users are stored (already, unless `seedUsersInBackground` was set). */
  ready: Promise<void>;
}

/** The TLS listener's options (`server.tls`), or undefined when a proxy terminates TLS. */
function httpsOptions(
  config: GatehouseConfig,
  clientCertificates: ClientCertificates,
): Record<string, unknown> | undefined {
  if (config.server.tls === undefined) return undefined;
  // Ask for client certificates but let every connection through: the application decides per client
  // (self-signed certificates for self_signed_tls_client_auth, none at all for other clients).
  return {
    cert: readConfiguredFile('server.tls.cert', config.server.tls.cert),
    key: readConfiguredFile('server.tls.key', config.server.tls.key),
    requestCert: true,
    rejectUnauthorized: false,
    ...(clientCertificates.authorityPem === undefined ? {} : { ca: clientCertificates.authorityPem }),
  };
}

/** The pages' templates, theme and translations, with the theme's files read (`ui` in the config). */
function uiFor(config: GatehouseConfig, pages: Partial<PageTemplates> | undefined): Ui {
  const { ui } = config;
  const logo =
    ui.logo === undefined
      ? undefined
      : {
          body: readUiFile('ui.logo', ui.logo),
          contentType: logoContentTypes[extname(ui.logo).toLowerCase()] ?? 'application/octet-stream',
        };
  const stylesheet = ui.stylesheet === undefined ? undefined : readUiFile('ui.stylesheet', ui.stylesheet);
  return createUi(
    {
      productName: ui.productName,
      colors: ui.colors,
      logoUrl: logo && `${config.issuer}/ui/logo`,
      stylesheetUrl: stylesheet && `${config.issuer}/ui/theme.css`,
      locales: ui.locales,
      defaultLocale: ui.defaultLocale,
      assets: { logo, stylesheet },
    },
    pages,
  );
}

/** The config users' seeding: `done` once stored; in the background it waits for `start()` (listening). */
interface UserSeeding {
  done: Promise<void>;
  start(): void;
  /** Stops before storing anything when not started yet; waits for a seeding under way. */
  stop(): Promise<void>;
}

function userSeeding(after: Promise<void>, background: boolean, seed: () => Promise<void>): UserSeeding {
  let start = () => {};
  let stopped = false;
  const allowed = background
    ? new Promise<void>((resolve) => {
        start = resolve;
      })
    : undefined;
  const done = Promise.all([after, allowed]).then(() => (stopped ? undefined : seed()));
  done.catch(() => {});
  return {
    done,
    start: () => start(),
    async stop() {
      stopped = true;
      start();
      await done.catch(() => {});
    },
  };
}

/** Key reloads (each also tries a scheduled rotation; storage's lock lets one node do it) and expiry sweeps. */
function startTimers(
  keys: KeyStore,
  storage: Storage,
  now: Clock,
  config: GatehouseConfig,
  log: FastifyBaseLogger,
): () => void {
  const reloadTimer = setInterval(() => {
    keys
      .reload(now())
      .then(() => keys.rotateIfDue(now()))
      .then((rotated) => {
        if (rotated !== undefined) log.info({ kid: rotated.kid }, 'signing key rotated on schedule');
      })
      .catch((error: unknown) => log.error({ err: error }, 'key reload failed'));
  }, config.keys.reloadInterval * 1000);
  reloadTimer.unref();
  const sweepTimer = setInterval(() => {
    sweepExpired(storage, now()).catch((error: unknown) => log.error({ err: error }, 'expiry sweep failed'));
  }, 600_000);
  sweepTimer.unref();
  return () => {
    clearInterval(reloadTimer);
    clearInterval(sweepTimer);
  };
}

/**
 * Warns once per upstream provider that stored links or sessions name but the config no longer lists: its
 * users cannot sign in through it. Nothing is deleted (the provider may come back); only counts are logged.
 */
async function warnOfRemovedUpstreams(
  storage: Storage,
  config: GatehouseConfig,
  now: number,
  log: pino.Logger,
): Promise<void> {
  const configured = new Set(config.upstreams.map((upstream) => upstream.id));
  for (const [upstream, usage] of await storage.upstreams.usageByUpstream(now)) {
    if (configured.has(upstream)) continue;
    log.warn(
      { upstream, ...usage },
      'an upstream provider removed from the config is still named by linked identities or sessions',
    );
  }
}

/** What buildServer has opened, for the request context. */
interface ContextParts {
  config: GatehouseConfig;
  options: BuildOptions;
  now: Clock;
  storage: Storage;
  keys: KeyStore;
  catalog: ScopeCatalog;
  passwords: PasswordHasher;
  ui: Ui;
  accounts: AccountStore;
  redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
  logger: pino.Logger;
  records: pino.Logger;
}

/** The context every endpoint runs with (context.ts): shared parts, Redis-backed when configured. */
function serverContext(parts: ContextParts): ServerContext {
  const { config, options, now, storage, keys, catalog, passwords, ui, accounts, redis, logger, records } =
    parts;
  // Shared counters and replay cache when Redis is configured (several nodes), memory otherwise.
  const shared =
    redis !== undefined && config.redis !== undefined ? { redis, config: config.redis } : undefined;
  const replay = shared
    ? new RedisReplayCache(shared.redis, shared.config.keyPrefix)
    : new MemoryReplayCache();
  const metadataDocuments = new ClientMetadataDocuments({ config, catalog }, now, createAudit(records));
  const core: Omit<ServerContext, 'logout'> = {
    config,
    issuer: config.issuer,
    endpoints: endpointsFor(config.issuer),
    storage,
    accounts: withScopeClaims(accounts, catalog),
    keys,
    catalog,
    now,
    audit: createAudit(records),
    auditFor: (requestId) => createAudit(records, requestId),
    rateLimits: new RateLimiter(
      config.rateLimits,
      now,
      shared && new RedisRateLimitStore(shared.redis, shared.config.keyPrefix),
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
    // A client_id that is an https URL names a client metadata document, when those are on.
    findClient: (clientId) =>
      metadataDocuments.handles(clientId) ? metadataDocuments.find(clientId) : storage.findClient(clientId),
    clientJwks: new ClientJwksCache(config.clientAuth.jwksUri, now),
    upstreams: new UpstreamProviders(config.upstreams, config.issuer, now, passwords),
    ui,
    ...(options.claims === undefined
      ? {}
      : {
          claimsHook: guardClaimsHook(options.claims, (fields, message) => logger.error(fields, message)),
        }),
    backchannelNotifier:
      options.backchannelNotifier ??
      (config.ciba.notifier === undefined
        ? undefined
        : webhookNotifier({ issuer: config.issuer, keys, now }, config.ciba.notifier)),
    cibaPings: new RetriedDeliveries(),
  };
  return { ...core, logout: new SessionLogout(core) };
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
  const catalog = new ScopeCatalog(config);
  let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
  let legacyAccounts: PostgresLegacyAccountStore | undefined;
  let clientCertificates: ClientCertificates;
  let https: Record<string, unknown> | undefined;
  let ui: Ui;
  let seeding: Promise<void> | undefined;
  let users: UserSeeding | undefined;
  try {
    ui = uiFor(config, options.pages);
    clientCertificates = new ClientCertificates(config, now);
    https = httpsOptions(config, clientCertificates);
    // Config clients are stored while the rest is built; new config users' passwords are hashed after them
    // (argon2id, on the thread pool), awaited before buildServer returns unless seedUsersInBackground.
    seeding = applyConfiguredClients(storage, config, now());
    users = userSeeding(seeding, options.seedUsersInBackground === true, () =>
      applyConfiguredUsers(storage, config, passwords, now()),
    );
    await keys.initialise(now());
    // An embedding application's own store wins; otherwise the config says (default: the users table).
    if (options.accounts === undefined && config.accounts.type === 'postgres-legacy') {
      const { PostgresLegacyAccountStore } = await importOptionalPackage(
        'pg',
        'accounts type postgres-legacy',
        () => import('./accounts/legacy.ts'),
      );
      legacyAccounts = await PostgresLegacyAccountStore.open(config.accounts, passwords, {
        onRehashError: (error) =>
          logger.warn({ err: error }, 'could not write the argon2id rehash of a legacy account'),
      });
    }
    if (config.redis !== undefined) redis = await connectRedis(config.redis.url);
  } catch (error) {
    await users?.stop();
    redis?.disconnect();
    await legacyAccounts?.close();
    await storage.close();
    throw error;
  }

  // Only a SIGKILL can lose the last lines: the output is flushed every second, at exit and by close().
  const output = await openLogOutput(config.logging.format, options.logStream);
  const logger = pino(loggerOptions(config.logging.level), output.stream);
  const records = pino(recordLoggerOptions(config.logging.level), output.stream);
  // The admin API's API scopes and resources join the file's, on every node from its next request.
  catalog.follow({ version: storage.catalogVersion, load: () => catalogSource(config, storage, logger) });
  const ctx = serverContext({
    config,
    options,
    now,
    storage,
    keys,
    catalog,
    passwords,
    ui,
    accounts: options.accounts ?? legacyAccounts ?? new SqlAccountStore(storage.users, passwords, users.done),
    redis,
    logger,
    records,
  });

  const metrics = new Metrics(config.metrics.enabled);
  // /readyz: every shared dependency a request may need answers (a database read; the legacy accounts
  // database and Redis, when configured).
  const readinessChecks = [
    () => storage.ping(),
    () => users!.done,
    ...(legacyAccounts === undefined ? [] : [() => legacyAccounts!.ping()]),
    ...(redis === undefined ? [] : [() => redisCall(() => redis!.ping())]),
  ];
  const app = createHttpApp(ctx, {
    logger,
    records,
    https,
    certificates: clientCertificates,
    cors: new CorsPolicy(() => storage.listClients()),
    metrics,
    readinessChecks,
  });
  const management = config.management.enabled
    ? createManagementApp(config, { logger, metrics, readinessChecks })
    : undefined;

  const stopTimers = startTimers(keys, storage, now, config, app.log);

  const server: GatehouseServer = {
    app,
    management,
    ctx,
    ready: users.done,
    async listen() {
      if (management !== undefined) {
        await management.listen({ host: config.management.host, port: config.management.port });
        if (managementIsExposed(config)) {
          logger.warn(
            { host: config.management.host },
            'the management listener is reachable from other machines and /metrics has no bearer token: set metrics.bearerToken, or keep management.port off public networks',
          );
        }
      }
      const address = await app.listen({ host: config.server.host, port: config.server.port });
      users!.start();
      return address;
    },
    async close() {
      stopTimers();
      await users!.stop();
      await management?.close();
      await app.close();
      await storage.close();
      await legacyAccounts?.close();
      redis?.disconnect();
      output.close();
    },
  };
  try {
    await warnOfRemovedUpstreams(storage, config, now(), logger);
    await (options.seedUsersInBackground ? seeding : users.done);
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}

export interface GatehouseOptions extends BuildOptions {
  /**
   * The configuration, as the file would hold it (an object, not a path): validated by the same schema
   * with the same defaults, `${VARIABLE}` placeholders and `DATABASE_URL` included.
   */
  config: unknown;
  /** The directory relative paths in `config` are resolved against (default: the working directory). */
  baseDir?: string;
  /** The environment placeholders are read from (default: `process.env`). */
  env?: NodeJS.ProcessEnv;
}

export interface Gatehouse extends GatehouseServer {
  /**
   * A `node:http` request listener serving every route of the issuer: mount it on your own server for the
   * issuer's path (an issuer `https://example.com/auth` is served under `/auth`). With your own Fastify,
   * hand the request over in an `onRequest` hook, before Fastify reads the body:
   * `reply.hijack(); gatehouse.handle(request.raw, reply.raw)`.
   */
  handle(request: IncomingMessage, response: ServerResponse): void;
}

/**
 * Gatehouse inside a Node application (docs/embedding.md): the same server as `gatehouse serve`, built from
 * a configuration object and the application's extension points (its account store, claims, pages). The
 * result can `listen()` on the configured port, or serve requests through `handle` from the application's
 * own server; `close()` stops it either way.
 */
export async function createGatehouse(options: GatehouseOptions): Promise<Gatehouse> {
  const { config: raw, baseDir, env, ...build } = options;
  const server = await buildServer(parseConfig(raw, env ?? process.env, baseDir ?? process.cwd()), build);
  try {
    await server.app.ready();
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    ...server,
    handle: (request, response) => server.app.routing(request, response),
  };
}
