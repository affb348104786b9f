/**
 * An MCP client's way in, as the MCP authorization specification lays it out: call the server, read the
 * RFC 9728 `resource_metadata` from its 401 challenge, fetch the protected resource metadata, take the
 * authorization server it names, read that server's metadata and register there (RFC 7591, a public
 * native client), sign the user in with the code flow and PKCE, asking for a token for this resource only
 * (RFC 8707 `resource`), then call the server's tools with the token. openid-client does the OAuth side.
 */
import * as oauth from 'openid-client';

export interface McpClientOptions {
  /** The MCP endpoint, e.g. `https://mcp.example.com/mcp`. */
  serverUrl: string;
  /** Where the authorization server sends the browser back: a loopback URL for a native client. */
  redirectUri: string;
  /** Shows the user the authorization URL and resolves with the URL the browser was sent back to. */
  authorize(url: URL): Promise<string>;
  /** Allow http to loopback servers (local demos and tests). */
  allowInsecureRequests?: boolean;
}

export interface McpSession {
  /** What the discovery found: the resource, its authorization server and the registered client id. */
  resource: string;
  authorizationServer: string;
  clientId: string;
  listTools(): Promise<unknown>;
  callTool(name: string, args?: Record<string, unknown>): Promise<unknown>;
}

/** One JSON-RPC call; the result, or an Error with the server's error message. */
async function rpc(url: string, token: string | undefined, method: string, params?: unknown, id?: number) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      method,
      ...(params === undefined ? {} : { params }),
      ...(id === undefined ? {} : { id }),
    }),
  });
  return response;
}

/** The `resource_metadata` URL of a 401 challenge (RFC 9728 §5.1). */
export function resourceMetadataOf(challenge: string | null): string | undefined {
  return /resource_metadata="([^"]+)"/.exec(challenge ?? '')?.[1];
}

export async function connect(options: McpClientOptions): Promise<McpSession> {
  const execute = options.allowInsecureRequests ? [oauth.allowInsecureRequests] : [];
  // 1. The server refuses and says where its metadata is.
  const first = await rpc(
    options.serverUrl,
    undefined,
    'initialize',
    { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'example', version: '0.1.0' } },
    0,
  );
  const metadataUrl = resourceMetadataOf(first.headers.get('www-authenticate'));
  if (first.status !== 401 || metadataUrl === undefined)
    throw new Error(`expected a 401 naming resource_metadata, got ${first.status}`);
  // 2. The protected resource metadata: the resource and its authorization server.
  const metadata = (await (await fetch(metadataUrl)).json()) as {
    resource: string;
    authorization_servers: string[];
    scopes_supported?: string[];
  };
  const authorizationServer = metadata.authorization_servers[0];
  if (authorizationServer === undefined) throw new Error('the resource names no authorization server');
  const scope = (metadata.scopes_supported ?? []).join(' ');
  // 3. Discovery and dynamic registration at the authorization server.
  const config = await oauth.dynamicClientRegistration(
    new URL(authorizationServer),
    {
      application_type: 'native',
      client_name: 'Example MCP client',
      redirect_uris: [options.redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope,
    },
    oauth.None(),
    { execute },
  );
  // 4. Code flow with PKCE, for this resource only.
  const verifier = oauth.randomPKCECodeVerifier();
  const state = oauth.randomState();
  const url = oauth.buildAuthorizationUrl(config, {
    redirect_uri: options.redirectUri,
    scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    resource: metadata.resource,
  });
  const callback = await options.authorize(url);
  const tokens = await oauth.authorizationCodeGrant(
    config,
    new URL(callback),
    { pkceCodeVerifier: verifier, expectedState: state },
    { resource: metadata.resource },
  );
  const token = tokens.access_token;
  // 5. The MCP session: initialize, then tools.
  let nextId = 1;
  const request = async (method: string, params?: unknown) => {
    const response = await rpc(options.serverUrl, token, method, params, nextId++);
    const body = (await response.json()) as { result?: unknown; error?: { message: string } };
    if (!response.ok || body.error !== undefined)
      throw new Error(`${method}: ${body.error?.message ?? `HTTP ${response.status}`}`);
    return body.result;
  };
  await request('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'example', version: '0.1.0' },
  });
  await rpc(options.serverUrl, token, 'notifications/initialized');
  return {
    resource: metadata.resource,
    authorizationServer,
    clientId: config.clientMetadata().client_id,
    listTools: () => request('tools/list'),
    callTool: (name, args = {}) => request('tools/call', { name, arguments: args }),
  };
}
