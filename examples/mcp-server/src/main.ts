/**
 * Runs the MCP server against the demo authorization server. Environment: GATEHOUSE_ISSUER (default
 * http://localhost:3000), MCP_PORT (default 4100), MCP_AUDIENCE (the API resource id, default mcp-server).
 * The resource identifier is http://localhost:<port>/mcp; Gatehouse needs an API resource with that URI,
 * the scope mcp.tools and registration turned on (see README.md).
 */
import { createMcpApp } from './server.ts';

const issuer = process.env.GATEHOUSE_ISSUER ?? 'http://localhost:3000';
const port = Number(process.env.MCP_PORT ?? 4100);
const resource = `http://localhost:${port}/mcp`;
const app = createMcpApp({ issuer, audience: process.env.MCP_AUDIENCE ?? 'mcp-server', resource });
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`MCP server on ${resource} (issuer ${issuer})`);
});
process.on('SIGTERM', () => server.close());
process.on('SIGINT', () => server.close());
