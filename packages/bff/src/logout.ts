/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2). `POST logout` ends the local session,
 * revokes the refresh token (RFC 7009) and answers where to send the browser. The ID Token used as
 * `id_token_hint` never reaches the page: the answer is a one-time local URL (`GET logout/continue`)
 * that redirects to the end-session endpoint.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomToken } from '@gatehouse/client';
import type { BffContext } from './context.ts';
import { sendError, sendJson, sendRedirect, sha256 } from './http.ts';
import type { Sessions } from './session.ts';

/** Seconds a logout ticket can be used. */
const logoutTicketTtl = 120;

export class RpLogout {
  constructor(
    private readonly context: BffContext,
    private readonly sessions: Sessions,
  ) {}

  /** `POST logout`: answers `{ location }`, the page the SPA navigates to next. */
  async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { client, postLogoutRedirectUri } = this.context;
    const session = await this.sessions.fromRequest(req);
    const cleared = { 'set-cookie': this.sessions.clearedCookie() };
    if (session === undefined) {
      sendJson(res, 200, { location: postLogoutRedirectUri }, cleared);
      return;
    }
    await this.sessions.end(session.key);
    const { refreshToken, idToken } = session.data;
    // Offline grants outlive the server's login session, so the refresh token is revoked here.
    if (refreshToken !== undefined) {
      await client.revoke(refreshToken, { tokenTypeHint: 'refresh_token' }).catch(() => {});
    }
    let endSession: URL;
    try {
      const request: { postLogoutRedirectUri: string; idTokenHint?: string } = { postLogoutRedirectUri };
      if (idToken !== undefined) request.idTokenHint = idToken;
      endSession = await client.endSessionUrl(request);
    } catch {
      sendJson(res, 200, { location: postLogoutRedirectUri }, cleared);
      return;
    }
    const ticket = randomToken();
    const key = `logout:${sha256(ticket)}`;
    await this.context.store.set(key, {
      data: this.context.sealer.seal(endSession.href, key),
      expiresAt: this.context.clock() + logoutTicketTtl,
    });
    sendJson(res, 200, { location: `${this.context.basePath}/logout/continue?ticket=${ticket}` }, cleared);
  }

  /** `GET logout/continue?ticket=`: redirects once to the end-session URL the ticket stands for. */
  async continue(res: ServerResponse, query: string): Promise<void> {
    const { store, sealer, clock } = this.context;
    const ticket = new URLSearchParams(query).get('ticket');
    const key = `logout:${sha256(ticket ?? '')}`;
    const record = ticket === null ? undefined : await store.take(key, clock());
    const location = record === undefined ? undefined : sealer.open<string>(record.data, key);
    if (location === undefined) {
      sendError(res, 400, 'invalid_request', 'unknown or used logout ticket');
      return;
    }
    sendRedirect(res, location);
  }
}
