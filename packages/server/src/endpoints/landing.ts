/**
 * GET / (the issuer URL): a small HTML page with links to the metadata for a browser; a client asking for
 * JSON (or anything else) gets the JSON 404 every unknown path gets.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import type { ServerContext } from '../context.ts';
import { createTranslator } from '../views/i18n.ts';
import { landingPage } from '../views/landing.ts';

/** True when the Accept header prefers HTML to JSON (a browser's navigation); a missing header means JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return new Negotiator({ headers: { accept } }).mediaType(['application/json', 'text/html']) === 'text/html';
}

export function landingEndpoint(ctx: ServerContext) {
  const html = landingPage(
    {
      issuer: ctx.issuer,
      links: [
        {
          href: `${ctx.issuer}/.well-known/openid-configuration`,
          label: 'OpenID Connect discovery document',
        },
        {
          href: `${ctx.issuer}/.well-known/oauth-authorization-server`,
          label: 'OAuth 2.0 authorization server metadata (RFC 8414)',
        },
        { href: ctx.endpoints.jwks, label: 'Public signing keys (JWKS)' },
        ...(ctx.config.account.enabled
          ? [
              {
                href: `${ctx.issuer}/account`,
                label: 'Your account: the applications you allowed, your sessions',
              },
            ]
          : []),
      ],
    }, // The landing page is in English only (it is for developers, not for users signing in).
    { t: createTranslator('en', {}), theme: ctx.ui.theme },
  );
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!prefersHtml(request.headers.accept)) return reply.callNotFound();
    return reply.headers(ctx.ui.theme.securityHeaders).send(html);
  };
}
