/**
 * GET /ui/logo and /ui/theme.css: the theme's logo and extra stylesheet (`ui.logo`, `ui.stylesheet`), read
 * once at start-up. They are same-origin resources the page CSP allows (`img-src 'self'`, the stylesheet's
 * URL in `style-src`), sent with their own type and `nosniff`, and a CSP that runs nothing should the
 * file be opened on its own (an SVG logo can hold script). /ui/webauthn.js is the script of the WebAuthn
 * ceremony pages, which allow it by a per-response nonce.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { webauthnScript } from '../views/webauthn-script.ts';

const assetHeaders = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
  'cache-control': 'public, max-age=3600',
  'cross-origin-resource-policy': 'same-origin',
};

export function logoEndpoint(logo: { body: Uint8Array; contentType: string }) {
  const body = Buffer.from(logo.body);
  return async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.headers({ ...assetHeaders, 'content-type': logo.contentType }).send(body);
}

export function themeStylesheetEndpoint(stylesheet: Uint8Array) {
  const body = Buffer.from(stylesheet);
  return async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.headers({ ...assetHeaders, 'content-type': 'text/css; charset=utf-8' }).send(body);
}

/** GET /ui/webauthn.js: the WebAuthn ceremony's script (views/webauthn-script.ts), the pages' only one. */
export function webauthnScriptEndpoint() {
  return async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.headers({ ...assetHeaders, 'content-type': 'text/javascript; charset=utf-8' }).send(webauthnScript);
}
