/**
 * Background POSTs that are retried: back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0
 * §2.8) and CIBA pings (CIBA Core §10.2). A timeout, a network error, 408, 429 or 5xx is tried again after
 * a pause that doubles (up to a minute); any other status is final. At most `maxInFlight` deliveries
 * retry at once, so a dead endpoint cannot pile up work; beyond that a delivery gets one attempt.
 * `drain()` at close cancels the pauses and waits for the attempts on the wire.
 */

export type AttemptOutcome =
  | { ok: true; status: number }
  | { ok: false; status: number | null; reason: 'status' | 'timeout' | 'network'; retry: boolean };

export interface DeliveryResult {
  /** The last attempt's outcome; undefined when shutdown came before the first. */
  outcome: AttemptOutcome | undefined;
  attempts: number;
  shutdown: boolean;
}

const maxPauseMs = 60_000;

/** The outcome of an answer with this status: 2xx delivered; 408, 429 and 5xx worth another try. */
export function statusOutcome(status: number): AttemptOutcome {
  if (status >= 200 && status < 300) return { ok: true, status };
  return { ok: false, status, reason: 'status', retry: status === 408 || status === 429 || status >= 500 };
}

/** The outcome of an attempt that threw (no answer): a timeout or a network error, both worth a retry. */
export function failureOutcome(error: unknown): AttemptOutcome {
  const timedOut =
    error instanceof Error &&
    (error.name === 'TimeoutError' || error.name === 'AbortError' || error.message === 'timed out');
  return { ok: false, status: null, reason: timedOut ? 'timeout' : 'network', retry: true };
}

export class RetriedDeliveries {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly pauses = new Set<() => void>();
  private closing = false;

  constructor(
    /** The first pause between attempts, in milliseconds; each later pause doubles. */
    private readonly firstPauseMs = 1000,
    private readonly maxInFlight = 256,
  ) {}

  /**
   * Makes up to `attempts` attempts in the background (one when `maxInFlight` deliveries are already
   * running); the promise resolves with the result and never rejects unless `attempt` throws.
   */
  deliver(attempts: number, attempt: () => Promise<AttemptOutcome>): Promise<DeliveryResult> {
    const allowed = this.inFlight.size < this.maxInFlight ? attempts : 1;
    const delivery = this.run(allowed, attempt);
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery)).catch(() => undefined);
    return delivery;
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

  private async run(attempts: number, attempt: () => Promise<AttemptOutcome>): Promise<DeliveryResult> {
    let outcome: AttemptOutcome | undefined;
    for (let number = 1; number <= attempts; number++) {
      if (number > 1 && !(await this.pause(Math.min(this.firstPauseMs * 2 ** (number - 2), maxPauseMs))))
        return { outcome, attempts: number - 1, shutdown: true };
      outcome = await attempt();
      if (outcome.ok || !outcome.retry) return { outcome, attempts: number, shutdown: false };
    }
    return { outcome, attempts, shutdown: false };
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
