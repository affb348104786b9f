/**
 * Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.8): when a login session
 * ends, each client with a grant from it and a `backchannel_logout_uri` gets a POST of a freshly signed
 * logout token, in the background. Any 2xx is success; redirects are not followed. Timeouts, network errors,
 * 408, 429 and 5xx are retried with doubling pauses; any other status is final (§2.8: 400 means the RP
 * rejected the token). Outcomes are audit events, never with the token. Not an SSRF vector: the only URLs
 * fetched come from client registration. `drain()` at close cancels pending retries.
 */
import type { GatehouseConfig } from '../config/schema.ts';
import {
  type AttemptOutcome,
  failureOutcome,
  RetriedDeliveries,
  statusOutcome,
} from '../protocol/retried-delivery.ts';
import { issueLogoutToken, type LogoutTokenSigner } from '../tokens/logout-token.ts';

/**
 * What delivery needs: a narrow part of the server context, so that the context, which holds the session
 * logout, is not imported back from here.
 */
export interface BackchannelDependencies extends LogoutTokenSigner {
  config: Pick<GatehouseConfig, 'logout'>;
  audit(event: string, fields?: Record<string, string | number | boolean | undefined | null>): void;
}

export interface BackchannelTarget {
  clientId: string;
  /** The client's registered back-channel logout URI. */
  uri: string;
  sub: string;
  sid: string;
}

export class BackchannelLogout {
  private readonly deliveries: RetriedDeliveries;

  constructor(
    private readonly ctx: BackchannelDependencies,
    /** The first pause between attempts, in milliseconds; each later pause doubles. */
    firstPauseMs = 1000,
  ) {
    this.deliveries = new RetriedDeliveries(firstPauseMs);
  }

  /**
   * Starts delivering to every target in the background and returns at once. `audit` records the outcomes
   * (the audit of the request that ended the session, so they carry its request id).
   */
  send(
    targets: readonly BackchannelTarget[],
    audit: BackchannelDependencies['audit'] = this.ctx.audit,
  ): void {
    for (const target of targets) {
      void this.deliver(target, audit).catch((error: unknown) => {
        audit('backchannel_logout_failed', {
          client_id: target.clientId,
          reason: error instanceof Error ? error.name : 'error',
        });
      });
    }
  }

  /** Deliveries still running (for tests and shutdown). */
  get pending(): number {
    return this.deliveries.pending;
  }

  /** Stops retrying and waits for the attempts on the wire (each bounded by its timeout). */
  drain(): Promise<void> {
    return this.deliveries.drain();
  }

  private async deliver(target: BackchannelTarget, audit: BackchannelDependencies['audit']): Promise<void> {
    const { backchannelAttempts, backchannelTimeout } = this.ctx.config.logout;
    const { outcome, attempts, shutdown } = await this.deliveries.deliver(backchannelAttempts, () =>
      this.attempt(target, backchannelTimeout),
    );
    if (outcome?.ok) {
      audit('backchannel_logout_delivered', { client_id: target.clientId, status: outcome.status, attempts });
      return;
    }
    audit('backchannel_logout_failed', {
      client_id: target.clientId,
      status: outcome?.status ?? null,
      reason: shutdown || outcome === undefined ? 'shutdown' : outcome.reason,
      attempts,
    });
  }

  private async attempt(target: BackchannelTarget, timeoutSeconds: number): Promise<AttemptOutcome> {
    const body = new URLSearchParams({
      logout_token: await issueLogoutToken(this.ctx, {
        clientId: target.clientId,
        sub: target.sub,
        sid: target.sid,
      }),
    }).toString();
    try {
      const response = await fetch(target.uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutSeconds * 1000),
      });
      // The body is not needed; cancelling it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      return statusOutcome(response.status);
    } catch (error) {
      return failureOutcome(error);
    }
  }
}
