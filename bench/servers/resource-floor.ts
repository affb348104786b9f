/**
 * resource_jwt floor: the Express app of `resource-gatehouse.ts` and `resource-peer.ts` (x-powered-by and
 * etag off, 60 s keep-alive, one GET /hello answering a JSON body of the same length) with no
 * authentication at all. It measures what Express itself costs per request on this machine: no Express
 * adapter, however cheap, can serve more than this.
 *
 * Environment: PORT (required).
 */
import express from 'express';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is required');

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/hello', (_req, res) => {
  // The length of the others' `{"hello":"user-<12 hex digits>"}`.
  res.json({ hello: 'user-000000000000' });
});
const server = app.listen(port, '127.0.0.1');
server.keepAliveTimeout = 60_000;
process.on('SIGTERM', () => process.exit(0));
