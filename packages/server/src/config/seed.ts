/**
 * Applies the clients and users declared in the config file to the store at start-up. Config clients are
 * replaced on every start (the file is their source of truth) and removed from the store, with their
 * grants and consents, when removed from the file; clients added with the CLI are left alone. Config users
 * are created once: a password changed later in the file does not overwrite the stored hash.
 */
import type { Client, ClientSecret } from '../model.ts';
import type { PasswordHasher } from '../protocol/passwords.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import type { Storage } from '../storage/ports.ts';
import type { ClientConfig, GatehouseConfig } from './schema.ts';

export async function applyConfiguredClients(
  storage: Storage,
  config: GatehouseConfig,
  now: number,
): Promise<void> {
  const declared = new Set(config.clients.map((client) => client.clientId));
  const existing = await storage.clients.list();
  await storage.transaction(async (repositories) => {
    for (const client of existing) {
      if (client.source === 'config' && !declared.has(client.clientId)) {
        // As `gatehouse client remove`: the client's grants (and so its tokens) and consents go with it.
        await repositories.clients.remove(client.clientId);
        await repositories.grants.revokeAllForClient(client.clientId, now);
        await repositories.consents.removeForClient(client.clientId);
      }
    }
    for (const client of config.clients) {
      const previous = existing.find((candidate) => candidate.clientId === client.clientId);
      await repositories.clients.save(clientRecord(client, 'config', previous?.createdAt ?? now));
    }
  });
}

/** Creates the config users the store does not hold yet (an argon2id hash each, on the thread pool). */
export async function applyConfiguredUsers(
  storage: Storage,
  config: GatehouseConfig,
  passwords: PasswordHasher,
  now: number,
): Promise<void> {
  for (const user of config.users) {
    if (await storage.users.findByUsername(user.username)) continue;
    await storage.users.create(
      {
        id: randomHandle(16),
        username: user.username,
        passwordHash: await passwords.hash(user.password),
        claims: user.claims,
        roles: user.roles,
        disabledAt: null,
      },
      now,
    );
  }
}

/** The client fields the store keeps as the config file writes them: same name, same value. */
export const fieldsAsWritten = [
  'clientId',
  'name',
  'tokenEndpointAuthMethod',
  'grantTypes',
  'redirectUris',
  'postLogoutRedirectUris',
  'scopes',
  'requireConsent',
  'corsOrigins',
  'requireDpop',
  'requirePushedAuthorizationRequests',
] as const;

type FieldsAsWritten = Pick<Client, (typeof fieldsAsWritten)[number]>;

/**
 * The fields of a client (the file's or the stored) that are the same in both forms, in that order:
 * from the file to the store (`clientRecord`) and back (the admin API's view of a client).
 */
export function clientFieldsAsWritten(client: FieldsAsWritten): FieldsAsWritten {
  return Object.fromEntries(fieldsAsWritten.map((field) => [field, client[field]])) as FieldsAsWritten;
}

/** The stored form of a client as the config schema describes it (the file's, or one added with the CLI). */
export function clientRecord(client: ClientConfig, source: Client['source'], createdAt: number): Client {
  return {
    ...clientFieldsAsWritten(client),
    secrets: configuredSecrets(client),
    accessTokenTtl: client.accessTokenTtl ?? null,
    source,
    createdAt,
    backchannelLogoutUri: client.backchannelLogoutUri ?? null,
    ...(client.backchannelTokenDeliveryMode === undefined
      ? {}
      : {
          backchannelAuthentication: {
            tokenDeliveryMode: client.backchannelTokenDeliveryMode,
            clientNotificationEndpoint: client.backchannelClientNotificationEndpoint ?? null,
          },
        }),
    ...(client.requireMfa ? { requireMfa: true } : {}),
    ...(client.upstreams.length === 0 ? {} : { upstreams: client.upstreams }),
    authentication: {
      jwks: client.jwks,
      jwksUri: client.jwksUri,
      tokenEndpointAuthSigningAlg: client.tokenEndpointAuthSigningAlg,
      tlsClientAuthSubjectDn: client.tlsClientAuthSubjectDn,
      tlsClientAuthSanDns: client.tlsClientAuthSanDns,
      tlsClientAuthSanUri: client.tlsClientAuthSanUri,
      tlsClientAuthSanIp: client.tlsClientAuthSanIp,
      tlsClientAuthSanEmail: client.tlsClientAuthSanEmail,
      tlsClientCertificateBoundAccessTokens: client.tlsClientCertificateBoundAccessTokens,
    },
    tokenExchange: client.tokenExchange ?? null,
    profile: client.profile ?? null,
    refreshTokenLifetime: {
      absolute: client.refreshTokenLifetime?.absolute ?? null,
      idle: client.refreshTokenLifetime?.idle ?? null,
    },
  };
}

/** `secret` (never expiring) or `secrets` as stored: SHA-256 hashes, expiries in seconds since the epoch. */
function configuredSecrets(client: ClientConfig): ClientSecret[] {
  if (client.secret !== undefined) return [{ hash: sha256Base64Url(client.secret), expiresAt: null }];
  return (client.secrets ?? []).map((secret) => ({
    hash: sha256Base64Url(secret.value),
    expiresAt: secret.expiresAt === undefined ? null : Math.floor(Date.parse(secret.expiresAt) / 1000),
  }));
}
