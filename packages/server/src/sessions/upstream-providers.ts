/**
 * The configured upstream providers (config/upstreams.ts), each with the @gatehouse/client
 * relying-party client that talks to it through the address guard (protocol/outbound-fetch.ts), and each
 * client's allow-list. Built once at start-up (server.ts); the sign-in flow is in sessions/upstream.ts.
 */
import { readFileSync } from 'node:fs';
import { type ClientAuthentication, OAuthClient } from '@gatehouse/client';
import { entraIssuerRule } from '../config/upstream-presets.ts';
import type { UpstreamConfig } from '../config/upstreams.ts';
import { guardedFetch } from '../protocol/outbound-fetch.ts';
import type { PasswordHasher } from '../protocol/passwords.ts';
import { oauth2Metadata } from './upstream-oauth2.ts';

/** One configured upstream provider and the relying-party client that talks to it. */
export interface UpstreamProvider {
  config: UpstreamConfig;
  client: OAuthClient;
  redirectUri: string;
}

function clientAuthentication(config: UpstreamConfig): ClientAuthentication {
  if (config.privateKeyJwt !== undefined) {
    const { keyFile, algorithm } = config.privateKeyJwt;
    let privateKey: Record<string, unknown>;
    try {
      privateKey = JSON.parse(readFileSync(keyFile, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new Error(
        `upstream "${config.id}": privateKeyJwt.keyFile ${keyFile}: ${(error as Error).message}`,
      );
    }
    if (typeof privateKey.d !== 'string')
      throw new Error(`upstream "${config.id}": privateKeyJwt.keyFile ${keyFile} is not a private JWK`);
    return { method: 'private_key_jwt', privateKey, ...(algorithm === undefined ? {} : { algorithm }) };
  }
  return { method: config.tokenEndpointAuthMethod, clientSecret: config.clientSecret ?? '' };
}

/** The configured upstream providers, each with its client; built once at start-up (server.ts). */
export class UpstreamProviders {
  private readonly byId = new Map<string, UpstreamProvider>();

  constructor(
    configs: readonly UpstreamConfig[],
    /** Each client's allow-list (config `clients[].upstreams`), by client id. */
    private readonly clients: readonly { clientId: string; upstreams: readonly string[] }[],
    issuer: string,
    now: () => number,
    /** Hashes the random, never-shown password of a provisioned account. */
    readonly passwords: PasswordHasher,
  ) {
    for (const config of configs) {
      const redirectUri = `${issuer}/upstream/${config.id}/callback`;
      const metadata = oauth2Metadata(config);
      const issuerRule = entraIssuerRule(config);
      const client = new OAuthClient({
        issuer: config.issuer,
        ...(metadata === undefined ? {} : { metadata }),
        ...(issuerRule === undefined ? {} : { issuerRule }),
        clientId: config.clientId,
        clientAuthentication: clientAuthentication(config),
        redirectUri,
        par: 'never',
        http: {
          fetch: guardedFetch(config.allowPrivateAddresses),
          timeout: 10_000,
          maxResponseSize: 256 * 1024,
        },
        clock: now,
      });
      this.byId.set(config.id, { config, client, redirectUri });
    }
  }

  get size(): number {
    return this.byId.size;
  }

  /** The provider `id`, whichever client it serves (logout at the upstream, sessions/upstream-logout.ts). */
  get(id: string): UpstreamProvider | undefined {
    return this.byId.get(id);
  }

  /** The providers `clientId` may offer (its `upstreams` in the config file), in that order. */
  forClient(clientId: string): UpstreamProvider[] {
    const allowed = this.clients.find((client) => client.clientId === clientId)?.upstreams ?? [];
    return allowed.flatMap((id) => {
      const provider = this.byId.get(id);
      return provider === undefined ? [] : [provider];
    });
  }

  /** The provider `id` when `clientId` may use it. */
  allowed(clientId: string, id: string | undefined): UpstreamProvider | undefined {
    return this.forClient(clientId).find((provider) => provider.config.id === id);
  }
}
