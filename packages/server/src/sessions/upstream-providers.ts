/**
 * The configured upstream providers (config/upstreams.ts), each with the @gatehouse/client
 * relying-party client that talks to it through the address guard (protocol/outbound-fetch.ts). Built once
 * at start-up (server.ts); which of them a client offers is the stored client's `upstreams` (config file,
 * CLI or admin API alike). The sign-in flow is in sessions/upstream.ts.
 */
import { readFileSync } from 'node:fs';
import { type ClientAuthentication, OAuthClient } from '@gatehouse/client';
import { entraIssuerRule } from '../config/upstream-presets.ts';
import type { UpstreamConfig } from '../config/upstreams.ts';
import type { Client } from '../model.ts';
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

  /** The providers `client` may offer (its `upstreams`), in that order. */
  forClient(client: Pick<Client, 'upstreams'>): UpstreamProvider[] {
    return (client.upstreams ?? []).flatMap((id) => {
      const provider = this.byId.get(id);
      return provider === undefined ? [] : [provider];
    });
  }

  /** The provider `id` when `client` may use it. */
  allowed(client: Pick<Client, 'upstreams'>, id: string | undefined): UpstreamProvider | undefined {
    return this.forClient(client).find((provider) => provider.config.id === id);
  }
}
