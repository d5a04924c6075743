/**
 * The layer rules (DESIGN.md): routes -> services -> ports; adapters are wired only by
 * src/compose.ts. `npm test` fails on any arrow the wrong way.
 */
// The state stores (SQLite, PostgreSQL) are adapters too: of the embedded engine's storage port,
// the principal store's and the audit trail's.
const ADAPTERS = '^src/services/(kms/(embedded|aws)/|storage/(embedded|s3)-object-store|state/)';

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'services-know-no-http',
      comment: 'The domain knows nothing of HTTP: no express, no routes, no generated HTTP types, no app.',
      severity: 'error',
      from: { path: '^src/services/' },
      to: { path: ['^src/routes/', '^src/generated/', '^src/app\\.ts$', '^src/compose\\.ts$', 'node_modules/(express|express-openapi-validator|pino-http|supertest)/'] },
    },
    {
      name: 'routes-use-ports-not-adapters',
      comment: 'Routes call services and ports; which adapter backs a port is compose.ts business.',
      severity: 'error',
      from: { path: '^src/routes/' },
      to: { path: [ADAPTERS, '^src/compose\\.ts$'] },
    },
    {
      name: 'services-use-ports-not-adapters',
      severity: 'error',
      from: { path: '^src/services/', pathNot: ADAPTERS },
      to: { path: ADAPTERS },
    },
    {
      name: 'adapters-never-import-each-other',
      severity: 'error',
      from: { path: '^src/services/kms/embedded/' },
      to: { path: ['^src/services/kms/aws/', '^src/services/storage/'] },
    },
    {
      name: 'aws-adapter-alone',
      severity: 'error',
      from: { path: '^src/services/kms/aws/' },
      to: { path: ['^src/services/kms/embedded/', '^src/services/storage/'] },
    },
    {
      name: 'embedded-store-alone',
      severity: 'error',
      from: { path: '^src/services/storage/embedded-object-store' },
      to: { path: ['^src/services/storage/s3-object-store', '^src/services/kms/'] },
    },
    {
      name: 's3-store-alone',
      severity: 'error',
      from: { path: '^src/services/storage/s3-object-store' },
      to: { path: ['^src/services/storage/embedded-object-store', '^src/services/kms/'] },
    },
    {
      name: 'only-compose-wires',
      comment: 'Nothing outside compose.ts (and the process entry) builds the app from adapters.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/compose\\.ts$', '^src/main\\.ts$', ADAPTERS] },
      to: { path: ADAPTERS },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
