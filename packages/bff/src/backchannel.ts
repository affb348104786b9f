/**
 * The back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0 §2.5-§2.8): `POST backchannel`
 * with one `logout_token`, checked by @gatehouse/client's LogoutTokenValidator, ends every session of its
 * `sid`, or of its `sub` when no `sid` is given; a replayed `jti` is refused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type LogoutTokenClaims, LogoutTokenError, LogoutTokenValidator } from '@gatehouse/client';
import type { BffContext } from './context.ts';
import { readBody, sendError, sha256 } from './http.ts';

/** The largest request body accepted, in bytes. */
const bodyLimit = 64 * 1024;

export class BackchannelLogout {
  private readonly logoutTokens: LogoutTokenValidator;

  constructor(private readonly context: BffContext) {
    this.logoutTokens = new LogoutTokenValidator({
      issuer: context.issuer,
      clientId: context.clientId,
      now: context.clock,
      key: (header) => context.client.issuerKey(header),
    });
  }

  /** `POST backchannel`: 200 when the token was valid and its sessions are ended, else 400 (or 413). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { store, clock } = this.context;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      sendError(res, 400, 'invalid_request', 'send logout_token as application/x-www-form-urlencoded');
      return;
    }
    const body = await readBody(req, bodyLimit);
    if (body === undefined) {
      sendError(res, 413, 'invalid_request', 'the request body is too large');
      return;
    }
    const tokens = new URLSearchParams(body).getAll('logout_token');
    if (tokens.length !== 1 || tokens[0] === '') {
      sendError(res, 400, 'invalid_request', 'send exactly one logout_token');
      return;
    }
    let claims: LogoutTokenClaims;
    try {
      claims = await this.logoutTokens.validate(tokens[0]!);
    } catch (error) {
      const description =
        error instanceof LogoutTokenError ? error.message : 'the logout token could not be checked';
      sendError(res, 400, 'invalid_request', description);
      return;
    }
    // Replays are refused (§2.6 step 7 allows it), with the store's atomic create-if-absent: of several
    // nodes receiving the same token at once, exactly one accepts it.
    const jtiKey = `jti:${sha256(claims.jti)}`;
    if (!(await store.add(jtiKey, { data: '1', expiresAt: claims.expiresAt }, clock()))) {
      sendError(res, 400, 'invalid_request', 'this logout token was used already');
      return;
    }
    if (claims.sid !== undefined) await store.deleteBySid(claims.sid);
    else if (claims.sub !== undefined) await store.deleteBySub(claims.sub);
    res.writeHead(200, { 'cache-control': 'no-store' });
    res.end();
  }
}
