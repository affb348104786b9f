/**
 * Ending a login session, wherever it happens (RP-initiated logout, or another user signing in on the same
 * browser): the session is ended once, every grant made in it without `offline_access` is revoked (with
 * its refresh tokens; its access tokens are then refused by introspection and userinfo), and every client
 * that took part and registered a back-channel logout URI is notified in the background (OpenID Connect
 * Back-Channel Logout 1.0 §2.7). Grants with `offline_access` survive: that access was asked to outlive
 * the browser session.
 */
import type { Client, LoginSession } from '../model.ts';
import type { Storage } from '../storage/ports.ts';
import {
  type BackchannelDependencies,
  BackchannelLogout,
  type BackchannelTarget,
} from './backchannel-logout.ts';

/** What ending a session needs: a narrow part of the server context (which holds the session logout). */
export interface SessionLogoutDependencies extends BackchannelDependencies {
  storage: Pick<Storage, 'transaction'>;
  findClient(clientId: string): Promise<Client | undefined>;
}

export class SessionLogout {
  readonly backchannel: BackchannelLogout;

  constructor(private readonly ctx: SessionLogoutDependencies) {
    this.backchannel = new BackchannelLogout(ctx);
  }

  /**
   * Ends the session once, revokes its short-lived grants and notifies its clients in the background.
   * `audit` is the audit of the request that ends the session. False when it had ended already (another
   * request ended it first).
   */
  async endSession(
    session: LoginSession,
    clientId: string | undefined,
    audit: SessionLogoutDependencies['audit'] = this.ctx.audit,
  ): Promise<boolean> {
    const ctx = this.ctx;
    const backchannel = this.backchannel;
    const now = ctx.now();
    const outcome = await ctx.storage.transaction(async (repositories) => {
      if (!(await repositories.sessions.endBySid(session.sid, now))) return undefined;
      const grants = await repositories.grants.listBySid(session.sid);
      let revoked = 0;
      for (const grant of grants) {
        if (grant.revokedAt === null && !grant.scopes.includes('offline_access')) {
          await repositories.grants.revoke(grant.id, now);
          revoked++;
        }
      }
      return { grants, revoked };
    });
    if (outcome === undefined) return false;
    const targets: BackchannelTarget[] = [];
    for (const participant of new Set(outcome.grants.map((grant) => grant.clientId))) {
      const client = await ctx.findClient(participant);
      if (client?.backchannelLogoutUri)
        targets.push({
          clientId: client.clientId,
          uri: client.backchannelLogoutUri,
          sub: session.userId,
          sid: session.sid,
        });
    }
    audit('logout', {
      user_id: session.userId,
      sid: session.sid,
      client_id: clientId,
      revoked_grants: outcome.revoked,
      backchannel_clients: targets.length,
    });
    backchannel.send(targets, audit);
    return true;
  }
}
