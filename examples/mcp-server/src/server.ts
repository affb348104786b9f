/**
 * A minimal MCP server (Model Context Protocol, Streamable HTTP transport, 2025-06-18) protected by
 * @gatehouse/resource: JSON-RPC 2.0 over `POST /mcp`, answered as one JSON response per request (no
 * streaming), with two tools. The MCP authorization specification makes the server an OAuth 2.1 resource
 * server: every request carries an access token for this resource (RFC 8707 audience), a request without
 * one gets a 401 whose challenge names the RFC 9728 protected resource metadata, and that metadata names
 * the authorization server (Gatehouse) where a client registers (RFC 7591) and signs in.
 *
 * The JSON-RPC shape is written by hand to keep the example free of an SDK: `initialize`,
 * `notifications/initialized`, `tools/list` and `tools/call`, with the standard error codes.
 */

import { protect } from '@gatehouse/resource/express';
import express, { type Request, type Response } from 'express';

export interface McpServerOptions {
  /** The authorization server (Gatehouse) that issues tokens for this server. */
  issuer: string;
  /** The API resource id tokens must carry in `aud` (Gatehouse: the API resource's `id`). */
  audience: string;
  /** This server's resource identifier: the URL clients use, e.g. `https://mcp.example.com/mcp`. */
  resource: string;
  /** The scope a token needs to call tools (default `mcp.tools`). */
  scope?: string;
}

const protocolVersion = '2025-06-18';

const tools = [
  {
    name: 'whoami',
    description: 'Says who the access token was issued to',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  },
  {
    name: 'add',
    description: 'Adds two numbers',
    inputSchema: {
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
      additionalProperties: false,
    },
  },
];

interface JsonRpcRequest {
  jsonrpc: '2.0';
  id?: string | number | null;
  method: string;
  params?: Record<string, unknown>;
}

class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function isRequest(value: unknown): value is JsonRpcRequest {
  const message = value as Partial<JsonRpcRequest> | null;
  return (
    typeof message === 'object' &&
    message !== null &&
    message.jsonrpc === '2.0' &&
    typeof message.method === 'string' &&
    (message.params === undefined || (typeof message.params === 'object' && message.params !== null))
  );
}

/** The result of one method call; throws JsonRpcError. */
function call(request: JsonRpcRequest, subject: string | undefined, clientId: string | undefined): unknown {
  switch (request.method) {
    case 'initialize':
      return {
        protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: 'gatehouse-example-mcp-server', version: '0.1.0' },
      };
    case 'ping':
      return {};
    case 'tools/list':
      return { tools };
    case 'tools/call': {
      const name = request.params?.name;
      const args = (request.params?.arguments ?? {}) as Record<string, unknown>;
      if (name === 'whoami')
        return {
          content: [{ type: 'text', text: `user ${subject ?? '(none)'} via client ${clientId ?? '(none)'}` }],
        };
      if (name === 'add') {
        if (typeof args.a !== 'number' || typeof args.b !== 'number')
          throw new JsonRpcError(-32602, 'add needs numbers a and b');
        return { content: [{ type: 'text', text: String(args.a + args.b) }] };
      }
      throw new JsonRpcError(-32602, `unknown tool ${String(name)}`);
    }
    default:
      throw new JsonRpcError(-32601, `method ${request.method} not found`);
  }
}

/** The Express app: the protected resource metadata, and `POST /mcp` for tokens with the scope. */
export function createMcpApp(options: McpServerOptions): express.Express {
  const scope = options.scope ?? 'mcp.tools';
  const app = express();
  // protect() also serves /.well-known/oauth-protected-resource/<path> without a token.
  app.use(
    protect({
      issuer: options.issuer,
      audience: options.audience,
      resourceMetadata: {
        resource: options.resource,
        scopesSupported: [scope],
        resourceName: 'Gatehouse example MCP server',
      },
    }),
  );
  app.use(express.json({ limit: '64kb' }));
  app.post('/mcp', (req: Request, res: Response) => {
    if (!req.auth?.scopes.has(scope)) {
      res
        .status(403)
        .set('www-authenticate', `Bearer error="insufficient_scope", scope="${scope}"`)
        .json({ error: 'insufficient_scope', error_description: `the token needs the scope ${scope}` });
      return;
    }
    const message: unknown = req.body;
    if (!isRequest(message)) {
      res.status(400).json({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request' } });
      return;
    }
    // A notification (no id) is accepted with 202 and no body.
    if (message.id === undefined) {
      res.status(202).end();
      return;
    }
    try {
      const result = call(message, req.auth.subject, req.auth.clientId);
      res.json({ jsonrpc: '2.0', id: message.id, result });
    } catch (error) {
      const { code, message: text } =
        error instanceof JsonRpcError ? error : { code: -32603, message: 'internal error' };
      res.json({ jsonrpc: '2.0', id: message.id, error: { code, message: text } });
    }
  });
  // A body that is not JSON: JSON-RPC's parse error (-32700), not Express' HTML page.
  app.use((error: unknown, _req: Request, res: Response, next: express.NextFunction) => {
    if ((error as { type?: string }).type !== 'entity.parse.failed') return next(error);
    res.status(400).json({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
  });
  return app;
}
