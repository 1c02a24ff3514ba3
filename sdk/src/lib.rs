//! Write [Sluice](https://github.com/sluice-ci/sluice) pipeline steps in Rust.
//!
//! A step is a WebAssembly component built for `wasm32-wasip2`. With this crate you write
//! a type that implements [`Plugin`], export it with [`export_plugin!`], and build it with
//! `cargo build --release --target wasm32-wasip2`. The resulting `.wasm` file is a step
//! that any `sluice.toml` can use with `uses = "./path/to/plugin.wasm"`.
//!
//! ```
//! use serde::Deserialize;
//! use sluice_sdk::{Failure, Invocation, Outcome, Plugin, PluginInfo, Port, Value, ValueKind};
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     #[serde(default = "default_greeting")]
//!     greeting: String,
//! }
//!
//! fn default_greeting() -> String {
//!     "Hello".into()
//! }
//!
//! struct Greet;
//!
//! impl Plugin for Greet {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("greet", "0.1.0", "Greets someone")
//!             .input(Port::new("name", ValueKind::Text, "Who to greet").required())
//!             .output(Port::new("message", ValueKind::Text, "The greeting"))
//!     }
//!
//!     fn run(invocation: Invocation) -> Result<Outcome, Failure> {
//!         let config: Config = invocation.config()?;
//!         let name = invocation.text("name").unwrap_or("world");
//!         sluice_sdk::info!("greeting {name}");
//!         let message = format!("{}, {name}!", config.greeting);
//!         Ok(Outcome::new()
//!             .summary(message.clone())
//!             .output("message", Value::Text(message)))
//!     }
//! }
//!
//! sluice_sdk::export_plugin!(Greet);
//! # fn main() {}
//! ```
//!
//! # What a step can see
//!
//! Only what the pipeline grants (see the `allow` table of a step):
//!
//! - [`WORKSPACE`]`/<path>` for each `allow.read` and `allow.write` entry (paths are relative
//!   to the directory of `sluice.toml`);
//! - `/inputs/<input>/` for each artifact wired into the step, read-only;
//! - [`OUTPUTS`], a private writable directory: write artifacts there (see [`write_artifact`]);
//! - environment variables set by the step's `env` table, and nothing else;
//! - secrets through [`secret`], for names listed in `allow.secrets`;
//! - the programs of `allow.exec`, started confined through [`process::Command`];
//! - HTTP to the origins of `allow.net`, through `sluice_sdk::http` (the `http` feature),
//!   with send-only secrets (`allow.send`) placed by reference.
//! - how its artifact inputs were made in this run, as the host recorded it, through
//!   [`provenance`] (for attestations).
//!
//! Everything a step prints to stdout or stderr goes to its log.
#![deny(missing_docs)]

extern crate self as sluice_sdk;

use std::path::{Path, PathBuf};

#[cfg(feature = "http")]
pub mod http;
pub mod process;

#[doc(hidden)]
pub mod bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        path: "../wit",
        world: "step",
        pub_export_macro: true,
        export_macro_name: "__export_step",
        default_bindings_module: "::sluice_sdk::bindings",
        runtime_path: "::sluice_sdk::__private::wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

pub use bindings::sluice::step::host::{Level, RunDetails};
pub use bindings::sluice::step::types::{
    Artifact, ConfigOption, Failure, Finding, Invocation, OptionKind, OptionSpec, Outcome, Port,
    Rule, Severity, Span, Suppression, Value, ValueKind,
};

/// What `describe` returns on the wire (the SDK's [`PluginInfo`] derefs to it).
pub use bindings::sluice::step::types::PluginInfo as WirePluginInfo;

/// Confidence levels of three-level tools (gosec's LOW, MEDIUM, HIGH) on the contract's 0.0
/// to 1.0 scale.
pub mod confidence {
    /// LOW.
    pub const LOW: f32 = 0.3;
    /// MEDIUM.
    pub const MEDIUM: f32 = 0.6;
    /// HIGH.
    pub const HIGH: f32 = 0.9;
}

/// Where the step's workspace grants are mounted: `allow.read = ["src"]` is visible at
/// `/workspace/src`.
pub const WORKSPACE: &str = "/workspace";

/// The step's private, writable output directory. Files written here can be returned as
/// artifacts.
pub const OUTPUTS: &str = "/outputs";

/// A pipeline step.
///
/// Implement it on a type and export the type with [`export_plugin!`].
pub trait Plugin {
    /// Describes the plugin: its name, inputs, outputs and wanted capabilities.
    /// Must not depend on anything but the plugin itself.
    fn describe() -> PluginInfo;

    /// Runs the step once.
    ///
    /// Return [`Failure::Gate`] (see [`Failure::gate`]) when the step ran and its result
    /// must stop the pipeline, [`Failure::Invalid`] for bad configuration and
    /// [`Failure::Error`] when the work could not be done.
    fn run(invocation: Invocation) -> Result<Outcome, Failure>;
}

/// Exports a type implementing [`Plugin`] as the component's `describe` and `run`.
///
/// Use it once per plugin crate, at the crate root.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        struct __SluiceStepExport;

        impl $crate::bindings::Guest for __SluiceStepExport {
            fn describe() -> $crate::WirePluginInfo {
                <$plugin as $crate::Plugin>::describe().into_wire().0
            }

            fn describe_options() -> ::std::vec::Vec<$crate::OptionSpec> {
                <$plugin as $crate::Plugin>::describe().into_wire().1
            }

            fn run(
                invocation: $crate::Invocation,
            ) -> ::core::result::Result<$crate::Outcome, $crate::Failure> {
                <$plugin as $crate::Plugin>::run(invocation)
            }
        }

        $crate::bindings::__export_step!(__SluiceStepExport with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

/// What a plugin is, takes, returns and needs: what [`Plugin::describe`] returns, built with
/// the methods below. It derefs to the record `describe` sends ([`WirePluginInfo`]); the kinds
/// and defaults of typed options ([`Opt`]) go to the host through `describe-options`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInfo {
    wire: WirePluginInfo,
    specs: Vec<OptionSpec>,
}

impl std::ops::Deref for PluginInfo {
    type Target = WirePluginInfo;

    fn deref(&self) -> &WirePluginInfo {
        &self.wire
    }
}

impl std::ops::DerefMut for PluginInfo {
    fn deref_mut(&mut self) -> &mut WirePluginInfo {
        &mut self.wire
    }
}

/// The kind of value an [`Opt`] takes: `sluice validate` checks a pipeline's value against
/// it and points at a wrong one in `sluice.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// A whole number.
    Integer,
    /// A number (a whole number is accepted).
    Number,
    /// `true` or `false`.
    Boolean,
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// A list of strings.
    TextList,
    /// A table (the plugin checks its keys).
    Table,
    /// Any value (the plugin checks it).
    Any,
}

impl From<Kind> for OptionKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Text => OptionKind::Text,
            Kind::Integer => OptionKind::Integer,
            Kind::Number => OptionKind::Number,
            Kind::Boolean => OptionKind::Boolean,
            Kind::Choice(c) => OptionKind::Choice(c.iter().map(|s| s.to_string()).collect()),
            Kind::TextList => OptionKind::TextList,
            Kind::Table => OptionKind::Table,
            Kind::Any => OptionKind::Any,
        }
    }
}

/// A `with` option with its kind and default, for a constant table of a plugin's options:
///
/// ```
/// use sluice_sdk::{Kind, Opt, PluginInfo};
///
/// const OPTIONS: &[Opt] = &[
///     Opt::new("min-confidence", Kind::Number, "drop findings below this confidence, 0 to 1")
///         .with_default("0.8"),
///     Opt::new("mode", Kind::Choice(&["fast", "full"], ), "how hard to look").with_default("\"fast\""),
/// ];
///
/// let info = PluginInfo::new("lint", "1.0.0", "Lints").options(OPTIONS);
/// assert_eq!(info.options.as_ref().map(Vec::len), Some(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    /// The `with` key.
    pub name: &'static str,
    /// The kind of value it takes.
    pub kind: Kind,
    /// Its default as JSON (`0.8`, `"\"set\""`, `["vendor"]`), shown by `sluice plugins`.
    pub default: Option<&'static str>,
    /// One line: what it sets.
    pub summary: &'static str,
}

impl Opt {
    /// An option without a default.
    pub const fn new(name: &'static str, kind: Kind, summary: &'static str) -> Self {
        Opt {
            name,
            kind,
            default: None,
            summary,
        }
    }

    /// Its default, as JSON: `"0.8"`, `"\"set\""`, `"[\"vendor\"]"`, `"false"`.
    pub const fn with_default(mut self, json: &'static str) -> Self {
        self.default = Some(json);
        self
    }
}

impl PluginInfo {
    /// Starts a description with no ports and no wanted capabilities.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        PluginInfo {
            wire: WirePluginInfo {
                name: name.into(),
                version: version.into(),
                description: description.into(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                wants: Vec::new(),
                rules: Vec::new(),
                options: None,
            },
            specs: Vec::new(),
        }
    }

    /// The record `describe` returns and what `describe-options` returns.
    pub fn into_wire(self) -> (WirePluginInfo, Vec<OptionSpec>) {
        (self.wire, self.specs)
    }

    /// The kinds and defaults of the options declared with [`PluginInfo::options`].
    pub fn option_specs(&self) -> &[OptionSpec] {
        &self.specs
    }

    /// Declares an input.
    pub fn input(mut self, port: Port) -> Self {
        self.inputs.push(port);
        self
    }

    /// Declares an output.
    pub fn output(mut self, port: Port) -> Self {
        self.outputs.push(port);
        self
    }

    /// Declares a wanted capability: `fs:read`, `fs:write` or `secret:<NAME>`.
    pub fn wants(mut self, capability: impl Into<String>) -> Self {
        self.wants.push(capability.into());
        self
    }

    /// Documents the rules the plugin's findings come from.
    pub fn rules(mut self, rules: impl IntoIterator<Item = Rule>) -> Self {
        self.rules.extend(rules);
        self
    }

    /// Declares a `with` key the plugin reads (besides its inputs). Once a plugin declares
    /// one, the host rejects every undeclared key when it checks the pipeline, before anything
    /// runs, pointing at it in `sluice.toml`.
    ///
    /// The option takes any value: prefer [`PluginInfo::options`], whose kinds let the host
    /// check a value where it is written.
    pub fn option(mut self, name: impl Into<String>, summary: impl Into<String>) -> Self {
        self.wire
            .options
            .get_or_insert_with(Vec::new)
            .push(ConfigOption {
                name: name.into(),
                summary: summary.into(),
            });
        self
    }

    /// Declares `with` keys the plugin reads, each with the kind of value it takes and its
    /// default: the host rejects any other key, and a value of the wrong kind, when it checks
    /// the pipeline, pointing at it in `sluice.toml`; `sluice plugins` shows kinds and
    /// defaults.
    pub fn options(mut self, options: &[Opt]) -> Self {
        for o in options {
            self = self.option(o.name, o.summary);
            self.specs.push(OptionSpec {
                name: o.name.to_string(),
                kind: o.kind.into(),
                default: o.default.map(str::to_string),
            });
        }
        self
    }
}

impl Port {
    /// An optional port.
    pub fn new(name: impl Into<String>, kind: ValueKind, description: impl Into<String>) -> Self {
        Port {
            name: name.into(),
            kind,
            required: false,
            description: description.into(),
        }
    }

    /// Marks the port required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

impl Invocation {
    /// Deserializes the step's `with` table (less its declared inputs) into `T`.
    ///
    /// An error becomes [`Failure::Invalid`] naming the problem, which the host shows
    /// against the step.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_str(&self.config).map_err(|e| {
            // The JSON is the host's rendering of the TOML table: its line and column mean
            // nothing to the author of `sluice.toml`.
            let message = e.to_string();
            let message = match message.rfind(" at line ") {
                Some(i) => &message[..i],
                None => &message,
            };
            Failure::Invalid(format!("invalid `with` table: {message}"))
        })
    }

    /// The value of an input, if the pipeline set it.
    pub fn input(&self, name: &str) -> Option<&Value> {
        self.inputs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of a text input.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.input(name) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// The value of an artifact input: its path under `/inputs/` and its digest.
    pub fn artifact(&self, name: &str) -> Option<&Artifact> {
        match self.input(name) {
            Some(Value::Artifact(a)) => Some(a),
            _ => None,
        }
    }
}

impl Outcome {
    /// An outcome with no outputs, no findings and an empty summary.
    pub fn new() -> Self {
        Outcome {
            outputs: Vec::new(),
            findings: Vec::new(),
            summary: String::new(),
        }
    }

    /// Sets an output.
    pub fn output(mut self, name: impl Into<String>, value: Value) -> Self {
        self.outputs.push((name.into(), value));
        self
    }

    /// Adds a finding.
    pub fn finding(mut self, finding: Finding) -> Self {
        self.findings.push(finding);
        self
    }

    /// Sets the one-line summary.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }
}

impl Default for Outcome {
    fn default() -> Self {
        Self::new()
    }
}

impl Failure {
    /// A failed gate that still reports `outcome`'s findings and outputs.
    pub fn gate(outcome: Outcome) -> Self {
        Failure::Gate(outcome)
    }

    /// Invalid configuration: say what is wrong and how to fix it.
    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::Invalid(message.into())
    }

    /// The step could not do its work.
    pub fn error(message: impl Into<String>) -> Self {
        Failure::Error(message.into())
    }
}

impl Finding {
    /// A finding with no location and no tags.
    pub fn new(rule: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.into(),
            severity,
            message: message.into(),
            span: None,
            tags: Vec::new(),
            confidence: None,
            suppression: None,
        }
    }

    /// Sets how sure the rule is (0.0 to 1.0; see [`confidence`]).
    pub fn confidence(mut self, confidence: f32) -> Self {
        self.confidence = Some(confidence);
        self
    }

    /// Marks the finding as suppressed by an annotation in the source, such as `#nosec`.
    pub fn suppressed(
        mut self,
        annotation: impl Into<String>,
        justification: impl Into<String>,
    ) -> Self {
        self.suppression = Some(Suppression {
            annotation: annotation.into(),
            justification: justification.into(),
        });
        self
    }

    /// Sets where the finding is.
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Adds a tag, such as `CWE-798`.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
}

impl Rule {
    /// A rule: its id (as findings carry it), a kebab-case name, a one-line summary and
    /// the severity its findings usually have.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        summary: impl Into<String>,
        severity: Severity,
    ) -> Self {
        Rule {
            id: id.into(),
            name: name.into(),
            summary: summary.into(),
            help: String::new(),
            severity,
            confidence: None,
            tags: Vec::new(),
            security_severity: None,
        }
    }

    /// Sets the longer explanation (Markdown).
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    /// Sets the usual confidence (0.0 to 1.0).
    pub fn confidence(mut self, confidence: f32) -> Self {
        self.confidence = Some(confidence);
        self
    }

    /// Adds a tag, such as `CWE-798`.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets the security severity (0.0 to 10.0).
    pub fn security_severity(mut self, score: f32) -> Self {
        self.security_severity = Some(score);
        self
    }
}

impl Span {
    /// A point in a file (path relative to the workspace, 1-based line and byte column).
    pub fn new(path: impl Into<String>, line: u32, column: u32) -> Self {
        Span {
            path: path.into(),
            line,
            column,
            end_line: 0,
            end_column: 0,
        }
    }

    /// Sets the inclusive end of the region.
    pub fn to(mut self, end_line: u32, end_column: u32) -> Self {
        self.end_line = end_line;
        self.end_column = end_column;
        self
    }
}

/// The guest path of a workspace-relative path: `workspace_path("go.mod")` is
/// `/workspace/go.mod`.
pub fn workspace_path(relative: impl AsRef<Path>) -> PathBuf {
    Path::new(WORKSPACE).join(relative)
}

/// Writes `contents` to `/outputs/<name>` and returns it as an artifact value, ready to be
/// returned as an output. The host computes its digest.
pub fn write_artifact(
    name: &str,
    contents: &[u8],
    media_type: Option<&str>,
) -> Result<Value, Failure> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Failure::error(format!(
            "artifact name {name:?} must be a plain file name"
        )));
    }
    let path = Path::new(OUTPUTS).join(name);
    std::fs::write(&path, contents)
        .map_err(|e| Failure::error(format!("cannot write {}: {e}", path.display())))?;
    Ok(Value::Artifact(Artifact {
        path: path.display().to_string(),
        digest: String::new(),
        media_type: media_type.map(str::to_owned),
    }))
}

/// Reads a workspace file that the step's configuration names (e.g. `key = "cosign.key"`) as
/// text, from [`WORKSPACE`]. `what` says what it is, for the message: a file the step cannot
/// see is [`Failure::Invalid`] naming the grant that would show it.
pub fn read_workspace_text(path: &str, what: &str) -> Result<String, Failure> {
    let guest = Path::new(WORKSPACE).join(path.trim_start_matches("./"));
    std::fs::read_to_string(&guest).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "this step cannot see it".to_string()
        } else {
            e.to_string()
        };
        Failure::invalid(format!(
            "cannot read {what} `{path}` ({why}): grant it with `read = [\"{path}\"]` in the step's `allow` table"
        ))
    })
}

/// Writes a line to the step's log. Prefer the [`info!`] family of macros.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::sluice::step::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Reports progress: `done` of `total` units, with a short message.
pub fn progress(done: u64, total: u64, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::sluice::step::host::progress(done, total, message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (done, total, message);
}

/// Which run this step is part of: run id, pipeline name, step id, and the milliseconds left
/// before the step's deadline (a step that must undo work before it is stopped budgets its
/// waits with them).
pub fn run_info() -> RunDetails {
    #[cfg(target_arch = "wasm32")]
    return bindings::sluice::step::host::run_info();
    #[cfg(not(target_arch = "wasm32"))]
    RunDetails {
        run: String::new(),
        pipeline: String::new(),
        step: String::new(),
        remaining_ms: u64::MAX,
    }
}

/// Tells the host not to replay this call's result in a later run: it depends on something
/// the step's cache key (plugin, configuration, inputs, granted files, secrets) cannot see,
/// such as the time of day. `reason` is shown by `sluice run --explain-cache`.
pub fn uncacheable(reason: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::sluice::step::host::uncacheable(reason);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = reason;
}

/// Reads a secret granted to the step by `allow.secrets`; `None` otherwise.
///
/// The host masks the value wherever it would be shown, but do not print it.
pub fn secret(name: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return bindings::sluice::step::host::secret(name);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = name;
        None
    }
}

/// How an artifact input of this step was made in this run, as the host recorded it: a
/// JSON document (see `provenance` in the WIT contract and `docs/provenance.md`) naming the
/// producing step and every step upstream of it, with plugin digests, configuration, inputs,
/// grants, programs started and times. `path` is the artifact's guest path, as the
/// invocation gives it (`/inputs/<input>/<file>`).
pub fn provenance(path: &str) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    return bindings::sluice::step::provenance::artifact(path);
    #[cfg(not(target_arch = "wasm32"))]
    Err(format!(
        "provenance({path}) is only available inside a step"
    ))
}

/// Computes `sha256:<hex>` of a file the step can see, natively in the host.
pub fn digest(path: &str) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    return bindings::sluice::step::host::digest(path);
    #[cfg(not(target_arch = "wasm32"))]
    Err(format!("digest({path}) is only available inside a step"))
}

/// Logs at `trace` level, with `format!` arguments.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log($crate::Level::Trace, &::std::format!($($arg)*)) };
}

/// Logs at `debug` level, with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log($crate::Level::Debug, &::std::format!($($arg)*)) };
}

/// Logs at `info` level, with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log($crate::Level::Info, &::std::format!($($arg)*)) };
}

/// Logs at `warn` level, with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log($crate::Level::Warn, &::std::format!($($arg)*)) };
}

/// Logs at `error` level, with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log($crate::Level::Error, &::std::format!($($arg)*)) };
}
