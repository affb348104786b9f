#!/usr/bin/env node
// The `gatehouse` command: the compiled CLI, bundled into dist/bundle/ (scripts/bundle.mjs; built by
// `npm install` in the repository, or shipped in the published package). To run the TypeScript sources
// instead, see `npm run dev`.
await import('../dist/bundle/main.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/bundle/main.js')) {
    process.stderr.write('gatehouse: the compiled CLI (dist/) is missing; run `npm run build` first\n');
    process.exit(1);
  }
  throw error;
});
