// Shared by `npm run start:sample` and `npm run demo`: installs what a fresh clone lacks, makes
// sure RabbitMQ and Redis answer (scripts/lib/setup.js), and builds the library and the sample services.
// Plain JavaScript so it runs before anything is compiled.
'use strict';
const { ensureDependencies, ensureServices, ROOT } = require('./lib/setup');
const { spawnSync } = require('node:child_process');

/** Installs the dependencies if missing and makes sure RabbitMQ and Redis answer, or exits with instructions. */
async function preflight(what) {
  ensureDependencies();
  await ensureServices(`run ${what}`);
}

/** Compiles the library and the apps (tsc); skipped with --no-build or SKIP_BUILD=1. */
function build() {
  if (process.argv.includes('--no-build') || process.env.SKIP_BUILD === '1') return;
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  for (const [label, project] of [
    ['library', 'libs/rabbitmq/tsconfig.lib.json'],
    ['sample services', 'apps/tsconfig.build.json'],
  ]) {
    process.stdout.write(`Building the ${label} (tsc -p ${project})... `);
    const started = Date.now();
    const result = spawnSync(process.execPath, [tsc, '-p', project], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (result.status !== 0) {
      console.error(`failed:\n${result.stdout}${result.stderr}`);
      process.exit(1);
    }
    console.log(`${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

module.exports = { preflight, build, ROOT };
