/**
 * Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.8): when a login session
 * ends, each client with a grant from it and a `backchannel_logout_uri` gets a POST of a freshly signed
 * logout token, in the background. Any 2xx is success; redirects are not followed. Timeouts, network errors,
 * 408, 429 and 5xx are retried with doubling pauses; any other status is final (§2.8: 400 means the RP
 * rejected the token). Outcomes are audit events, never with the token. Not an SSRF vector: the only URLs
 * fetched come from client registration. `drain()` at close cancels pending retries.
 */
import type { GatehouseConfig } from '../config/schema.ts';
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

type AttemptOutcome =
  | { ok: true; status: number }
  | { ok: false; status: number | null; reason: 'status' | 'timeout' | 'network'; retry: boolean };

const maxPauseMs = 60_000;

function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class BackchannelLogout {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly pauses = new Set<() => void>();
  private closing = false;

  constructor(
    private readonly ctx: BackchannelDependencies,
    /** The first pause between attempts, in milliseconds; each later pause doubles. */
    private readonly firstPauseMs = 1000,
  ) {}

  /**
   * Starts delivering to every target in the background and returns at once. `audit` records the outcomes
   * (the audit of the request that ended the session, so they carry its request id).
   */
  send(
    targets: readonly BackchannelTarget[],
    audit: BackchannelDependencies['audit'] = this.ctx.audit,
  ): void {
    for (const target of targets) {
      const delivery = this.deliver(target, audit).catch((error: unknown) => {
        audit('backchannel_logout_failed', {
          client_id: target.clientId,
          reason: error instanceof Error ? error.name : 'error',
        });
      });
      this.inFlight.add(delivery);
      void delivery.finally(() => this.inFlight.delete(delivery));
    }
  }

  /** Deliveries still running (for tests and shutdown). */
  get pending(): number {
    return this.inFlight.size;
  }

  /** Stops retrying and waits for the attempts on the wire (each bounded by its timeout). */
  async drain(): Promise<void> {
    this.closing = true;
    for (const wake of this.pauses) wake();
    this.pauses.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  private async deliver(target: BackchannelTarget, audit: BackchannelDependencies['audit']): Promise<void> {
    const { backchannelAttempts, backchannelTimeout } = this.ctx.config.logout;
    let last: Extract<AttemptOutcome, { ok: false }> | undefined;
    let attempts = 0;
    let shutdown = false;
    for (let attempt = 1; attempt <= backchannelAttempts; attempt++) {
      if (attempt > 1 && !(await this.pause(Math.min(this.firstPauseMs * 2 ** (attempt - 2), maxPauseMs)))) {
        shutdown = true;
        break;
      }
      attempts = attempt;
      const outcome = await this.attempt(target, backchannelTimeout);
      if (outcome.ok) {
        audit('backchannel_logout_delivered', {
          client_id: target.clientId,
          status: outcome.status,
          attempts,
        });
        return;
      }
      last = outcome;
      if (!outcome.retry) break;
    }
    audit('backchannel_logout_failed', {
      client_id: target.clientId,
      status: last?.status ?? null,
      reason: shutdown ? 'shutdown' : (last?.reason ?? 'shutdown'),
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
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return {
        ok: false,
        status: response.status,
        reason: 'status',
        retry: retryableStatus(response.status),
      };
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      return { ok: false, status: null, reason: timedOut ? 'timeout' : 'network', retry: true };
    }
  }

  /** Waits `ms` milliseconds; false when shutdown cut the pause short. */
  private pause(ms: number): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.pauses.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.pauses.delete(wake);
        resolve(true);
      }, ms);
      timer.unref();
      this.pauses.add(wake);
    });
  }
}
