// SPDX-License-Identifier: Apache-2.0
// Types of `sluice-sdk` (src/index.js): write Sluice pipeline steps in JavaScript or TypeScript.

/** Where the step's workspace grants are mounted: `allow.read = ["src"]` is `/workspace/src`. */
export const WORKSPACE: '/workspace';
/** The step's private, writable output directory: artifacts are written here. */
export const OUTPUTS: '/outputs';

export type ValueKind = 'text' | 'integer' | 'number' | 'boolean' | 'artifact' | 'json';
export type Severity = 'note' | 'warning' | 'error';
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** A declared input or output of a plugin. */
export interface Port {
  name: string;
  kind: ValueKind;
  required: boolean;
  description: string;
}

/** A `with` key the plugin reads besides its inputs. */
export interface ConfigOption {
  name: string;
  summary: string;
}

/** A rule the plugin's findings come from (shown by `sluice plugins`, written to SARIF). */
export interface Rule {
  id: string;
  name: string;
  summary: string;
  help: string;
  severity: Severity;
  confidence?: number;
  tags: string[];
  securitySeverity?: number;
}

/** What `describe` returns. */
export interface PluginInfo {
  name: string;
  version: string;
  description: string;
  inputs: Port[];
  outputs: Port[];
  /** `fs:read`, `fs:write`, `secret:<NAME>`, `exec:<program>`, `net` (`?` for optional). */
  wants: string[];
  rules: Rule[];
  /** Every `with` key read besides the inputs; `undefined` takes any key. */
  options?: ConfigOption[];
}

/** A region of a workspace file: 1-based line and byte column, inclusive end or 0. */
export interface Span {
  path: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export interface Suppression {
  annotation: string;
  justification: string;
}

/** One result of an analysis. */
export interface Finding {
  rule: string;
  severity: Severity;
  message: string;
  span?: Span;
  tags: string[];
  confidence?: number;
  suppression?: Suppression;
}

/** The contract's `value` variant. */
export type Value =
  | { tag: 'text'; val: string }
  | { tag: 'integer'; val: bigint }
  | { tag: 'number'; val: number }
  | { tag: 'boolean'; val: boolean }
  | { tag: 'artifact'; val: { path: string; digest: string; mediaType?: string } }
  | { tag: 'json'; val: string };

/** What a step produced: build it with `outcome`. */
export interface Outcome {
  outputs: [string, Value][];
  findings: Finding[];
  summary: string;
}

/** A file moved by content digest: an artifact input, or what `writeArtifact` returns. */
export interface Artifact {
  /** Guest path: `/inputs/<input>/<file>` for inputs, `/outputs/<name>` for outputs. */
  path: string;
  /** `sha256:<hex>`; empty for an artifact about to be returned (the host fills it in). */
  digest: string;
  mediaType?: string;
}

/** A value a step can return: text, integer (a whole number or bigint), number, boolean, artifact or JSON. */
export type OutputValue = string | number | bigint | boolean | Artifact | object;

/** One key of a configuration schema, as written in `sluice.toml`. */
export interface ConfigSpec {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'string[]' | 'object' | 'any';
  default?: unknown;
  required?: boolean;
  /** The strings the value may be (the host and `parseConfig` check it). */
  choices?: readonly string[];
  /** One line: what it sets (for `options`; `sluice plugins` shows the type and default). */
  summary?: string;
}
export type ConfigSchema = Record<string, ConfigSpec>;

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type SpecValue<C extends ConfigSpec> = C['choices'] extends readonly (infer V)[]
  ? V
  : C['type'] extends 'string'
  ? string
  : C['type'] extends 'integer' | 'number'
    ? number
    : C['type'] extends 'boolean'
      ? boolean
      : C['type'] extends 'string[]'
        ? string[]
        : C['type'] extends 'object'
          ? Record<string, unknown>
          : unknown;
/** The configuration a schema parses into: its keys in camelCase. */
export type Config<S extends ConfigSchema> = { [K in keyof S & string as Camel<K>]: SpecValue<S[K]> };

/** Why a step did not pass: throw one from `run`. */
export class Failure extends Error {
  readonly kind: 'gate' | 'invalid' | 'error';
  readonly outcome?: Outcome;
  constructor(kind: 'gate' | 'invalid' | 'error', message: string, outcome?: Outcome);
  /** A failed gate: the step ran and must stop the pipeline; its findings are still reported. */
  static gate(outcome: Outcome): Failure;
  /** Invalid configuration: say what is wrong and how to fix it. */
  static invalid(message: string): Failure;
  /** The step could not do its work. */
  static error(message: string): Failure;
  toWit(): { tag: 'gate'; val: Outcome } | { tag: 'invalid' | 'error'; val: string };
}

export function port(name: string, kind: ValueKind, description: string, opts?: { required?: boolean }): Port;
/** The kind of value an option takes: checked by the host where the pipeline writes it. */
export type OptionKind = 'text' | 'integer' | 'number' | 'boolean' | 'text-list' | 'table' | 'any' | readonly string[];
/** What the component's `describe-options` returns for one option. */
export interface OptionSpec {
  name: string;
  kind: { tag: Exclude<OptionKind, readonly string[]> } | { tag: 'choice'; val: string[] };
  default?: string;
}
export function option(name: string, summary: string, opts?: { kind?: OptionKind; default?: unknown }): ConfigOption;
export function optionSpecs(info: PluginInfo): OptionSpec[];
export function rule(
  id: string,
  name: string,
  summary: string,
  severity: Severity,
  opts?: { help?: string; confidence?: number; tags?: string[]; securitySeverity?: number },
): Rule;
export function pluginInfo(
  name: string,
  version: string,
  description: string,
  opts?: { inputs?: Port[]; outputs?: Port[]; wants?: string[]; rules?: Rule[]; options?: ConfigOption[] },
): PluginInfo;
export function span(path: string, line: number, column?: number, endLine?: number, endColumn?: number): Span;
export function finding(
  rule: string,
  severity: Severity,
  message: string,
  opts?: { span?: Span; tags?: string[]; confidence?: number; suppressed?: [string, string?] },
): Finding;
/** Marks a value to be returned as the `json` kind (plain objects and arrays are, already). */
export function json(value: unknown): object;
export function toValue(value: OutputValue): Value;
export function fromValue(value: Value): unknown;
export function outcome(summary?: string, opts?: { outputs?: Record<string, OutputValue>; findings?: Finding[] }): Outcome;

export function parseConfig(text: string): Record<string, unknown>;
export function parseConfig<S extends ConfigSchema>(text: string, schema: S): Config<S>;
/** The option declarations of a configuration schema, for `pluginInfo`. */
export function options(schema: ConfigSchema): ConfigOption[];

/** One call of the step. */
export class Invocation {
  readonly raw: RawInvocation;
  readonly step: string;
  readonly inputs: Record<string, unknown>;
  config(): Record<string, unknown>;
  config<S extends ConfigSchema>(schema: S): Config<S>;
  input(name: string, fallback?: unknown): unknown;
  text(name: string, fallback?: string): string | undefined;
  artifact(name: string): Artifact | undefined;
}

/** The contract's `invocation` record, as the host sends it. */
export interface RawInvocation {
  step: string;
  config: string;
  inputs: [string, Value][];
}

export function log(level: Level, message: string): void;
export function trace(message: string): void;
export function debug(message: string): void;
export function info(message: string): void;
export function warn(message: string): void;
export function error(message: string): void;
export function progress(done: number | bigint, total: number | bigint, message?: string): void;
/** A secret granted by `allow.secrets`; `undefined` otherwise (the host logs the denial). */
export function secret(name: string): string | undefined;
/** `sha256:<hex>` of a file the step can see, computed by the host; throws when it cannot see it. */
export function digest(path: string): string;
export function runInfo(): { run: string; pipeline: string; step: string; remainingMs: number };
export function uncacheable(reason: string): void;
/** How an artifact input was made in this run (parsed JSON, see docs/provenance.md). */
export function provenance(path: string): unknown;

export function workspacePath(relative: string): string;
/** The bytes of a file the step can see; throws an Error with `code` (`no-entry`, `access`...). */
export function readBytes(path: string): Uint8Array;
export function readText(path: string): string;
export function writeFile(path: string, data: string | Uint8Array): void;
export function listDir(path: string): string[];
export function kind(path: string): 'file' | 'directory' | string | undefined;
/** Writes `/outputs/<name>` and returns it as an artifact output. */
export function writeArtifact(name: string, data: string | Uint8Array, mediaType?: string): Artifact;

export const STACK_LIMIT: number;
export function callRun(run: (invocation: Invocation) => Outcome | Promise<Outcome>, raw: RawInvocation): Outcome | Promise<Outcome>;

/** A plugin: what `definePlugin` takes. */
export interface Plugin {
  describe(): PluginInfo;
  run(invocation: Invocation): Outcome | Promise<Outcome>;
}
/** The component's exports for a plugin: `export const { describe, describeOptions, run } = definePlugin(...)`. */
export function definePlugin(plugin: Plugin): {
  describe(): PluginInfo;
  describeOptions(): OptionSpec[];
  run(invocation: RawInvocation): Outcome | Promise<Outcome>;
};
