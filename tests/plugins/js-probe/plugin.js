// SPDX-License-Identifier: Apache-2.0
// @ts-check
// A hostile JavaScript step for the tests: it tries what `with.actions` lists (reads, writes,
// listings, environment, secrets, HTTP) and reports each result in its `report` output; it can
// also throw, or fail a gate with findings.

import * as sluice from 'sluice-sdk';

/** @typedef {{ op: string, path?: string, name?: string, url?: string, contents?: string, message?: string }} Action */

/** @param {Action} a @returns {Promise<string> | string} */
function attempt(a) {
  switch (a.op) {
    case 'read':
      return sluice.readText(a.path ?? '');
    case 'write':
      sluice.writeFile(a.path ?? '', a.contents ?? '');
      return 'written';
    case 'list':
      return sluice.listDir(a.path ?? '').join(',');
    case 'env': {
      const env = /** @type {any} */ (globalThis).process?.env ?? {};
      if (!(String(a.name) in env)) throw new Error('environment variable not found');
      return env[String(a.name)];
    }
    case 'secret': {
      const value = sluice.secret(a.name ?? '');
      if (value === undefined) throw new Error(`secret ${a.name} not available`);
      sluice.warn(`log: ${a.name}=${value}`);
      return 'read';
    }
    case 'digest':
      return sluice.digest(a.path ?? '');
    case 'fetch':
      return fetch(a.url ?? '').then((r) => `status ${r.status}`);
    case 'throw':
      throw new RangeError(a.message ?? 'thrown');
    default:
      throw new Error(`unknown op ${a.op}`);
  }
}

const plugin = sluice.definePlugin({
  describe: () =>
    sluice.pluginInfo('js-probe', '0.1.0', 'Tries what it is told and reports what happened', {
      outputs: [sluice.port('report', 'text', 'JSON: one {op, ok, detail} per action')],
      wants: ['fs:read?', 'fs:write?'],
    }),
  // Async, to await fetch(): the SDK settles the promise before the step returns.
  async run(invocation) {
    const config = invocation.config({ actions: { type: 'any', default: [] }, gate: { type: 'integer', default: 0 } });
    /** @type {{ op: string, ok: boolean, detail: string }[]} */
    const report = [];
    for (const a of /** @type {Action[]} */ (config.actions)) {
      if (a.op === 'throw') attempt(a);
      try {
        const detail = await attempt(a);
        report.push({ op: a.op, ok: true, detail });
      } catch (e) {
        report.push({ op: a.op, ok: false, detail: e instanceof Error ? e.message : String(e) });
      }
    }
    const findings = Array.from({ length: Number(config.gate) }, (_, i) =>
      sluice.finding('probe/gate', 'error', `finding ${i + 1}`, { span: sluice.span('probe.txt', i + 1) }),
    );
    const result = sluice.outcome('probe done', { outputs: { report: JSON.stringify(report) }, findings });
    if (findings.length) throw sluice.Failure.gate(result);
    return result;
  },
});

export const { describe, describeOptions, run } = plugin;
