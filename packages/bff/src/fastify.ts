/**
 * Fastify adapter: the BFF as an encapsulated plugin (`app.register(bffPlugin(bff))`). Inside the plugin
 * no content-type parser reads bodies, so the core streams them to the upstream; the reply is hijacked
 * and written by the core on the raw Node response.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Bff } from './bff.ts';

export function bffPlugin(bff: Bff): FastifyPluginAsync {
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      const handled = await bff.handle(request.raw, reply.raw, request.raw.url);
      if (!handled) {
        reply.raw.writeHead(404, { 'content-type': 'application/json' });
        reply.raw.end('{"error":"not_found"}');
      }
    };
    app.all(bff.basePath, handler);
    app.all(`${bff.basePath}/*`, handler);
  };
}
