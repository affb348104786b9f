/**
 * The example client from a terminal: discovers, registers, prints the sign-in URL, waits for the browser
 * on a loopback port (RFC 8252 §7.3), then calls the tools. Environment: MCP_SERVER_URL (default
 * http://localhost:4100/mcp).
 */
import { createServer } from 'node:http';
import { connect } from './client.ts';

const serverUrl = process.env.MCP_SERVER_URL ?? 'http://localhost:4100/mcp';
const listener = createServer();
await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
const { port } = listener.address() as { port: number };
const redirectUri = `http://127.0.0.1:${port}/callback`;

const session = await connect({
  serverUrl,
  redirectUri,
  allowInsecureRequests: true,
  authorize: (url) =>
    new Promise((resolve) => {
      console.log(`Open this URL in a browser and sign in:\n\n  ${url.href}\n`);
      listener.on('request', (request, response) => {
        response.end('Signed in; you can close this window.');
        resolve(`http://127.0.0.1:${port}${request.url ?? '/'}`);
      });
    }),
});
listener.close();
console.log(`registered as ${session.clientId} at ${session.authorizationServer}`);
console.log(JSON.stringify(await session.listTools(), null, 2));
console.log(JSON.stringify(await session.callTool('whoami'), null, 2));
console.log(JSON.stringify(await session.callTool('add', { a: 2, b: 3 }), null, 2));
