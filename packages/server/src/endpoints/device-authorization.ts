/**
 * POST /device_authorization: the device authorization request and response (RFC 8628 §3.1, §3.2).
 *
 * - Form-encoded POST only. The client authenticates exactly as at the token endpoint (RFC 8628 §3.1 points
 *   at RFC 6749 §3.2.1; public clients send `client_id`), and must be registered for the device_code grant
 *   (unauthorized_client). `scope` is required and validated like at /authorize (invalid_scope); RFC 8707
 *   `resource` indicators must name known APIs (invalid_target). Errors are RFC 6749 §5.2 JSON, and every
 *   answer carries Cache-Control: no-store (RFC 8628 §3.2 makes the response a credential-bearing one).
 * - Rate limits: per IP (route rule `deviceAuthorizationPerIp`) and per authenticated client
 *   (`deviceAuthorizationPerClient`), since each request creates state and a user code (RFC 8628 §5.2).
 * - `device_code` is 256 random bits (RFC 8628 §5.2 wants it unguessable), stored only as a SHA-256 hash.
 * - `user_code` is 8 characters from the 20 consonants BCDFGHJKLMNPQRSTVWXZ (RFC 8628 §6.1): no vowels, so
 *   it spells no words and has no O or I, and no digits, so no 0 or 1 to mistake for them. 20^8 ≈ 2^34.6
 *   values against the few codes live at any time, plus the verification page's rate limits and lock, make
 *   guessing hopeless (RFC 8628 §5.1). It is shown as XXXX-XXXX and stored without the dash;
 *   the verification page normalises what users type (case, dashes, spaces). A collision with any stored
 *   code (live or not yet swept) makes the server draw again.
 * - `verification_uri_complete` carries the user code as a query parameter (RFC 8628 §3.3.1) so devices
 *   can show it as a QR code; the page still asks the user to confirm the code matches (§5.4).
 */
import { randomInt } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { deviceCodeGrantType } from '../grants/device-code.ts';
import { clientAuthRequest } from '../http/client-certificate.ts';
import { authenticateClient } from '../protocol/client-auth.ts';
import { OAuthError } from '../protocol/errors.ts';
import { parseScope } from '../protocol/scopes.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import { formParams } from './form.ts';
import { noStoreHeaders } from './responses.ts';

/** RFC 8628 §6.1: consonants only (no vowels, so no words and no O/I), no digits (no 0/1). */
export const userCodeAlphabet = 'BCDFGHJKLMNPQRSTVWXZ';
export const userCodeLength = 8;

const maxDraws = 10;

export function randomUserCode(): string {
  let code = '';
  for (let index = 0; index < userCodeLength; index++)
    code += userCodeAlphabet[randomInt(userCodeAlphabet.length)];
  return code;
}

/** How a stored (normalised) user code is shown: XXXX-XXXX. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What users type, normalised: uppercase, dashes and white space removed. Returns undefined when the
 * result cannot be a user code (wrong length or a character outside the alphabet), so it is never looked up.
 */
export function normaliseUserCode(input: string | undefined): string | undefined {
  if (input === undefined || input.length > 64) return undefined;
  const code = input.toUpperCase().replace(/[\s\-\u2010-\u2015\u2212]/g, '');
  if (code.length !== userCodeLength) return undefined;
  for (const character of code) if (!userCodeAlphabet.includes(character)) return undefined;
  return code;
}

export function deviceAuthorizationEndpoint(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { params } = formParams(request);
    const client = await authenticateClient(
      ctx,
      clientAuthRequest(ctx, request),
      params,
      'device_authorization',
    );
    await ctx.rateLimits.hit('deviceAuthorizationPerClient', client.clientId);
    if (!client.grantTypes.includes(deviceCodeGrantType)) {
      throw new OAuthError('unauthorized_client', 'the client is not registered for the device_code grant');
    }
    const scopes = parseScope(params.get('scope'));
    if (scopes.length === 0) throw new OAuthError('invalid_scope', 'scope is required');
    ctx.catalog.assertAllowed(scopes, client.scopes);
    const resources = [...new Set(params.getAll('resource'))];
    ctx.catalog.resolveResources(resources);

    const now = ctx.now();
    const { codeTtl, interval } = ctx.config.device;
    const deviceCode = randomHandle();
    const deviceCodeHash = sha256Base64Url(deviceCode);
    let userCode: string | undefined;
    for (let draw = 0; draw < maxDraws && userCode === undefined; draw++) {
      const candidate = randomUserCode();
      const created = await ctx.storage.deviceCodes.create({
        deviceCodeHash,
        userCode: candidate,
        clientId: client.clientId,
        scope: scopes,
        resources,
        interval,
        expiresAt: now + codeTtl,
        lastPolledAt: null,
        status: 'pending',
        userId: null,
        authTime: null,
        amr: null,
        sid: null,
        createdAt: now,
      });
      if (created) userCode = candidate;
    }
    if (userCode === undefined) {
      throw new OAuthError('temporarily_unavailable', 'no user code is available; try again later');
    }
    ctx.audit('device_authorization_issued', { client_id: client.clientId, scope: scopes.join(' ') });
    const shown = formatUserCode(userCode);
    const complete = new URL(ctx.endpoints.deviceVerification);
    complete.searchParams.set('user_code', shown);
    reply
      .headers(noStoreHeaders)
      .type('application/json')
      .send(
        JSON.stringify({
          device_code: deviceCode,
          user_code: shown,
          verification_uri: ctx.endpoints.deviceVerification,
          verification_uri_complete: complete.toString(),
          expires_in: codeTtl,
          interval,
        }),
      );
  };
}
