/**
 * What `gatehouse serve` prints once it listens: the addresses, the configured clients and users, and what
 * to try next: a sign-in URL that works (authorization code with PKCE S256, RFC 7636), the curl that
 * redeems its code, and the curl for a client-credentials token. Secrets are printed only with
 * `--show-demo-credentials`; otherwise the commands carry a placeholder.
 */
import type { ClientConfig, GatehouseConfig } from '../config/schema.ts';
import { isFapi2 } from '../protocol/profile.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';

export interface BannerAddresses {
  /** The issuer listener's bound address (it matters when the port is 0, chosen by the system). */
  issuerListener: string;
  /** The management listener's origin, when it runs. */
  management: string | undefined;
}

/** Single-quoted for a POSIX shell when it holds anything beyond plain URL characters. */
function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

const secretMethods = ['client_secret_basic', 'client_secret_post'];

/** The secret a demo banner may show: `secret`, or the first of `secrets` (the current one). */
function shownSecret(client: ClientConfig): string | undefined {
  return client.secret ?? client.secrets?.[0]?.value;
}

/** curl options that authenticate `client` at the token endpoint (a public client names itself). */
function clientAuthOptions(client: ClientConfig, showCredentials: boolean): string[] {
  if (client.tokenEndpointAuthMethod === 'none') return ['-d', shellWord(`client_id=${client.clientId}`)];
  const secret = (showCredentials ? shownSecret(client) : undefined) ?? 'CLIENT_SECRET';
  if (client.tokenEndpointAuthMethod === 'client_secret_post') {
    return ['-d', shellWord(`client_id=${client.clientId}`), '-d', shellWord(`client_secret=${secret}`)];
  }
  return ['-u', shellWord(`${client.clientId}:${secret}`)];
}

export interface TryNext {
  /** Open in a browser: the sign-in and consent pages, then a redirect to the client with `code`. */
  signInUrl: string;
  /** Redeems that code (replace CODE) for tokens. */
  codeExchange: string;
}

/**
 * A sign-in URL for the first client that can use one from a browser without more set-up: the
 * authorization code grant, a redirect URI, authentication by secret or none, and no PAR requirement.
 */
export function signInHint(
  config: GatehouseConfig,
  showCredentials: boolean,
  verifier = randomHandle(),
): TryNext | undefined {
  const client = config.clients.find(
    (candidate) =>
      candidate.grantTypes.includes('authorization_code') &&
      candidate.redirectUris.length > 0 &&
      [...secretMethods, 'none'].includes(candidate.tokenEndpointAuthMethod) &&
      !candidate.requirePushedAuthorizationRequests &&
      !config.par.required &&
      !isFapi2(config, candidate),
  );
  if (client === undefined) return undefined;
  const redirectUri = client.redirectUris[0]!;
  const identity = ['openid', 'profile'].filter((scope) => client.scopes.includes(scope));
  const scope = identity.length > 0 ? identity : client.scopes.slice(0, 1);
  const url = new URL(`${config.issuer}/authorize`);
  url.search = new URLSearchParams({
    client_id: client.clientId,
    response_type: 'code',
    scope: scope.join(' '),
    redirect_uri: redirectUri,
    code_challenge: sha256Base64Url(verifier),
    code_challenge_method: 'S256',
  }).toString();
  return {
    signInUrl: url.href,
    codeExchange: [
      'curl -s',
      '-d grant_type=authorization_code',
      '--data-urlencode code=CODE',
      `--data-urlencode ${shellWord(`redirect_uri=${redirectUri}`)}`,
      `-d code_verifier=${verifier}`,
      ...chunks(clientAuthOptions(client, showCredentials)),
      `${config.issuer}/token`,
    ].join(' '),
  };
}

function chunks(options: string[]): string[] {
  const pairs: string[] = [];
  for (let index = 0; index < options.length; index += 2)
    pairs.push(`${options[index]} ${options[index + 1]}`);
  return pairs;
}

/** The curl for a client-credentials token from the first client allowed that grant with a secret. */
export function tokenHint(config: GatehouseConfig, showCredentials: boolean): string | undefined {
  const client = config.clients.find(
    (candidate) =>
      candidate.grantTypes.includes('client_credentials') &&
      secretMethods.includes(candidate.tokenEndpointAuthMethod) &&
      !isFapi2(config, candidate),
  );
  if (client === undefined) return undefined;
  return [
    'curl -s',
    ...chunks(clientAuthOptions(client, showCredentials)),
    '-d grant_type=client_credentials',
    `${config.issuer}/token`,
  ].join(' ');
}

export function bannerLines(
  config: GatehouseConfig,
  addresses: BannerAddresses,
  showCredentials: boolean,
): string[] {
  const lines = [
    `Gatehouse is listening on ${addresses.issuerListener}. Issuer: ${config.issuer}`,
    `Discovery: ${config.issuer}/.well-known/openid-configuration`,
  ];
  if (addresses.management !== undefined) {
    lines.push(`Management (metrics, health): ${addresses.management}/metrics`);
  }
  lines.push('Clients:');
  for (const client of config.clients) {
    const type = client.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential';
    const shown = showCredentials ? shownSecret(client) : undefined;
    const secret = shown === undefined ? '' : `  secret: ${shown}`;
    lines.push(`  ${client.clientId} (${type}; ${client.grantTypes.join(', ')})${secret}`);
  }
  if (config.users.length > 0) {
    lines.push('Users:');
    for (const user of config.users) {
      const password = showCredentials ? `  password: ${user.password}` : '';
      lines.push(
        `  ${user.username}${user.roles.length ? ` (roles: ${user.roles.join(', ')})` : ''}${password}`,
      );
    }
  }
  const signIn = signInHint(config, showCredentials);
  const token = tokenHint(config, showCredentials);
  if (signIn !== undefined || token !== undefined) lines.push('Try it:');
  if (signIn !== undefined) {
    lines.push(
      `  Sign in: ${signIn.signInUrl}`,
      '  The browser then goes to the redirect URI with ?code=...; redeem it (within a minute) with:',
      `  ${signIn.codeExchange}`,
    );
  }
  if (token !== undefined) lines.push(`  A token for a service: ${token}`);
  if (lines.some((line) => line.includes('CLIENT_SECRET'))) {
    lines.push('  (CLIENT_SECRET: the client secret; --show-demo-credentials prints the demo ones)');
  }
  return lines;
}
