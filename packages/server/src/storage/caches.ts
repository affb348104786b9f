/**
 * In-process views of data read on every request that changes rarely: clients, and what can still revoke
 * a live access token. Each is checked against a change version (SQLite's `data_version`, which changes
 * whenever another connection commits; PostgreSQL's change counters, postgres.ts) read at most once per
 * event-loop turn, and cleared at once by writes through this process's repositories.
 */
import type { Client } from '../model.ts';
import { maxAccessTokenTtl } from '../model.ts';

/** A value read now, or once a query answers. */
export type Reading<T> = () => T | Promise<T>;

export type VersionSource = Reading<number>;

/** What a change version is kept for; PostgreSQL has one counter per topic (postgres.ts). */
export const changeTopics = ['clients', 'revocations', 'catalog'] as const;

export type ChangeTopic = (typeof changeTopics)[number];

/** The change version of every topic, read together (one statement). */
export type ChangeVersions = Record<ChangeTopic, number>;

/**
 * A change version read at most once per event-loop turn: under load one turn handles many requests, and
 * they share one reading. The reading is forgotten at the turn's check phase, so another process's commit
 * is seen by every lookup from the next turn on: staleness is bounded by one turn of the loop, far less
 * than the network time between the process that committed (the CLI, another node) and any request that
 * could know about its change.
 */
export function oncePerTurn<T>(source: Reading<T>): Reading<T> {
  let reading: T | Promise<T> | undefined;
  const forget = () => {
    reading = undefined;
  };
  return () => {
    if (reading === undefined) {
      reading = source();
      setImmediate(forget);
    }
    return reading;
  };
}

/** One topic's version out of a reading of every topic's (shared by the caches through oncePerTurn). */
export function topicVersion(versions: Reading<ChangeVersions>, topic: ChangeTopic): VersionSource {
  return () => {
    const reading = versions();
    return reading instanceof Promise ? reading.then((all) => all[topic]) : reading[topic];
  };
}

/**
 * Clients are read on every token, introspection and revocation request and change rarely, so found
 * clients (and the list of all of them) are cached in memory, and dropped when the change version moves.
 * Unknown ids are not cached, so random ids cannot fill memory.
 */
export class ClientCache {
  private readonly entries = new Map<string, Client>();
  /** Every client, for rules that look at all of them (CORS origins); the same array until a change. */
  private all: readonly Client[] | undefined;
  private version: number | undefined;

  constructor(private readonly dataVersion: VersionSource) {}

  readonly clear = (): void => {
    this.entries.clear();
    this.all = undefined;
  };

  private async current(): Promise<void> {
    const version = await this.dataVersion();
    if (version !== this.version) {
      this.version = version;
      this.clear();
    }
  }

  async list(load: () => Promise<Client[]>): Promise<readonly Client[]> {
    await this.current();
    if (this.all !== undefined) return this.all;
    const clients = await load();
    if (this.version === (await this.dataVersion())) this.all = clients;
    return clients;
  }

  async get(clientId: string, load: () => Promise<Client | undefined>): Promise<Client | undefined> {
    await this.current();
    const cached = this.entries.get(clientId);
    if (cached !== undefined) return cached;
    const client = await load();
    // Only cache what was read while nothing changed, and keep the map bounded.
    if (client !== undefined && this.version === (await this.dataVersion())) {
      if (this.entries.size >= 10_000) this.entries.clear();
      this.entries.set(clientId, client);
    }
    return client;
  }
}

/**
 * Introspection and userinfo ask on every request whether a token was revoked; the answer comes from an
 * in-memory view of what can still revoke a live token (revoked jtis not yet expired, grants revoked
 * within the longest access-token lifetime plus a minute), so the hot path reads no row. The view is
 * reloaded after any local revocation, whenever the change version moves, and every minute to drop what
 * has expired. The version is read before the reload, so a write that commits during a reload is picked up
 * by the next check.
 */
export class RevocationView {
  private jtis = new Set<string>();
  private grantIds = new Set<string>();
  private version: number | undefined;
  private loadedAt = 0;
  private dirty = true;

  constructor(private readonly dataVersion: VersionSource) {}

  readonly invalidate = (): void => {
    this.dirty = true;
  };

  async isRevoked(
    jti: string,
    grantId: string | undefined,
    now: number,
    load: (grantsSince: number) => Promise<{ jtis: string[]; grantIds: string[] }>,
  ): Promise<boolean> {
    const version = await this.dataVersion();
    if (this.dirty || version !== this.version || now - this.loadedAt >= 60 || now < this.loadedAt) {
      this.dirty = false;
      this.version = version;
      this.loadedAt = now;
      const live = await load(now - maxAccessTokenTtl - 60);
      this.jtis = new Set(live.jtis);
      this.grantIds = new Set(live.grantIds);
    }
    return this.jtis.has(jti) || (grantId !== undefined && this.grantIds.has(grantId));
  }
}
