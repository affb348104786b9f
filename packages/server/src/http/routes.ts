/**
 * Every route of the server, in one list, and the table of what it registered: the methods of each path
 * (every other method is answered 405 with `Allow`, RFC 9110 §15.5.6) and each path's error format (for
 * errors raised before a route is found).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { requestContext, type ServerContext } from '../context.ts';
import { accountPageEndpoint, accountSignInForms } from '../endpoints/account.ts';
import { accountForms } from '../endpoints/account-forms.ts';
import { openApiEndpoint } from '../endpoints/admin/openapi.ts';
import { adminBasePath, adminRoutes } from '../endpoints/admin/routes.ts';
import { authorizeEndpoint } from '../endpoints/authorize.ts';
import {
  backchannelApprovalDecision,
  backchannelApprovalLogin,
  backchannelApprovalPage,
  backchannelApprovalSecondFactor,
} from '../endpoints/backchannel-approval.ts';
import { backchannelAuthenticationEndpoint } from '../endpoints/backchannel-authentication.ts';
import type { ClientCertificates } from '../endpoints/client-certificate.ts';
import { deviceAuthorizationEndpoint } from '../endpoints/device-authorization.ts';
import {
  deviceCodeSubmit,
  deviceDecisionSubmit,
  deviceLoginSubmit,
  deviceSecondFactorSubmit,
  deviceVerificationPage,
} from '../endpoints/device-verification.ts';
import { discoveryEndpoint } from '../endpoints/discovery.ts';
import { endSessionEndpoints } from '../endpoints/end-session.ts';
import {
  consentSubmit,
  enrolmentSubmit,
  interactionPage,
  loginSubmit,
  secondFactorSubmit,
} from '../endpoints/interaction.ts';
import {
  passkeyEnrolmentSubmit,
  passkeyLoginSubmit,
  passkeySecondFactorSubmit,
} from '../endpoints/interaction-passkeys.ts';
import { introspectEndpoint } from '../endpoints/introspect.ts';
import { jwksEndpoint } from '../endpoints/jwks.ts';
import { landingEndpoint } from '../endpoints/landing.ts';
import {
  mfaAccountPage,
  mfaRecoveryCodes,
  mfaTotpConfirm,
  mfaTotpStart,
  mfaVerifySubmit,
} from '../endpoints/mfa.ts';
import {
  mfaPasskeyAddSubmit,
  mfaPasskeyRemoveSubmit,
  mfaPasskeyVerifySubmit,
} from '../endpoints/mfa-passkeys.ts';
import { webauthnScriptPath } from '../endpoints/page-response.ts';
import { parEndpoint } from '../endpoints/par.ts';
import { registrationEndpoints } from '../endpoints/registration.ts';
import { revokeEndpoint } from '../endpoints/revoke.ts';
import { tokenEndpoint } from '../endpoints/token.ts';
import { logoEndpoint, themeStylesheetEndpoint, webauthnScriptEndpoint } from '../endpoints/ui-assets.ts';
import { upstreamCallback, upstreamStartSubmit } from '../endpoints/upstream.ts';
import {
  upstreamLinkFactorSubmit,
  upstreamLinkPage,
  upstreamLinkPasskeySubmit,
  upstreamLinkSubmit,
} from '../endpoints/upstream-link.ts';
import { upstreamBackchannelLogoutEndpoint } from '../endpoints/upstream-logout.ts';
import { userinfoEndpoint } from '../endpoints/userinfo.ts';
import { initialAccessTokenHashes } from '../protocol/registration.ts';
import type { CorsPolicy } from './cors.ts';
import type { ErrorFormat } from './error-handler.ts';
import type { Metrics } from './metrics.ts';
import { healthEndpoint, readinessEndpoint } from './operations.ts';

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
/** Runs an endpoint with the request's context, whose audit events carry the request id. */
type PerRequest = (endpoint: Endpoint) => Handler;
/** An endpoint: its handler, given the request's context. */
type Endpoint = (ctx: ServerContext) => Handler;

// Pages, and the forms that take a password, code or passkey (counted with the login limits).
const page = { config: { errorFormat: 'html' as const } };
const signInForm = { config: { errorFormat: 'html' as const, ipRateLimit: 'loginPerIp' as const } };

/** The HTTP adapter's own parts, which the core never sees. */
export interface AdapterParts {
  /** Client certificates from the TLS socket or a trusted proxy's header (RFC 8705), for client auth. */
  certificates: ClientCertificates;
  cors: CorsPolicy;
  metrics: Metrics;
  /** What /readyz runs: each throws (a 503 OAuthError) when a dependency does not answer. */
  readinessChecks: ReadonlyArray<() => Promise<unknown>>;
}

export function registerRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  parts: AdapterParts,
  table: RouteTable,
): void {
  const { certificates, cors: corsPolicy, metrics, readinessChecks } = parts;
  app.addHook('onRoute', (route) => table.add(route));
  const discovery = discoveryEndpoint(ctx);
  const perRequest: PerRequest = (endpoint) => (request, reply) =>
    endpoint(requestContext(ctx, request.id))(request, reply);
  // Browser-callable endpoints: CORS for registered origins (cors.ts, applied by app.ts).
  const cors = { cors: true };

  app.get('/.well-known/openid-configuration', { config: cors }, discovery);
  app.get('/.well-known/oauth-authorization-server', { config: cors }, discovery);
  app.get('/jwks', { config: cors }, jwksEndpoint(ctx));

  app.route({
    method: ['GET', 'POST'],
    url: '/authorize',
    config: { errorFormat: 'html', ipRateLimit: 'authorizePerIp' },
    handler: perRequest(authorizeEndpoint),
  });
  // RFC 9126: pushed authorization requests (JSON errors, §2.3; POST only, so GET is 405).
  app.post(
    '/par',
    { config: { errorFormat: 'json', ipRateLimit: 'parPerIp', ...cors } },
    perRequest((scoped) => parEndpoint(scoped, certificates)),
  );
  registerSignInRoutes(app, ctx, perRequest);
  registerDeviceAndCibaRoutes(app, perRequest, certificates);

  app.route({
    method: ['GET', 'POST'],
    url: '/end_session',
    config: { errorFormat: 'html' },
    handler: perRequest((scoped) => endSessionEndpoints(scoped).endSession),
  });
  app.post(
    '/end_session/confirm',
    page,
    perRequest((scoped) => endSessionEndpoints(scoped).confirm),
  );

  app.post(
    '/token',
    { config: { errorFormat: 'json', ipRateLimit: 'tokenPerIp', ...cors } },
    perRequest((scoped) => tokenEndpoint(scoped, certificates, metrics)),
  );
  app.route({
    method: ['GET', 'POST'],
    url: '/userinfo',
    config: { errorFormat: 'bearer', ...cors },
    handler: perRequest(userinfoEndpoint),
  });
  app.post(
    '/revoke',
    { config: { errorFormat: 'json', ipRateLimit: 'revokePerIp', ...cors } },
    perRequest((scoped) => revokeEndpoint(scoped, certificates)),
  );
  app.post(
    '/introspect',
    { config: { errorFormat: 'json' } },
    perRequest((scoped) => introspectEndpoint(scoped, certificates)),
  );

  if (ctx.config.registration.enabled) registerRegistrationRoutes(app, ctx, perRequest);

  for (const url of [
    '/.well-known/openid-configuration',
    '/.well-known/oauth-authorization-server',
    '/jwks',
    '/par',
    '/token',
    '/userinfo',
    '/revoke',
  ]) {
    app.options(url, { config: cors }, async (_request, reply) => corsPolicy.preflight(reply));
  }

  if (ctx.config.admin.enabled) registerAdminRoutes(app, ctx);

  // Load balancers probe the public port; /metrics is served only by the management listener (management.ts).
  app.get('/healthz', healthEndpoint);
  app.get('/readyz', readinessEndpoint(readinessChecks));
  app.get('/', { config: { errorFormat: 'json' } }, landingEndpoint(ctx));
  // The theme's files (ui.logo, ui.stylesheet), when the config names them.
  const { logo, stylesheet } = ctx.ui.assets;
  if (logo !== undefined) app.get('/ui/logo', logoEndpoint(logo));
  if (stylesheet !== undefined) app.get('/ui/theme.css', themeStylesheetEndpoint(stylesheet));
  if (ctx.config.webauthn.enabled) app.get(webauthnScriptPath, webauthnScriptEndpoint());
}

/** The sign-in pages and forms (interaction, upstreams, second factors, the account page). */
function registerSignInRoutes(app: FastifyInstance, ctx: ServerContext, perRequest: PerRequest): void {
  app.get('/interaction/:id', page, perRequest(interactionPage));
  app.post('/interaction/:id/login', signInForm, perRequest(loginSubmit));
  app.post('/interaction/:id/consent', page, perRequest(consentSubmit));
  // Upstream identity providers (sessions/upstream.ts): the chooser's buttons and the providers' callbacks.
  app.post('/interaction/:id/upstream/:upstream', signInForm, perRequest(upstreamStartSubmit));
  app.get('/upstream/:upstream/callback', signInForm, perRequest(upstreamCallback));
  // Linking an upstream identity to an existing account (sessions/upstream-link.ts): password, then factor.
  app.get('/interaction/:id/link', page, perRequest(upstreamLinkPage));
  app.post('/interaction/:id/link', signInForm, perRequest(upstreamLinkSubmit));
  app.post('/interaction/:id/link/mfa', signInForm, perRequest(upstreamLinkFactorSubmit));
  app.post('/interaction/:id/link/passkey', signInForm, perRequest(upstreamLinkPasskeySubmit));
  // Logout at and from upstream providers (sessions/upstream-logout.ts).
  app.post(
    '/upstream/:upstream/backchannel-logout',
    { config: { errorFormat: 'json', ipRateLimit: 'upstreamLogoutPerIp' } },
    perRequest(upstreamBackchannelLogoutEndpoint),
  );
  app.get(
    '/upstream/:upstream/logged-out',
    page,
    perRequest((scoped) => endSessionEndpoints(scoped).upstreamLoggedOut),
  );
  // The second factor (sessions/mfa.ts): codes are counted with the login limits.
  app.post('/interaction/:id/mfa', signInForm, perRequest(secondFactorSubmit));
  app.post('/interaction/:id/enrol', signInForm, perRequest(enrolmentSubmit));
  // Passkeys (sessions/webauthn.ts): passkey-first sign-in, a passkey as the second factor, enrolment.
  app.post('/interaction/:id/passkey-login', signInForm, perRequest(passkeyLoginSubmit));
  app.post('/interaction/:id/passkey', signInForm, perRequest(passkeySecondFactorSubmit));
  app.post('/interaction/:id/passkey/enrol', signInForm, perRequest(passkeyEnrolmentSubmit));
  // The signed-in user's second factors (endpoints/mfa.ts).
  app.get('/mfa', page, perRequest(mfaAccountPage));
  app.post('/mfa/verify', signInForm, perRequest(mfaVerifySubmit));
  app.post('/mfa/totp', signInForm, perRequest(mfaTotpStart));
  app.post('/mfa/totp/confirm', signInForm, perRequest(mfaTotpConfirm));
  app.post('/mfa/recovery-codes', signInForm, perRequest(mfaRecoveryCodes));
  app.post('/mfa/passkey/verify', signInForm, perRequest(mfaPasskeyVerifySubmit));
  app.post('/mfa/passkeys', signInForm, perRequest(mfaPasskeyAddSubmit));
  app.post('/mfa/passkeys/remove', signInForm, perRequest(mfaPasskeyRemoveSubmit));
  // The signed-in user's account page (endpoints/account.ts), unless `account.enabled` is false.
  if (ctx.config.account.enabled) {
    app.get('/account', page, perRequest(accountPageEndpoint));
    for (const [path, handler] of Object.entries({ ...accountSignInForms, ...accountForms }))
      app.post(`/account${path}`, signInForm, perRequest(handler));
  }
}

/** RFC 8628 device flow and OpenID Connect CIBA Core 1.0: the client requests and the user pages. */
function registerDeviceAndCibaRoutes(
  app: FastifyInstance,
  perRequest: PerRequest,
  certificates: ClientCertificates,
): void {
  // The client's request (JSON): RFC 8628 device authorization; CIBA Core's authentication request.
  const clientRequest = (ipRateLimit: 'deviceAuthorizationPerIp' | 'backchannelPerIp') => ({
    config: { errorFormat: 'json' as const, ipRateLimit },
  });
  app.post(
    '/device_authorization',
    clientRequest('deviceAuthorizationPerIp'),
    perRequest((scoped) => deviceAuthorizationEndpoint(scoped, certificates)),
  );
  app.post(
    '/bc-authorize',
    clientRequest('backchannelPerIp'),
    perRequest((scoped) => backchannelAuthenticationEndpoint(scoped, certificates)),
  );
  // The user's pages (HTML) a link opens (endpoints/link-sign-in.ts): RFC 8628 verification, where the
  // user types the code the device shows, and the CIBA approval the notifier's link opens.
  type Options = typeof page | typeof signInForm;
  const linkPages: ReadonlyArray<[method: 'GET' | 'POST', url: string, options: Options, Endpoint]> = [
    ['GET', '/device', page, deviceVerificationPage],
    ['POST', '/device', page, deviceCodeSubmit],
    ['POST', '/device/login', signInForm, deviceLoginSubmit],
    ['POST', '/device/decision', page, deviceDecisionSubmit],
    ['POST', '/device/mfa', signInForm, deviceSecondFactorSubmit],
    ['POST', '/device/passkey', signInForm, (scoped) => deviceSecondFactorSubmit(scoped, 'passkey')],
    ['GET', '/bc-approve', page, backchannelApprovalPage],
    ['POST', '/bc-approve/login', signInForm, backchannelApprovalLogin],
    ['POST', '/bc-approve/mfa', signInForm, backchannelApprovalSecondFactor],
    [
      'POST',
      '/bc-approve/passkey',
      signInForm,
      (scoped) => backchannelApprovalSecondFactor(scoped, 'passkey'),
    ],
    ['POST', '/bc-approve/decision', page, backchannelApprovalDecision],
  ];
  for (const [method, url, options, endpoint] of linkPages)
    app.route({ method, url, ...options, handler: perRequest(endpoint) });
}

/** RFC 7591 registration and RFC 7592 management (JSON bodies), only when configured. */
function registerRegistrationRoutes(app: FastifyInstance, ctx: ServerContext, perRequest: PerRequest): void {
  const initialTokenHashes = initialAccessTokenHashes(ctx.config);
  const registration = (pick: (endpoints: ReturnType<typeof registrationEndpoints>) => Handler) =>
    perRequest((scoped) => pick(registrationEndpoints(scoped, initialTokenHashes)));
  app.post(
    '/register',
    { config: { errorFormat: 'json', ipRateLimit: 'registerPerIp', jsonBody: true } },
    registration((endpoints) => endpoints.register),
  );
  app.get(
    '/register/:clientId',
    { config: { errorFormat: 'json' } },
    registration((e) => e.read),
  );
  app.put(
    '/register/:clientId',
    { config: { errorFormat: 'json', jsonBody: true } },
    registration((endpoints) => endpoints.update),
  );
  app.delete(
    '/register/:clientId',
    { config: { errorFormat: 'json' } },
    registration((e) => e.remove),
  );
}

/**
 * The admin API (`admin.enabled`, endpoints/admin/routes.ts): JSON in and out, RFC 9457 problem details for
 * every error, each route's operator token checked by the endpoint (endpoints/admin/support.ts).
 */
function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const limited = { errorFormat: 'problem' as const, ipRateLimit: 'adminPerIp' as const };
  app.get(`${adminBasePath}/openapi.json`, { config: limited }, openApiEndpoint(ctx));
  for (const { method, path, body, endpoint } of adminRoutes)
    app.route({
      method,
      url: `${adminBasePath}${path}`,
      config: body === 'json' ? { ...limited, jsonBody: true } : limited,
      handler: (request, reply) => endpoint(requestContext(ctx, request.id))(request, reply),
    });
}

/** The methods a path may be asked for; those it does not serve get 405 (HEAD included: no implicit HEAD). */
const answeredMethods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

interface RouteEntry {
  url: string;
  segments: string[];
  methods: string[];
  format: ErrorFormat | undefined;
  /** The path reads JSON bodies (the admin API): a body sent with another method is then answered 405. */
  jsonBody: boolean;
}

/**
 * What the routes registered, collected by an `onRoute` hook (app.ts) while registerRoutes runs: the
 * not-found handler answers a served path's other methods 405 from it, and errors raised before routing
 * take their path's format from it.
 */
export class RouteTable {
  private readonly entries = new Map<string, RouteEntry>();

  add(route: RouteOptions): void {
    let entry = this.entries.get(route.url);
    if (entry === undefined) {
      entry = {
        url: route.url,
        segments: route.url.split('/'),
        methods: [],
        format: undefined,
        jsonBody: false,
      };
      this.entries.set(route.url, entry);
    }
    entry.methods.push(...(Array.isArray(route.method) ? route.method : [route.method]));
    entry.format ??= route.config?.errorFormat;
    entry.jsonBody ||= route.config?.jsonBody === true;
  }

  /** Each path and the methods it serves, in registration order. */
  methods(): ReadonlyMap<string, readonly string[]> {
    return new Map([...this.entries].map(([url, entry]) => [url, entry.methods]));
  }

  /** The registered path a request path (raw, possibly malformed) names, if any. */
  private entryOf(url: string): RouteEntry | undefined {
    const segments = url.split('?', 1)[0]!.split('/');
    for (const entry of this.entries.values()) {
      if (
        entry.segments.length === segments.length &&
        entry.segments.every(
          (part, index) => part === segments[index] || (part.startsWith(':') && segments[index] !== ''),
        )
      )
        return entry;
    }
    return undefined;
  }

  /** The error format of the route a request path names; JSON when none. */
  errorFormatOf(url: string): ErrorFormat {
    return this.entryOf(url)?.format ?? 'json';
  }

  /** Whether the path reads JSON bodies (with any method); undefined for a path no route serves. */
  readsJson(url: string): boolean | undefined {
    return this.entryOf(url)?.jsonBody;
  }

  /**
   * The `Allow` value when `method` is one a path may be asked for but the path does not serve it
   * (RFC 9110 §15.5.6; HEAD included: no implicit HEAD); undefined when the path is unknown.
   */
  allowedInstead(method: string, url: string): string | undefined {
    if (!(answeredMethods as readonly string[]).includes(method)) return undefined;
    const entry = this.entryOf(url);
    if (entry === undefined || entry.methods.includes(method)) return undefined;
    return entry.methods.join(', ');
  }
}
