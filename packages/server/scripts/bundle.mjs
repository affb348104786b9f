// Bundles the compiled CLI (dist/cli/main.js and what it imports, Gatehouse's code and its pure-JavaScript
// dependencies) into dist/bundle/, which bin/gatehouse.js runs. Node 20 has no compile cache, and loading
// some 900 small files (kysely alone is 262) took longer than everything else a start does: the bundle
// starts in about 60% of the time and holds some 15 MB less (docs/architecture.md, "The CLI bundle").
// Lazy imports stay lazy (code splitting: the PostgreSQL store, the CLI's admin commands). Packages with
// native code and the optional drivers are left to node_modules, where `npm install` put them.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist/cli/main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  sourcemap: 'linked',
  sourcesContent: false,
  // Native addons and the drivers a deployment may not install: loaded from node_modules at run time. So
  // are the parts of Fastify that Gatehouse never runs (schema compilers, see noSchemaCompilers in
  // src/http/app.ts; inject()), which would otherwise be a quarter of the bytes parsed at every start.
  external: [
    'better-sqlite3',
    '@node-rs/argon2',
    '@node-rs/bcrypt',
    'pg',
    'ioredis',
    'pino-pretty',
    '@fastify/ajv-compiler',
    '@fastify/fast-json-stringify-compiler',
    'light-my-request',
  ],
  // CommonJS dependencies bundled into ES modules still call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __gatehouseRequire } from 'node:module'; const require = __gatehouseRequire(import.meta.url);",
  },
  logLevel: 'warning',
  legalComments: 'linked',
  minifyWhitespace: true,
  minifySyntax: true,
});
