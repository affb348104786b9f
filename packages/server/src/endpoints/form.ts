/**
 * The parameters of a back-channel POST (/token, /par, /revoke, /introspect, /device_authorization). Each
 * of them takes only `application/x-www-form-urlencoded` (RFC 6749 §3.2, RFC 9126 §2.1, RFC 7009 §2.1,
 * RFC 7662 §2.1, RFC 8628 §3.1); the HTTP adapter's parser (http/app.ts) has turned the body into value
 * lists, and `toParams` refuses duplicated parameters.
 */
import type { FastifyRequest } from 'fastify';
import { OAuthError } from '../protocol/errors.ts';
import { type Params, type RawParams, toParams } from '../protocol/params.ts';

export function formParams(request: FastifyRequest): { raw: RawParams; params: Params } {
  if (!request.headers['content-type']?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const raw = (request.body as RawParams | undefined) ?? {};
  return { raw, params: toParams(raw) };
}
