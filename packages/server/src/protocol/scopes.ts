/**
 * Scopes (RFC 6749 §3.3) and audiences (RFC 8707, RFC 9068 §3). API scopes each belong to one API resource;
 * identity scopes (openid, profile, ...) belong to the OpenID Connect layer. An access token's `aud` is the
 * set of API resources its scopes (or explicit `resource` indicators) select.
 */
import type { ApiResourceConfig, GatehouseConfig } from '../config/schema.ts';
import { OAuthError } from './errors.ts';
import { sha256Base64Url } from './secrets.ts';

const scopeTokenPattern = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Splits a scope parameter; throws `invalid_scope` on a malformed token. Order kept, duplicates dropped. */
export function parseScope(value: string | undefined): string[] {
  if (value === undefined) return [];
  const scopes = value.split(' ').filter((token) => token !== '');
  for (const scope of scopes) {
    if (!scopeTokenPattern.test(scope))
      throw new OAuthError('invalid_scope', 'scope contains an invalid character');
  }
  return [...new Set(scopes)];
}

export interface ApiResource {
  id: string;
  uris: string[];
  scopes: string[];
  accessTokenTtl: number | undefined;
  accessTokenFormat: 'jwt' | 'opaque';
  /** Claims its access tokens carry (tokens/access-token-claims.ts): user claims, and `roles` when set. */
  claims: { user: string[]; roles: boolean | undefined };
  /** `scope` (RFC 9068 §2.2.3), `scp` (an array), or both. */
  scopeClaim: 'scope' | 'scp' | 'both';
  /** SHA-256 of the secret the API calls introspection with (RFC 7662 §2.1), when it has one. */
  secretHash: string | undefined;
}

/**
 * What the catalogue is built from: the file's identity resources, and the API scopes and resources of
 * the file and of the admin API (admin/api-catalog.ts; a stored resource has a secret hash, not a secret).
 */
export interface CatalogSource {
  identityResources: GatehouseConfig['identityResources'];
  apiScopes: { name: string; description: string }[];
  apiResources: (ApiResourceConfig & { secretHash?: string | undefined })[];
}

/** Where stored entries come from: a version that moves when they change, and the whole source. */
interface StoredEntries {
  version: () => number | Promise<number>;
  load: () => Promise<CatalogSource>;
}

export class ScopeCatalog {
  identityScopes = new Map<string, { description: string; claims: string[] }>();
  apiScopes = new Map<string, { description: string; resource: ApiResource | undefined }>();
  resourcesById = new Map<string, ApiResource>();
  private resourcesByUri = new Map<string, ApiResource>();
  /** Counts the builds, so what is derived from the catalogue (discovery) knows when to derive again. */
  generation = 0;
  private stored: StoredEntries | undefined;
  private seen: number | undefined;
  private stale = true;
  private loading: Promise<void> | undefined;

  constructor(source: CatalogSource) {
    this.build(source);
  }

  private build(source: CatalogSource): void {
    this.generation += 1;
    this.identityScopes = new Map(
      source.identityResources.map((r) => [r.name, { description: r.description, claims: r.claims }]),
    );
    this.resourcesById = new Map(
      source.apiResources.map((r) => [
        r.id,
        {
          id: r.id,
          uris: r.uris,
          scopes: r.scopes,
          accessTokenTtl: r.accessTokenTtl,
          accessTokenFormat: r.accessTokenFormat,
          claims: { user: r.claims.user, roles: r.claims.roles },
          scopeClaim: r.scopeClaim,
          secretHash: r.secretHash ?? (r.secret === undefined ? undefined : sha256Base64Url(r.secret)),
        },
      ]),
    );
    this.apiScopes = new Map(
      source.apiScopes.map((s) => [
        s.name,
        { description: s.description, resource: undefined as ApiResource | undefined },
      ]),
    );
    this.resourcesByUri = new Map();
    for (const resource of this.resourcesById.values()) {
      for (const scope of resource.scopes) {
        const entry = this.apiScopes.get(scope);
        if (entry) entry.resource = resource;
      }
      for (const uri of resource.uris) this.resourcesByUri.set(uri, resource);
    }
  }

  /**
   * Follows the stored entries (the admin API's): `current` rebuilds the catalogue from `load` when their
   * version moved since the last build, or after `invalidate` (this process's own writes).
   */
  follow(stored: StoredEntries): void {
    this.stored = stored;
  }

  readonly invalidate = (): void => {
    this.stale = true;
  };

  /**
   * Brings the catalogue up to date before a request uses it: one version read a loop turn when nothing
   * changed. The version is read before the load, so a write committed during a load is seen next time.
   */
  async current(): Promise<void> {
    const stored = this.stored;
    if (stored === undefined) return;
    const version = await stored.version();
    if (!this.stale && version === this.seen) return;
    this.loading ??= (async () => {
      this.stale = false;
      this.seen = version;
      try {
        this.build(await stored.load());
      } catch (error) {
        this.stale = true;
        throw error;
      } finally {
        this.loading = undefined;
      }
    })();
    await this.loading;
  }

  describe(scope: string): string {
    return this.identityScopes.get(scope)?.description ?? this.apiScopes.get(scope)?.description ?? scope;
  }

  /**
   * `scopes` grouped for the consent page: the identity scopes (api undefined) first, then each API
   * resource's scopes under its id, in the order the request named them (an API scope no resource owns
   * is a group of its own, named by the scope).
   */
  groupByApi(scopes: readonly string[]): { api: string | undefined; scopes: string[] }[] {
    const groups = new Map<string | undefined, string[]>([[undefined, []]]);
    for (const scope of scopes) {
      const api = this.identityScopes.has(scope)
        ? undefined
        : (this.apiScopes.get(scope)?.resource?.id ?? scope);
      const group = groups.get(api);
      if (group === undefined) groups.set(api, [scope]);
      else group.push(scope);
    }
    return [...groups]
      .filter(([, names]) => names.length > 0)
      .map(([api, names]) => ({ api, scopes: names }));
  }

  isIdentityScope(scope: string): boolean {
    return this.identityScopes.has(scope);
  }

  /** Every scope known to the server, for discovery. */
  allScopes(): string[] {
    return [...this.identityScopes.keys(), ...this.apiScopes.keys()];
  }

  /** Checks that every requested scope exists and is allowed for the client. */
  assertAllowed(requested: readonly string[], allowed: readonly string[]): void {
    for (const scope of requested) {
      if (!this.identityScopes.has(scope) && !this.apiScopes.has(scope)) {
        throw new OAuthError('invalid_scope', `scope ${scope} is not known`);
      }
      if (!allowed.includes(scope))
        throw new OAuthError('invalid_scope', `scope ${scope} is not allowed for this client`);
    }
  }

  /** Maps RFC 8707 resource indicators to API resources; throws `invalid_target` for anything unknown. */
  resolveResources(indicators: readonly string[]): ApiResource[] {
    return [...new Set(indicators)].map((indicator) => {
      let url: URL;
      try {
        url = new URL(indicator);
      } catch {
        throw new OAuthError('invalid_target', 'resource must be an absolute URI');
      }
      if (url.hash !== '' || indicator.includes('#'))
        throw new OAuthError('invalid_target', 'resource must not contain a fragment');
      const resource = this.resourcesByUri.get(indicator);
      if (resource === undefined) throw new OAuthError('invalid_target', 'resource is not a known API');
      return resource;
    });
  }

  /**
   * The audiences and access-token scopes for a set of granted scopes. With explicit resources, only their
   * API scopes stay in the token; without, every API whose scope was granted is an audience.
   */
  audienceFor(
    scopes: readonly string[],
    explicit: readonly ApiResource[],
  ): { audience: ApiResource[]; scopes: string[] } {
    if (explicit.length > 0) {
      const ids = new Set(explicit.map((r) => r.id));
      const kept = scopes.filter(
        (s) => this.identityScopes.has(s) || ids.has(this.apiScopes.get(s)?.resource?.id ?? ''),
      );
      return { audience: [...explicit], scopes: kept };
    }
    const audience = new Map<string, ApiResource>();
    for (const scope of scopes) {
      const resource = this.apiScopes.get(scope)?.resource;
      if (resource) audience.set(resource.id, resource);
    }
    return { audience: [...audience.values()], scopes: [...scopes] };
  }
}
