/**
 * How a protected resource of this server (userinfo) receives an access token (RFC 6750 §2, RFC 9449 §7).
 * Only the Authorization header is accepted (§2.1): form and query tokens leak into logs and history (RFC
 * 9700 §4.3.2). A DPoP-bound token needs the DPoP scheme and a proof with its `ath` and `cnf.jkt` (RFC 9449
 * §7.1); sent as Bearer it is refused (§7.2), as is an unbound token under DPoP. Errors carry the scheme's
 * challenge (RFC 6750 §3); a request without a token gets both.
 */
import type { ServerContext } from '../context.ts';
import type { DpopRequest } from './dpop.ts';
import { OAuthError } from './errors.ts';
import type { RawParams } from './params.ts';

export interface PresentedAccessToken {
  scheme: 'Bearer' | 'DPoP';
  token: string;
}

/** RFC 6750 §2.2, §2.3: refuses an `access_token` in the form body or the query string. */
export function refuseTokenInParameters(query: RawParams, body: RawParams): void {
  if ('access_token' in query || 'access_token' in body) {
    throw new OAuthError(
      'invalid_request',
      'send the access token in the Authorization header, not in the URL or body',
    );
  }
}

/** RFC 9110 §11.6.2: `auth-scheme [ 1*SP credentials ]`, the scheme a token (§5.6.2). */
const authorizationSyntax = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/;
/** RFC 6750 §2.1 `b64token` (the token68 of RFC 9110 §11.2). */
const b64token = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * RFC 6750 §2.1, §3.1 and RFC 9449 §7.1: the token and scheme of an `Authorization: Bearer|DPoP` header.
 * No header, or another scheme (an authentication method this resource does not use), is a request without
 * credentials: 401 with bare challenges. A malformed header, or a Bearer or DPoP scheme whose credentials
 * are not one b64token, is `invalid_request` (400).
 */
export function presentedAccessToken(header: string | undefined): PresentedAccessToken {
  const noCredentials = () =>
    new OAuthError('invalid_token', 'an access token is required', { bareChallenge: true });
  if (header === undefined) throw noCredentials();
  const match = authorizationSyntax.exec(header);
  if (match === null) throw new OAuthError('invalid_request', 'the Authorization header is malformed');
  const name = match[1]!.toLowerCase();
  const scheme = name === 'bearer' ? 'Bearer' : name === 'dpop' ? 'DPoP' : undefined;
  if (scheme === undefined) throw noCredentials();
  const token = match[2] ?? '';
  if (!b64token.test(token))
    throw new OAuthError('invalid_request', `the ${scheme} credentials must be a single token`, {
      challenge: scheme,
    });
  return { scheme, token };
}

/**
 * RFC 9449 §7.1, §7.2: a token bound to key `jkt` needs the DPoP scheme and a proof by that key for this
 * request; an unbound token must not use the DPoP scheme.
 */
export async function checkDpopBinding(
  ctx: ServerContext,
  presented: PresentedAccessToken,
  jkt: string | undefined,
  proof: Omit<DpopRequest, 'accessToken' | 'now'>,
): Promise<void> {
  if (jkt === undefined) {
    if (presented.scheme === 'DPoP')
      throw new OAuthError(
        'invalid_token',
        'the access token is not DPoP-bound: send it with the Bearer scheme',
        { challenge: 'DPoP' },
      );
    return;
  }
  if (presented.scheme !== 'DPoP')
    throw new OAuthError('invalid_token', 'the access token is DPoP-bound: send it with the DPoP scheme', {
      challenge: 'DPoP',
    });
  const verified = await ctx.dpop.verify({ ...proof, accessToken: presented.token, now: ctx.now() });
  if (verified.jkt !== jkt)
    throw new OAuthError('invalid_token', 'the DPoP proof key is not the key the access token is bound to', {
      challenge: 'DPoP',
    });
}
