/**
 * The MCP example (examples/mcp-server) end to end on real ports: the client meets the MCP server's 401,
 * follows its RFC 9728 metadata to Gatehouse, registers there (RFC 7591), signs a user in through the
 * server's pages with code + PKCE and RFC 8707 `resource`, and calls the tools with the token it got.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../../examples/mcp-server/src/client.ts';
import { createMcpApp } from '../../../examples/mcp-server/src/server.ts';
import { testConfig } from '../../server/test/helpers.ts';
import {
  FetchBrowser,
  freePort,
  type ListeningServer,
  startListening,
} from '../../server/test/interop-helpers.ts';
import { closeServer } from './support.ts';

let gatehouse: ListeningServer;
let mcp: Server;
let mcpUrl: string;

beforeAll(async () => {
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const defaults = testConfig();
  gatehouse = await startListening({
    apiScopes: [...(defaults.apiScopes as unknown[]), { name: 'mcp.tools', description: 'Use the tools' }],
    apiResources: [
      ...(defaults.apiResources as unknown[]),
      { id: 'mcp-server', uris: [mcpUrl], scopes: ['mcp.tools'] },
    ],
    registration: { enabled: true, mode: 'open', policy: { scopes: ['mcp.tools'] } },
  });
  mcp = createServer(createMcpApp({ issuer: gatehouse.issuer, audience: 'mcp-server', resource: mcpUrl }));
  await new Promise<void>((resolve) => mcp.listen(port, '127.0.0.1', resolve));
});
afterAll(async () => {
  if (mcp !== undefined) await closeServer(mcp);
  await gatehouse?.close();
});

describe('examples/mcp-server', () => {
  it('discovers, registers, signs in with resource, and calls the tools', async () => {
    const browser = new FetchBrowser(gatehouse.issuer);
    const session = await connect({
      serverUrl: mcpUrl,
      redirectUri: 'http://127.0.0.1/callback',
      allowInsecureRequests: true,
      authorize: async (url) => (await browser.walk(url)).location,
    });
    expect(session.resource).toBe(mcpUrl);
    expect(session.authorizationServer).toBe(gatehouse.issuer);
    const registered = await gatehouse.ctx.storage.clients.find(session.clientId);
    expect(registered?.source).toBe('registration');
    expect(await session.listTools()).toMatchObject({ tools: [{ name: 'whoami' }, { name: 'add' }] });
    expect(await session.callTool('add', { a: 2, b: 3 })).toEqual({ content: [{ type: 'text', text: '5' }] });
    const whoami = (await session.callTool('whoami')) as { content: { text: string }[] };
    expect(whoami.content[0]?.text).toMatch(new RegExp(`via client ${session.clientId}$`));
    await expect(session.callTool('nope')).rejects.toThrow(/unknown tool/);
  });

  it('a request with a bad token gets a 401 naming the protected resource metadata', async () => {
    const other = await fetch(mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token' },
      body: '{}',
    });
    expect(other.status).toBe(401);
    expect(other.headers.get('www-authenticate')).toContain(
      `resource_metadata="${mcpUrl.replace('/mcp', '/.well-known/oauth-protected-resource/mcp')}"`,
    );
  });
});
