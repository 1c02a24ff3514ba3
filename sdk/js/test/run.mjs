#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Runs the SDK's unit tests under node: bundles test/sdk.test.js with the SDK, its component
// imports (`sluice:*`, `wasi:*`) replaced by test/fake-host.js, and runs the bundle with
// node:test. Takes the plugin tools' directory (`build-plugin --tools-only` prints it).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tools = process.argv[2];
if (!tools) {
  console.error('usage: node sdk/js/test/run.mjs TOOLS_DIR');
  process.exit(2);
}
const esbuild = (await import(pathToFileURL(join(tools, 'node_modules/esbuild/lib/main.js')).href)).default;
const work = mkdtempSync(join(tmpdir(), 'sluice-js-sdk-test-'));
try {
  const fake = join(here, 'fake-host.js');
  const bundle = join(work, 'sdk.test.mjs');
  await esbuild.build({
    entryPoints: [join(here, 'sdk.test.js')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile: bundle,
    alias: { 'sluice-sdk': join(here, '..', 'src', 'index.js') },
    plugins: [{ name: 'fake-host', setup: (b) => b.onResolve({ filter: /^(sluice|wasi):/ }, () => ({ path: fake })) }],
    logLevel: 'error',
  });
  const done = spawnSync(process.execPath, ['--test', bundle], { stdio: 'inherit' });
  process.exitCode = done.status ?? 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
