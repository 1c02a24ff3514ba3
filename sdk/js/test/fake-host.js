// SPDX-License-Identifier: Apache-2.0
// Stand-ins for the component imports of src/index.js, for running its pure helpers under
// node: they record what the SDK asks of the host. Everything that needs a real host runs
// through real components (tests/polyglot.rs).

export const calls = [];
export const log = (level, message) => calls.push(['log', level, message]);
export const progress = (done, total, message) => calls.push(['progress', done, total, message]);
export const secret = (name) => (name === 'GRANTED' ? 's3cr3t' : undefined);
export const uncacheable = (reason) => calls.push(['uncacheable', reason]);
export const runInfo = () => ({ run: 'r', pipeline: 'p', step: 's', remainingMs: 5n });
export function digest(path) {
  const e = new Error('err');
  e.payload = `cannot see ${path}`;
  throw e;
}
export const artifact = (path) => JSON.stringify({ path });
export const getDirectories = () => [];
