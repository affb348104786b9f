/**
 * The Fastify adapter: the form parser, the per-request log line and metrics, the per-IP rate limits, CORS
 * headers, the one error handler and the routes (routes.ts). It is given a built context (server.ts) and
 * holds no rules of its own: endpoints parse the request, call the core and render its answer.
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type pino from 'pino';
import type { ServerContext } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';
import { parseUrlEncoded } from '../protocol/params.ts';
import { makeClientErrorHandler } from './client-errors.ts';
import { type ErrorRenderOptions, makeErrorHandler, renderError } from './error-handler.ts';
import { requestSummary } from './logging.ts';
import type { Metrics } from './metrics.ts';
import { type AdapterParts, RouteTable, registerRoutes } from './routes.ts';

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

export interface HttpAppOptions extends AdapterParts {
  /** The redacting logger (errors, handlers' request loggers, background messages). */
  logger: pino.Logger;
  /** The fixed-shape records logger (request lines; audit events go through the context's audit). */
  records: pino.Logger;
  /** TLS listener options when this server terminates TLS. */
  https?: Record<string, unknown> | undefined;
}

/** Headers every response carries: HSTS when the issuer is https (RFC 6797 §7.1; one year, this host). */
export function responseHeaders(issuer: string): Record<string, string> {
  return issuer.startsWith('https:') ? { 'strict-transport-security': 'max-age=31536000' } : {};
}

/**
 * Why a form body cannot be read as UTF-8 parameters: a content coding (RFC 9110 §8.4: 415 for one the
 * server does not apply) or a charset other than UTF-8 (the encoding RFC 6749 Appendix B requires).
 */
function unreadableForm(headers: FastifyRequest['headers']): OAuthError | undefined {
  const coding = headers['content-encoding']?.trim().toLowerCase();
  if (coding !== undefined && coding !== '' && coding !== 'identity') {
    return new OAuthError('invalid_request', 'content codings are not supported; send the body as is', {
      status: 415,
    });
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(headers['content-type'] ?? '')?.[1];
  if (charset !== undefined && charset.toLowerCase() !== 'utf-8') {
    return new OAuthError('invalid_request', 'the form must be encoded in UTF-8', { status: 415 });
  }
  return undefined;
}

/** A `\u0000` escape in JSON text (an odd number of backslashes before `u0000`), wherever it stands. */
const jsonNul = /(?:^|[^\\])(?:\\\\)*\\u0000/i;

/**
 * A JSON body with a NUL character in any string is `invalid_request` before an endpoint reads it, as a
 * form parameter with one is (protocol/params.ts): PostgreSQL text cannot hold it.
 */
function nulInJson(text: string): OAuthError | undefined {
  return jsonNul.test(text)
    ? new OAuthError('invalid_request', 'the request body contains a NUL character')
    : undefined;
}

/**
 * No route declares a JSON schema (endpoints parse their own forms and write their own JSON), so Fastify
 * gets compilers that are never called instead of loading Ajv and fast-json-stringify at every start (about
 * a sixth of the start-up's CPU time). A route given a schema fails when it is registered.
 */
export const noSchemaCompilers = {
  compilersFactory: {
    buildValidator: () => () => {
      throw new Error('Gatehouse routes declare no JSON schemas');
    },
    buildSerializer: () => () => {
      throw new Error('Gatehouse routes declare no JSON schemas');
    },
  },
};

/**
 * An issuer with a path (`https://example.com/auth`) is served under that path: its endpoints are
 * `${issuer}/authorize` and so on, and OpenID Connect Discovery's `${issuer}/.well-known/openid-configuration`,
 * and RFC 8414 §3.1 puts the metadata at `/.well-known/oauth-authorization-server/auth`. The path is taken
 * off before routing; a request without it (from a proxy that already took it off) is routed as it is.
 */
function issuerPathRewrite(issuer: string): { rewriteUrl?: (request: { url?: string }) => string } {
  const path = new URL(issuer).pathname.replace(/\/$/, '');
  if (path === '') return {};
  const metadata = `/.well-known/oauth-authorization-server${path}`;
  return {
    rewriteUrl(request) {
      const url = request.url ?? '/';
      if (url === path || url.startsWith(`${path}/`) || url.startsWith(`${path}?`)) {
        const rest = url.slice(path.length);
        return rest.startsWith('/') ? rest : `/${rest}`;
      }
      if (url === metadata || url.startsWith(`${metadata}?`))
        return `/.well-known/oauth-authorization-server${url.slice(metadata.length)}`;
      return url;
    },
  };
}

export function createHttpApp(ctx: ServerContext, options: HttpAppOptions): FastifyInstance {
  const { config } = ctx;
  const table = new RouteTable();
  const formatOf = (url: string) => table.errorFormatOf(url);
  const rendering: ErrorRenderOptions = {
    issuer: config.issuer,
    dpopAlgorithms: config.dpop.algorithms,
    responseHeaders: responseHeaders(config.issuer),
    ui: ctx.ui,
  };
  const errorHandler = makeErrorHandler(rendering, formatOf);
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new OneLinePerRequest(options.metrics, options.records),
    genReqId: () => randomUUID(),
    trustProxy: config.server.trustProxy,
    bodyLimit: config.server.bodyLimit,
    routerOptions: { querystringParser: parseUrlEncoded },
    schemaController: noSchemaCompilers,
    ...issuerPathRewrite(config.issuer),
    return503OnClosing: true,
    // No implicit HEAD routes: HEAD /authorize or /end_session would run the GET handler's side effects.
    exposeHeadRoutes: false,
    // Errors raised before routing (bad percent-encoding, a too-long path parameter) and on the raw
    // socket go through the same renderers as every other error.
    // Such requests never reach the completion hook, so their request line is written here.
    frameworkErrors: (error, request, reply) => {
      errorHandler(error, request, reply);
      options.records.info(
        { request_id: request.id, req: requestSummary(request), status: reply.statusCode },
        'request',
      );
    },
    clientErrorHandler: makeClientErrorHandler(rendering, formatOf, options.logger as FastifyBaseLogger),
    ...(options.https === undefined ? {} : { https: options.https }),
  }) as unknown as FastifyInstance;
  app.decorateRequest('clientSite', undefined);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (request, body, done) => {
      const refusal = unreadableForm(request.headers);
      if (refusal !== undefined) done(refusal, undefined);
      else done(null, parseUrlEncoded(body as string));
    },
  );
  // JSON only for the routes that read it (registration); the endpoint parses the text itself.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // An unknown path is left to the 404 handler; another method of a served path is refused like that path.
    const readsJson = request.is404 ? table.readsJson(request.url) : request.routeOptions.config?.jsonBody;
    if (readsJson === false || (readsJson === undefined && !request.is404))
      done(
        new OAuthError('invalid_request', 'unsupported content type; use application/x-www-form-urlencoded', {
          status: 415,
        }),
        undefined,
      );
    else done(unreadableForm(request.headers) ?? nulInJson(body as string) ?? null, body);
  });
  const alwaysHeaders = rendering.responseHeaders;
  if (Object.keys(alwaysHeaders).length > 0) {
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(alwaysHeaders);
      done();
    });
  }
  // Browser-callable endpoints: CORS headers for registered origins (cors.ts), set before anything can
  // fail, so every answer carries them (429s and errors included). When the clients cannot be read (the
  // store is down), the answer goes out without CORS headers: the stricter outcome.
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.routeOptions.config?.cors) {
      done();
      return;
    }
    options.cors.decorate(request, reply).then(
      () => done(),
      (error: unknown) => {
        request.log.warn({ err: error }, 'CORS origins could not be read');
        done();
      },
    );
  });
  // The scope catalogue follows the admin API's changes (protocol/scopes.ts): brought up to date before
  // each request, one version read a loop turn. When the store cannot be read, the request goes on with
  // the catalogue it has (a health check must not fail for it; a token request fails on the store anyway).
  app.addHook('onRequest', (request, _reply, done) => {
    ctx.catalog.current().then(
      () => done(),
      (error: unknown) => {
        request.log.warn({ err: error }, 'the API catalogue could not be read');
        done();
      },
    );
  });
  app.addHook('onRequest', (request, _reply, done) => {
    const rule = request.routeOptions.config?.ipRateLimit;
    if (rule === undefined) {
      done();
      return;
    }
    ctx.rateLimits.hit(rule, request.ip).then(
      () => done(),
      (error: unknown) => done(error as Error),
    );
  });
  // Back-channel logouts and CIBA pings run in the background; closing waits for those on the wire.
  app.addHook('onClose', async () => {
    await Promise.all([ctx.logout.backchannel.drain(), ctx.cibaPings.drain()]);
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    const allow = table.allowedInstead(request.method, request.url);
    if (allow !== undefined) {
      reply.header('allow', allow);
      reply.send(new OAuthError('method_not_allowed', 'method not allowed'));
      return;
    }
    // The admin API answers every error, an unknown path included, with problem details (RFC 9457).
    if (config.admin.enabled && (request.url === '/admin/v1' || request.url.startsWith('/admin/v1/'))) {
      const rendering404 = renderError(new OAuthError('not_found', 'not found'), 'problem', rendering, {
        requestId: request.id,
      });
      reply.code(404).headers(rendering404.headers).send(rendering404.body);
      return;
    }
    reply
      .code(404)
      .type('application/json')
      .send(JSON.stringify({ error: 'not_found', error_description: 'not found' }));
  });
  registerRoutes(app, ctx, options, table);
  return app;
}
