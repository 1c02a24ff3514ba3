// SPDX-License-Identifier: Apache-2.0
// Unit tests of the SDK's pure helpers, run by node:test on a bundle whose component imports
// are test/fake-host.js (run.mjs builds it).

import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

import * as sluice from 'sluice-sdk';
import { calls } from './fake-host.js';

const invocation = (config, inputs = []) => ({ step: 'step', config: JSON.stringify(config), inputs });

beforeEach(() => {
  calls.length = 0;
  delete globalThis.__sluiceHttp;
});

test('builders take the names of enums and say what is allowed', () => {
  assert.deepEqual(sluice.port('report', 'artifact', 'A report', { required: true }), {
    name: 'report',
    kind: 'artifact',
    required: true,
    description: 'A report',
  });
  const f = sluice.finding('x/y', 'warning', 'm', { span: sluice.span('/workspace/a.go', 3, 2), tags: ['t'], suppressed: ['#nosec'] });
  assert.deepEqual(f.span, { path: 'a.go', line: 3, column: 2, endLine: 0, endColumn: 0 });
  assert.deepEqual(f.suppression, { annotation: '#nosec', justification: '' });
  assert.throws(() => sluice.finding('x', 'fatal', 'm'), /`note`, `warning`, `error`/);
  assert.throws(() => sluice.port('p', 'string', 'd'), /not a value kind/);
  assert.equal(sluice.pluginInfo('n', '1.0.0', 'd').options, undefined);
  assert.deepEqual(sluice.pluginInfo('n', '1.0.0', 'd', { options: [sluice.option('a', 'b')] }).options, [{ name: 'a', summary: 'b' }]);
});

test('outputs map JavaScript values to the contract', () => {
  const out = sluice.outcome('s', {
    outputs: { t: 'x', b: true, i: 3, big: 2n ** 60n, n: 2.5, j: { a: [1] }, l: [1], w: sluice.json('s') },
  });
  assert.deepEqual(out.outputs, [
    ['t', { tag: 'text', val: 'x' }],
    ['b', { tag: 'boolean', val: true }],
    ['i', { tag: 'integer', val: 3n }],
    ['big', { tag: 'integer', val: 2n ** 60n }],
    ['n', { tag: 'number', val: 2.5 }],
    ['j', { tag: 'json', val: '{"a":[1]}' }],
    ['l', { tag: 'json', val: '[1]' }],
    ['w', { tag: 'json', val: '"s"' }],
  ]);
  assert.throws(() => sluice.toValue(null), /cannot return null/);
  assert.throws(() => sluice.toValue(undefined), /cannot return undefined/);
});

test('inputs become JavaScript values', () => {
  const inv = new sluice.Invocation(
    invocation({}, [
      ['name', { tag: 'text', val: 'n' }],
      ['count', { tag: 'integer', val: 4n }],
      ['huge', { tag: 'integer', val: 2n ** 60n }],
      ['data', { tag: 'json', val: '{"k":1}' }],
      ['file', { tag: 'artifact', val: { path: '/inputs/file/f', digest: 'sha256:00', mediaType: undefined } }],
    ]),
  );
  assert.equal(inv.text('name'), 'n');
  assert.equal(inv.text('count'), undefined);
  assert.equal(inv.input('count'), 4);
  assert.equal(inv.input('huge'), 2n ** 60n);
  assert.deepEqual(inv.input('data'), { k: 1 });
  assert.equal(inv.artifact('file').path, '/inputs/file/f');
  assert.equal(inv.artifact('name'), undefined);
  // An artifact input can be returned as an output as it is.
  assert.deepEqual(sluice.toValue(inv.artifact('file')), { tag: 'artifact', val: { path: '/inputs/file/f', digest: 'sha256:00', mediaType: undefined } });
});

const SCHEMA = {
  header: { type: 'string', required: true },
  'max-words': { type: 'integer', default: 1000 },
  paths: { type: 'string[]', default: ['.'] },
};

test('a schema checks the configuration and gives camelCase keys', () => {
  const inv = new sluice.Invocation(invocation({ header: 'H', 'max-words': 5 }));
  assert.deepEqual(inv.config(SCHEMA), { header: 'H', maxWords: 5, paths: ['.'] });
  assert.deepEqual(inv.config(), { header: 'H', 'max-words': 5 });
  const c = new sluice.Invocation(invocation({ header: 'H' })).config(SCHEMA);
  c.paths.push('x');
  assert.deepEqual(new sluice.Invocation(invocation({ header: 'H' })).config(SCHEMA).paths, ['.'], 'defaults are copied');
  assert.deepEqual(sluice.options({ a: { summary: 's' } }), [{ name: 'a', summary: 's' }]);
});

test('typed options go to describe-options', () => {
  const info = sluice.pluginInfo('n', '1.0.0', 'd', {
    options: [
      sluice.option('plain', 'any value'),
      ...sluice.options({
        level: { type: 'number', default: 0.8, summary: 'how sure' },
        mode: { type: 'string', choices: ['fast', 'full'], default: 'fast', summary: 'how hard' },
        paths: { type: 'string[]', summary: 'where' },
      }),
    ],
  });
  assert.deepEqual(info.options.map((o) => o.name), ['plain', 'level', 'mode', 'paths']);
  assert.deepEqual(sluice.optionSpecs(info), [
    { name: 'level', kind: { tag: 'number' }, default: '0.8' },
    { name: 'mode', kind: { tag: 'choice', val: ['fast', 'full'] }, default: '"fast"' },
    { name: 'paths', kind: { tag: 'text-list' }, default: undefined },
  ]);
  const plugin = sluice.definePlugin({ describe: () => info, run: () => sluice.outcome() });
  assert.deepEqual(plugin.describeOptions(), sluice.optionSpecs(info));
  assert.throws(() => sluice.option('x', 's', { kind: 'float' }), /"float" is not an option kind/);
  assert.throws(() => sluice.option('x', 's', { kind: [] }), /a choice is a non-empty array of strings/);
  const SCHEMA = { mode: { type: 'string', choices: ['fast', 'full'] } };
  assert.throws(
    () => new sluice.Invocation(invocation({ mode: 'slow' })).config(SCHEMA),
    /`mode`: unknown variant "slow", expected `fast` or `full`/,
  );
});

for (const [config, message] of [
  [{ header: 'H', 'max-wrods': 1 }, 'invalid `with` table: unknown field `max-wrods`, expected one of `header`, `max-words`, `paths`'],
  [{}, 'invalid `with` table: missing field `header`'],
  [{ header: 1 }, 'invalid `with` table: `header`: invalid type: integer `1`, expected a string'],
  [{ header: 'H', 'max-words': 1.5 }, 'invalid `with` table: `max-words`: invalid type: floating point `1.5`, expected an integer'],
  [{ header: 'H', paths: 'a' }, 'invalid `with` table: `paths`: invalid type: string "a", expected a sequence of strings'],
]) {
  test(`a configuration error names the key: ${message}`, () => {
    const inv = new sluice.Invocation(invocation(config));
    assert.throws(() => inv.config(SCHEMA), (e) => e instanceof sluice.Failure && e.kind === 'invalid' && e.message === message);
  });
}

test('failures become the contract variants; other throws are the step error, logged', () => {
  const out = sluice.outcome('2 findings');
  const run = (f) => () => sluice.callRun(f, invocation({}));
  assert.throws(run(() => { throw sluice.Failure.gate(out); }), (e) => e.tag === 'gate' && e.val === out);
  assert.throws(run(() => { throw sluice.Failure.invalid('set `x`'); }), (e) => e.tag === 'invalid' && e.val === 'set `x`');
  assert.deepEqual(calls, []);
  assert.throws(run(() => { throw new RangeError('boom'); }), (e) => e.tag === 'error' && e.val === 'RangeError: boom');
  assert.equal(calls.length, 1);
  assert.equal(calls[0][1], 'error');
  assert.match(calls[0][2], /^RangeError: boom\n/);
  assert.throws(run(() => { throw 'a string'; }), (e) => e.tag === 'error' && e.val === 'uncaught: a string');
  assert.throws(run(() => ({ summary: 'x' })), (e) => e.tag === 'error' && e.val === 'TypeError: run() must return an outcome (use sluice.outcome)');
  assert.equal(sluice.callRun(() => out, invocation({})), out);
});

test('an async run settles the same way', async () => {
  const out = sluice.outcome('done');
  assert.equal(await sluice.callRun(async () => out, invocation({})), out);
  await assert.rejects(sluice.callRun(async () => { throw sluice.Failure.error('io'); }, invocation({})), (e) => e.tag === 'error' && e.val === 'io');
  await assert.rejects(sluice.callRun(async () => { throw new Error('late'); }, invocation({})), (e) => e.tag === 'error' && e.val === 'Error: late');
});

test('a huge stack is bounded in the log', () => {
  assert.throws(() => sluice.callRun(() => { throw new Error('x'.repeat(100000)); }, invocation({})));
  assert.ok(calls[0][2].length <= sluice.STACK_LIMIT + 1);
});

test('a plugin built with wasi:http wants net', () => {
  const plugin = sluice.definePlugin({ describe: () => sluice.pluginInfo('p', '0.1.0', 'd', { wants: ['fs:read'] }), run: () => sluice.outcome() });
  assert.deepEqual(plugin.describe().wants, ['fs:read']);
  globalThis.__sluiceHttp = true;
  assert.deepEqual(plugin.describe().wants, ['fs:read', 'net']);
});

test('host calls and their errors', () => {
  sluice.warn('w');
  sluice.progress(1, 2, 'half');
  sluice.uncacheable('clock');
  assert.deepEqual(calls, [['log', 'warn', 'w'], ['progress', 1n, 2n, 'half'], ['uncacheable', 'clock']]);
  assert.equal(sluice.secret('GRANTED'), 's3cr3t');
  assert.equal(sluice.secret('OTHER'), undefined);
  assert.throws(() => sluice.digest('/etc/passwd'), /^Error: cannot see \/etc\/passwd$/);
  assert.deepEqual(sluice.runInfo(), { run: 'r', pipeline: 'p', step: 's', remainingMs: 5 });
  assert.throws(() => sluice.log('loud', 'x'), /not a log level/);
});

test('files outside every preopen are not found, and artifact names must be plain', () => {
  assert.throws(() => sluice.readText('/etc/passwd'), (e) => e.code === 'no-entry' && e.message === '/etc/passwd: no such file or directory (no-entry)');
  assert.equal(sluice.kind('/workspace/x'), undefined);
  for (const name of ['', 'a/b', '.', '..']) {
    assert.throws(() => sluice.writeArtifact(name, 'x'), /must be a plain file name/);
  }
  assert.equal(sluice.workspacePath('./a/b'), '/workspace/a/b');
  assert.equal(sluice.workspacePath('.'), '/workspace');
});
