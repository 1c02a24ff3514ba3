// SPDX-License-Identifier: Apache-2.0
/**
 * Write Sluice pipeline steps in JavaScript (or TypeScript).
 *
 * A step is a WebAssembly component. With this module you define a plugin with
 * `definePlugin({ describe, run })`, export its `describe`, `describeOptions` and `run`, and build the directory
 * with `sdk/js/build-plugin <dir>` (componentize-js, pinned, in a local environment):
 *
 * ```js
 * import * as sluice from 'sluice-sdk';
 *
 * const plugin = sluice.definePlugin({
 *   describe: () => sluice.pluginInfo('greet', '0.1.0', 'Greets someone', {
 *     inputs: [sluice.port('name', 'text', 'Who to greet', { required: true })],
 *     outputs: [sluice.port('message', 'text', 'The greeting')],
 *   }),
 *   run(invocation) {
 *     const message = `Hello, ${invocation.text('name')}!`;
 *     sluice.info(message);
 *     return sluice.outcome(message, { outputs: { message } });
 *   },
 * });
 * export const { describe, describeOptions, run } = plugin;
 * ```
 *
 * Failing: `throw sluice.Failure.gate(outcome)`, `throw sluice.Failure.invalid(message)`,
 * `throw sluice.Failure.error(message)`. Any other throw becomes the step's error, with its
 * message; its stack goes to the step's log.
 *
 * @module sluice-sdk
 */

import * as host from 'sluice:step/host@0.1.0';
import { artifact as provenanceOf } from 'sluice:step/provenance@0.1.0';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

/** Where the step's workspace grants are mounted. */
export const WORKSPACE = '/workspace';
/** The step's private, writable output directory. */
export const OUTPUTS = '/outputs';

const KINDS = ['text', 'integer', 'number', 'boolean', 'artifact', 'json'];
const SEVERITIES = ['note', 'warning', 'error'];
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

function oneOf(list, value, what) {
  if (!list.includes(value)) {
    throw new TypeError(`${JSON.stringify(value)} is not ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what}: expected one of ${list.map((v) => `\`${v}\``).join(', ')}`);
  }
  return value;
}

// --- Failures ---------------------------------------------------------------------------------

/** Why a step did not pass: throw one from `run`. */
export class Failure extends Error {
  /**
   * @param {'gate' | 'invalid' | 'error'} kind
   * @param {string} message
   * @param {object} [outcome]
   */
  constructor(kind, message, outcome) {
    super(message);
    this.name = 'Failure';
    this.kind = kind;
    this.outcome = outcome;
  }

  /** A failed gate: the step ran and must stop the pipeline; its findings are still reported. */
  static gate(outcome) {
    return new Failure('gate', outcome.summary, outcome);
  }

  /** Invalid configuration: say what is wrong and how to fix it. */
  static invalid(message) {
    return new Failure('invalid', message);
  }

  /** The step could not do its work. */
  static error(message) {
    return new Failure('error', message);
  }

  /** The contract's `failure` variant. */
  toWit() {
    return this.kind === 'gate' ? { tag: 'gate', val: this.outcome } : { tag: this.kind, val: this.message };
  }
}

// --- Builders ---------------------------------------------------------------------------------

export function port(name, kind, description, { required = false } = {}) {
  return { name, kind: oneOf(KINDS, kind, 'value kind'), required, description };
}

/** The kinds of value an option may take (besides a list of choices). */
const OPTION_KINDS = ['text', 'integer', 'number', 'boolean', 'text-list', 'table', 'any'];

/** Where an option keeps its kind and default (not a field of the contract's record). */
const SPEC = Symbol('sluice.option-spec');

/**
 * A `with` key the plugin reads besides its inputs. With `kind` (`'text'`, `'integer'`,
 * `'number'`, `'boolean'`, `'text-list'`, `'table'`, `'any'`, or an array of the strings it
 * may be) the host checks the pipeline's value against it; `default` is shown by
 * `sluice plugins`.
 * @param {string} name @param {string} summary
 * @param {{ kind?: string | string[], default?: unknown }} [opts]
 */
export function option(name, summary, { kind, default: dflt } = {}) {
  const opt = { name, summary };
  if (kind === undefined && dflt === undefined) return opt;
  let wit;
  if (Array.isArray(kind)) {
    if (kind.length === 0 || !kind.every((c) => typeof c === 'string')) {
      throw new TypeError(`option '${name}': a choice is a non-empty array of strings`);
    }
    wit = { tag: 'choice', val: [...kind] };
  } else {
    wit = { tag: oneOf(OPTION_KINDS, kind ?? 'any', 'option kind') };
  }
  Object.defineProperty(opt, SPEC, {
    value: { name, kind: wit, default: dflt === undefined ? undefined : JSON.stringify(dflt) },
  });
  return opt;
}

/** The kinds and defaults of `info`'s options: what the component's `describe-options` returns. */
export function optionSpecs(info) {
  return (info.options ?? []).map((o) => o[SPEC]).filter((s) => s !== undefined);
}

/**
 * @param {string} id @param {string} name @param {string} summary @param {string} severity
 * @param {{ help?: string, confidence?: number, tags?: string[], securitySeverity?: number }} [opts]
 */
export function rule(id, name, summary, severity, { help = '', confidence, tags = [], securitySeverity } = {}) {
  return { id, name, summary, help, severity: oneOf(SEVERITIES, severity, 'severity'), confidence, tags: [...tags], securitySeverity };
}

/**
 * @param {string} name @param {string} version @param {string} description
 * @param {{ inputs?: object[], outputs?: object[], wants?: string[], rules?: object[], options?: object[] }} [opts]
 */
export function pluginInfo(name, version, description, { inputs = [], outputs = [], wants = [], rules = [], options } = {}) {
  return {
    name,
    version,
    description,
    inputs: [...inputs],
    outputs: [...outputs],
    wants: [...wants],
    rules: [...rules],
    options: options === undefined ? undefined : [...options],
  };
}

export function span(path, line, column = 1, endLine = 0, endColumn = 0) {
  if (path.startsWith(`${WORKSPACE}/`)) path = path.slice(WORKSPACE.length + 1);
  return { path, line, column, endLine, endColumn };
}

/**
 * @param {string} ruleId @param {string} severity @param {string} message
 * @param {{ span?: object, tags?: string[], confidence?: number, suppressed?: string[] }} [opts]
 */
export function finding(ruleId, severity, message, { span: where, tags = [], confidence, suppressed } = {}) {
  return {
    rule: ruleId,
    severity: oneOf(SEVERITIES, severity, 'severity'),
    message,
    span: where,
    tags: [...tags],
    confidence,
    suppression: suppressed && { annotation: suppressed[0], justification: suppressed[1] ?? '' },
  };
}

const JSON_VALUE = Symbol('sluice.json');
const ARTIFACT = Symbol('sluice.artifact');

/** Marks a value to be returned as the `json` kind (plain objects and arrays are, already). */
export function json(value) {
  return { [JSON_VALUE]: value };
}

/** The contract's `value` for a JavaScript value. */
export function toValue(value) {
  switch (typeof value) {
    case 'string':
      return { tag: 'text', val: value };
    case 'boolean':
      return { tag: 'boolean', val: value };
    case 'bigint':
      return { tag: 'integer', val: value };
    case 'number':
      return Number.isInteger(value) ? { tag: 'integer', val: BigInt(value) } : { tag: 'number', val: value };
    case 'object':
      if (value === null) break;
      if (value[ARTIFACT]) return { tag: 'artifact', val: { path: value.path, digest: value.digest, mediaType: value.mediaType } };
      if (JSON_VALUE in value) return { tag: 'json', val: JSON.stringify(value[JSON_VALUE]) };
      return { tag: 'json', val: JSON.stringify(value) };
    default:
  }
  throw new TypeError(`cannot return ${value === null ? 'null' : typeof value} as a step output`);
}

function artifactValue(path, digest, mediaType) {
  return { [ARTIFACT]: true, path, digest, mediaType };
}

/** The JavaScript value of an input. */
export function fromValue(value) {
  switch (value.tag) {
    case 'integer':
      return Number.isSafeInteger(Number(value.val)) ? Number(value.val) : value.val;
    case 'artifact':
      return artifactValue(value.val.path, value.val.digest, value.val.mediaType);
    case 'json':
      return JSON.parse(value.val);
    default:
      return value.val;
  }
}

export function outcome(summary = '', { outputs = {}, findings = [] } = {}) {
  return { outputs: Object.entries(outputs).map(([name, v]) => [name, toValue(v)]), findings: [...findings], summary };
}

// --- Configuration ----------------------------------------------------------------------------

function expected(names) {
  const quoted = names.map((n) => `\`${n}\``);
  if (quoted.length === 0) return 'there are no fields';
  if (quoted.length === 1) return `expected ${quoted[0]}`;
  if (quoted.length === 2) return `expected ${quoted[0]} or ${quoted[1]}`;
  return `expected one of ${quoted.join(', ')}`;
}

function describeValue(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a sequence';
  switch (typeof v) {
    case 'string':
      return `string ${JSON.stringify(v)}`;
    case 'boolean':
      return `boolean \`${v}\``;
    case 'number':
      return Number.isInteger(v) ? `integer \`${v}\`` : `floating point \`${v}\``;
    default:
      return 'a map';
  }
}

const TYPES = {
  string: [(v) => typeof v === 'string', 'a string'],
  integer: [(v) => Number.isInteger(v), 'an integer'],
  number: [(v) => typeof v === 'number', 'a number'],
  boolean: [(v) => typeof v === 'boolean', 'a boolean'],
  'string[]': [(v) => Array.isArray(v) && v.every((s) => typeof s === 'string'), 'a sequence of strings'],
  object: [(v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'a map'],
  any: [() => true, 'anything'],
};

const camel = (key) => key.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

/**
 * Parses the `with` table (JSON text): without a schema, as it is; with one (keys as in
 * `sluice.toml`, each `{ type, default, required, summary }`), checked and returned with
 * camelCase keys. Unknown keys, missing required keys and wrong types are `Failure.invalid`.
 */
export function parseConfig(text, schema) {
  let table;
  try {
    table = text ? JSON.parse(text) : {};
  } catch (e) {
    throw Failure.invalid(`invalid \`with\` table: ${e.message}`);
  }
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw Failure.invalid('invalid `with` table: expected a table');
  }
  if (!schema) return table;
  const names = Object.keys(schema);
  const config = {};
  for (const [key, value] of Object.entries(table)) {
    const spec = schema[key];
    if (!spec) throw Failure.invalid(`invalid \`with\` table: unknown field \`${key}\`, ${expected(names)}`);
    const [ok, word] = TYPES[spec.type ?? 'any'] ?? TYPES.any;
    if (!ok(value)) {
      throw Failure.invalid(`invalid \`with\` table: \`${key}\`: invalid type: ${describeValue(value)}, expected ${word}`);
    }
    if (spec.choices && !spec.choices.includes(value)) {
      throw Failure.invalid(`invalid \`with\` table: \`${key}\`: unknown variant ${JSON.stringify(value)}, ${expected(spec.choices)}`);
    }
    config[camel(key)] = value;
  }
  for (const [key, spec] of Object.entries(schema)) {
    if (camel(key) in config) continue;
    if (spec.required) throw Failure.invalid(`invalid \`with\` table: missing field \`${key}\``);
    if ('default' in spec) config[camel(key)] = structuredClone(spec.default);
  }
  return config;
}

/** The option kind of a schema entry's `type` (and `choices`). */
function schemaKind(spec) {
  if (spec.choices) return [...spec.choices];
  return { string: 'text', 'string[]': 'text-list', object: 'table' }[spec.type] ?? spec.type ?? 'any';
}

/**
 * The option declarations of a config schema (its keys, `summary`s, `type`s or `choices`, and
 * `default`s), for `pluginInfo`: the host checks each value's kind before the run.
 */
export function options(schema) {
  return Object.entries(schema).map(([name, spec]) =>
    option(name, spec.summary ?? '', { kind: schemaKind(spec), default: spec.default }),
  );
}

/** One call of the step: its id, configuration and inputs. */
export class Invocation {
  constructor(raw) {
    /** The contract's record, as the host sent it. */
    this.raw = raw;
    /** The step id from the manifest. */
    this.step = raw.step;
    /** Declared inputs the pipeline set, as JavaScript values. */
    this.inputs = Object.fromEntries(raw.inputs.map(([name, v]) => [name, fromValue(v)]));
  }

  /** The `with` table less the declared inputs (see `parseConfig`). */
  config(schema) {
    return parseConfig(this.raw.config, schema);
  }

  input(name, fallback) {
    return name in this.inputs ? this.inputs[name] : fallback;
  }

  text(name, fallback) {
    const v = this.inputs[name];
    return typeof v === 'string' ? v : fallback;
  }

  artifact(name) {
    const v = this.inputs[name];
    return v && v[ARTIFACT] ? v : undefined;
  }
}

// --- Host functions ---------------------------------------------------------------------------

export function log(level, message) {
  host.log(oneOf(LEVELS, level, 'log level'), String(message));
}
export const trace = (message) => log('trace', message);
export const debug = (message) => log('debug', message);
export const info = (message) => log('info', message);
export const warn = (message) => log('warn', message);
export const error = (message) => log('error', message);

export function progress(done, total, message = '') {
  host.progress(BigInt(done), BigInt(total), message);
}

export function secret(name) {
  return host.secret(name) ?? undefined;
}

const payload = (e) => (e && typeof e === 'object' && 'payload' in e ? e.payload : e);

export function digest(path) {
  try {
    return host.digest(path);
  } catch (e) {
    throw new Error(String(payload(e)));
  }
}

export function runInfo() {
  const d = host.runInfo();
  return { run: d.run, pipeline: d.pipeline, step: d.step, remainingMs: Number(d.remainingMs) };
}

export function uncacheable(reason) {
  host.uncacheable(reason);
}

export function provenance(path) {
  try {
    return JSON.parse(provenanceOf(path));
  } catch (e) {
    throw new Error(String(payload(e)));
  }
}

// --- Files ------------------------------------------------------------------------------------

/** The guest path of a workspace-relative path. */
export function workspacePath(relative) {
  const rel = relative.replace(/^\.\//, '').replace(/^\/+/, '');
  return rel === '' || rel === '.' ? WORKSPACE : `${WORKSPACE}/${rel}`;
}

/** `path` made absolute (beneath the workspace), without `.` or empty segments. `..` stays:
 * the host resolves it, and refuses it where it would leave a grant, as for any language. */
function normalize(path) {
  if (!path.startsWith('/')) path = `${WORKSPACE}/${path}`;
  return `/${path.split('/').filter((p) => p !== '' && p !== '.').join('/')}`;
}

let preopens;

/** The preopened directory that holds `path` (a guest path) and the path beneath it. */
function locate(path) {
  preopens ??= getDirectories();
  const full = normalize(path);
  let best;
  for (const [dir, at] of preopens) {
    const base = at === '/' ? '' : at.replace(/\/+$/, '');
    if ((full === base || full.startsWith(`${base}/`)) && (!best || base.length > best[2].length)) {
      best = [dir, full.slice(base.length + 1) || '.', base];
    }
  }
  if (!best) throw fsError(path, 'no-entry');
  return best;
}

const FS_WORDS = {
  'no-entry': 'no such file or directory',
  access: 'permission denied',
  'not-permitted': 'operation not permitted',
  'read-only': 'read-only file system',
  'is-directory': 'is a directory',
  'not-directory': 'not a directory',
};

function fsError(path, code) {
  return Object.assign(new Error(`${path}: ${FS_WORDS[code] ?? code} (${code})`), { code });
}

function fsCall(path, f) {
  try {
    return f();
  } catch (e) {
    const code = payload(e);
    if (typeof code === 'string') throw fsError(path, code);
    throw e;
  }
}

/** The bytes of a file the step can see. */
export function readBytes(path) {
  const [dir, rel] = locate(path);
  return fsCall(path, () => {
    const file = dir.openAt({ symlinkFollow: true }, rel, {}, { read: true });
    const chunks = [];
    let offset = 0n;
    for (;;) {
      const [bytes, end] = file.read(65536n, offset);
      chunks.push(bytes);
      offset += BigInt(bytes.length);
      if (end || bytes.length === 0) break;
    }
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  });
}

/** The text (UTF-8) of a file the step can see. */
export function readText(path) {
  return new TextDecoder().decode(readBytes(path));
}

/** Writes a file (created or truncated) where the step may write. */
export function writeFile(path, data) {
  const [dir, rel] = locate(path);
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  fsCall(path, () => {
    const file = dir.openAt({}, rel, { create: true, truncate: true }, { write: true });
    let offset = 0;
    while (offset < bytes.length) offset += Number(file.write(bytes.subarray(offset), BigInt(offset)));
  });
}

/** The names in a directory the step can see, sorted. */
export function listDir(path) {
  const [dir, rel] = locate(path);
  return fsCall(path, () => {
    const d = rel === '.' ? dir : dir.openAt({ symlinkFollow: true }, rel, { directory: true }, { read: true });
    const stream = d.readDirectory();
    const names = [];
    for (let e = stream.readDirectoryEntry(); e; e = stream.readDirectoryEntry()) names.push(e.name);
    return names.sort();
  });
}

/** `'file'`, `'directory'` or another kind for a path the step can see; `undefined` if none. */
export function kind(path) {
  try {
    const [dir, rel] = locate(path);
    const type = rel === '.' ? dir.getType() : dir.statAt({ symlinkFollow: true }, rel).type;
    return type === 'regular-file' ? 'file' : type;
  } catch {
    return undefined;
  }
}

/** Writes `data` to `/outputs/<name>` and returns it as an artifact output. */
export function writeArtifact(name, data, mediaType) {
  if (!name || name.includes('/') || name === '.' || name === '..') {
    throw Failure.error(`artifact name ${JSON.stringify(name)} must be a plain file name`);
  }
  const path = `${OUTPUTS}/${name}`;
  try {
    writeFile(path, data);
  } catch (e) {
    throw Failure.error(`cannot write ${path}: ${e.message}`);
  }
  return artifactValue(path, '', mediaType);
}

// --- The plugin -------------------------------------------------------------------------------

/** At most this many bytes of a stack go to the step's log. */
export const STACK_LIMIT = 8192;

function failed(e) {
  if (e instanceof Failure) return e.toWit();
  let stack = e instanceof Error && e.stack ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
  if (stack.length > STACK_LIMIT) stack = `…${stack.slice(-STACK_LIMIT)}`;
  host.log('error', stack.trimEnd());
  return { tag: 'error', val: e instanceof Error ? `${e.name}: ${e.message}` : `uncaught: ${String(e)}` };
}

function checked(result) {
  if (!result || !Array.isArray(result.outputs) || typeof result.summary !== 'string') {
    throw new TypeError('run() must return an outcome (use sluice.outcome)');
  }
  return result;
}

/**
 * Runs `run` the way the component does: returns the outcome, or throws the contract's failure
 * (a `Failure` as itself, anything else as `error` with its message, its stack logged). An
 * async `run` (say, one that awaits `fetch`) gives a promise of the same.
 */
export function callRun(run, raw) {
  let result;
  try {
    result = run(new Invocation(raw));
  } catch (e) {
    throw failed(e);
  }
  if (result && typeof result.then === 'function') {
    return result.then(checked).catch((e) => {
      throw e instanceof Error || !('tag' in Object(e)) ? failed(e) : e;
    });
  }
  try {
    return checked(result);
  } catch (e) {
    throw failed(e);
  }
}

/** The component's `describe` and `run` exports for a plugin. */
export function definePlugin(plugin) {
  const exports = {
    describe() {
      const info = plugin.describe();
      // Built with wasi:http (`build-plugin --http`): the step needs an `allow.net` grant.
      if (/** @type {any} */ (globalThis).__sluiceHttp && !info.wants.includes('net')) info.wants.push('net');
      return info;
    },
    describeOptions: () => optionSpecs(plugin.describe()),
    run: (invocation) => callRun((inv) => plugin.run(inv), invocation),
  };
  // The build's entry wrapper exports `describe-options` from here when the plugin module
  // exports only `describe` and `run`.
  /** @type {any} */ (globalThis).__sluicePlugin = exports;
  return exports;
}
