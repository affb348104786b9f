// Architecture rules checked by `npm run arch` (dependency-cruiser over packages/*/src).
// The layout and the layers they keep are described in docs/architecture.md. Paths are relative to the
// repository root; type-only imports count, since a type import is still a dependency.

const server = '^packages/server/src/';
const folders = (names) => `${server}(${names.join('|')})/`;

// The server's framework-free core; model.ts may also be a model/ folder.
const core = `${folders(['admin', 'grants', 'sessions', 'protocol', 'tokens', 'keys', 'storage', 'authn', 'accounts', 'config', 'views'])}|${server}model(\\.ts$|/)`;

// The layers, top to bottom: http -> endpoints -> (grants, sessions) -> (protocol, tokens, keys, authn,
// accounts) -> storage -> model. cli/ and server.ts, the composition root, stand above them all.
const http = `${server}http/`;
const endpoints = `${server}endpoints/`;
const flows = folders(['admin', 'grants', 'sessions']);
const rules = folders(['protocol', 'tokens', 'keys', 'authn', 'accounts']);
const storage = `${server}storage/`;
const model = `${server}model(\\.ts$|/)`;

// Web frameworks, as installed packages (runtime code and type packages alike).
const framework = '(^|/)node_modules/(fastify|fastify-[^/]+|@fastify/[^/]+|express|@types/express[^/]*)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycle: these modules cannot be read, tested or moved one at a time. Move what both need into a lower module.',
      from: { path: '^packages/[^/]+/src/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-framework',
      severity: 'error',
      comment:
        'The server core (grants, sessions, protocol, tokens, keys, authn, accounts, storage, config, views, model) is framework-free: only http/ and endpoints/ see Fastify or Express.',
      from: { path: core },
      to: { path: framework },
    },
    {
      name: 'core-imports-http',
      severity: 'error',
      comment:
        'The server core never imports http/, the Fastify adapter: take what it needs as a parameter or an interface.',
      from: { path: core },
      to: { path: http },
    },
    {
      name: 'endpoints-import-http',
      severity: 'error',
      comment:
        'endpoints/ parse a typed request, call the core and render; http/ calls them, never the other way: move the shared helper down (protocol/) or pass it in.',
      from: { path: endpoints },
      to: { path: http },
    },
    {
      name: 'grants-sessions-import-upward',
      severity: 'error',
      comment: 'admin/, grants/ and sessions/ are called by endpoints/ (and the CLI) and never import them.',
      from: { path: flows },
      to: { path: endpoints },
    },
    {
      name: 'protocol-tokens-keys-import-upward',
      severity: 'error',
      comment:
        'protocol/, tokens/, keys/, authn/ and accounts/ hold rules used by grants/, sessions/ and endpoints/, and never import those layers.',
      from: { path: rules },
      to: { path: `${endpoints}|${flows}` },
    },
    {
      name: 'storage-imports-beyond-model',
      severity: 'error',
      comment:
        'storage/ implements the repository ports: it imports only its own folder, model and config/ (settings and limits), never protocol, tokens or anything above.',
      from: { path: storage },
      to: { path: server, pathNot: `${storage}|${model}|${server}config/` },
    },
    {
      name: 'model-imports-upward',
      severity: 'error',
      comment: 'model holds the domain types every layer shares: it imports no layer above it.',
      from: { path: model },
      to: { path: `${endpoints}|${flows}|${rules}|${storage}` },
    },
    {
      name: 'composition-root-imported',
      severity: 'error',
      comment:
        'cli/ and server.ts build and run the server; nothing below them imports them (index.ts, the package entry, may re-export).',
      from: { path: server, pathNot: `${server}(cli/|server\\.ts$|index\\.ts$)` },
      to: { path: `${server}(cli/|server\\.ts$)` },
    },
    {
      name: 'framework-outside-adapter',
      severity: 'error',
      comment:
        'In @gatehouse/resource and @gatehouse/bff only the framework adapters (express.ts, fastify.ts) import Express or Fastify.',
      from: {
        path: '^packages/(resource|bff)/src/',
        pathNot: '^packages/(resource|bff)/src/(express|fastify)\\.ts$',
      },
      to: { path: framework },
    },
    {
      name: 'relative-import-into-other-package',
      severity: 'error',
      comment: 'Import another package by its name (@gatehouse/...), never its src/ by a relative path.',
      from: { path: '^packages/([^/]+)/' },
      to: { path: '^packages/', pathNot: '^packages/$1/', dependencyTypes: ['local'] },
    },
    {
      name: 'jose-rules-imports-gatehouse',
      severity: 'error',
      comment:
        '@gatehouse/jose-rules is the JOSE/DPoP rule set under server, resource and client: it imports no other @gatehouse package.',
      from: { path: '^packages/jose-rules/' },
      to: { path: '^packages/(?!jose-rules/)' },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '(^|/)(dist|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Resolve @gatehouse/* through the workspace symlinks to their sources (the `@gatehouse/source` export
    // condition), so that cross-package cycles and the jose-rules rule see them.
    preserveSymlinks: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['@gatehouse/source', 'import', 'types', 'node', 'default'],
      extensions: ['.ts', '.js', '.json'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
