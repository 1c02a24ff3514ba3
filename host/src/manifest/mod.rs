//! The pipeline manifest (`sluice.toml`): a typed model, parsed with spans, validated
//! while deserializing. Nothing here knows about the runtime, so `sluice validate` stays fast
//! and this module is easy to test.
//!
//! Parsing reports every problem it can find at once: TOML syntax errors (with recovery),
//! then each `[pipeline]` and `[steps.<id>]` table is deserialized on its own so that one bad
//! step does not hide the problems of the next.

pub mod diag;
pub mod refs;
pub mod types;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use refs::{Expr, Reference};
pub use types::{ByteSize, DurationSpec, PluginRef, StepId, VarName, WorkspacePath};

/// The default per-step wall-clock limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The default per-step memory limit.
pub const DEFAULT_MEMORY: u64 = 1 << 30;
/// The largest memory limit a step may have (a 32-bit wasm memory).
pub const MAX_MEMORY: u64 = 4 << 30;
/// The default limit on the bytes of artifacts one step may return (their logical size:
/// a sparse file counts whole).
pub const DEFAULT_ARTIFACT_LIMIT: u64 = 1 << 30;

/// A parsed, syntactically valid manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The path as the user gave it, for messages (`examples/go-service/sluice.toml`).
    pub path: String,
    /// The workspace: the directory holding the manifest, absolute.
    pub dir: PathBuf,
    /// The manifest text.
    pub source: String,
    /// `[pipeline]`.
    pub pipeline: Pipeline,
    /// `[steps.<id>]` in file order.
    pub steps: IndexMap<StepId, Step>,
    /// Ids of steps whose table is invalid (already reported), so that later checks do not
    /// report references to them as unknown.
    pub broken_steps: Vec<String>,
}

/// Pipeline-wide settings.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// `name`, or the workspace directory's name.
    pub name: String,
    /// Default step timeout.
    pub timeout: Duration,
    /// Default step memory limit in bytes.
    pub memory: u64,
    /// Default limit on the bytes of artifacts a step returns.
    pub artifact_limit: u64,
    /// PEM certificates trusted for `https` requests besides the system's roots (a private
    /// registry's CA), relative to the workspace.
    pub ca_file: Option<Spanned<WorkspacePath>>,
}

/// One step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its id.
    pub id: StepId,
    /// Span of the id in the header or key.
    pub span: Range<usize>,
    /// The plugin.
    pub uses: Spanned<PluginRef>,
    /// Explicit ordering dependencies.
    pub needs: Vec<Spanned<StepId>>,
    /// The `with` table, key by key.
    pub with: IndexMap<String, WithEntry>,
    /// Span of the whole `with` table, if present.
    pub with_span: Option<Range<usize>>,
    /// Granted capabilities.
    pub allow: Allow,
    /// Environment variables visible inside the step.
    pub env: IndexMap<VarName, String>,
    /// Wall-clock limit, if set on the step.
    pub timeout: Option<Spanned<Duration>>,
    /// Memory limit in bytes, if set on the step.
    pub memory: Option<Spanned<u64>>,
    /// Limit on the bytes of artifacts the step returns, if set on the step.
    pub artifact_limit: Option<Spanned<u64>>,
    /// Whether its result may be replayed from the step-result cache (`cache = false`
    /// turns that off).
    pub cache: bool,
}

/// One `with` entry.
#[derive(Debug, Clone)]
pub struct WithEntry {
    /// Span of the key.
    pub key_span: Range<usize>,
    /// Span of the value.
    pub span: Range<usize>,
    /// The value as JSON (TOML datetimes become strings).
    pub value: serde_json::Value,
    /// Every `${{ }}` reference anywhere inside the value.
    pub refs: Vec<Expr>,
    /// The reference, when the value is a string that is exactly one `${{ }}` (then the
    /// referenced value keeps its kind instead of being interpolated as text).
    pub whole: Option<Expr>,
}

/// The `allow` table: what a step may touch.
#[derive(Debug, Clone, Default)]
pub struct Allow {
    /// Read-only paths.
    pub read: Vec<Spanned<WorkspacePath>>,
    /// Read-write paths.
    pub write: Vec<Spanned<WorkspacePath>>,
    /// Secrets the step may read.
    pub secrets: Vec<Spanned<VarName>>,
    /// Programs the step may start: names looked up on the host's `PATH`, or absolute paths.
    pub exec: Vec<Spanned<String>>,
    /// Origins the step may send HTTP requests to.
    pub net: Vec<Spanned<crate::sandbox::net::NetGrant>>,
    /// Send-only secrets: each usable in request headers to the origins it is bound to,
    /// never readable.
    pub send: Vec<SendGrant>,
    /// Span of the `allow` value, if present.
    pub span: Option<Range<usize>>,
}

/// One `allow.send` entry: `NAME = "origin"` or `NAME = ["origin", ...]`.
#[derive(Debug, Clone)]
pub struct SendGrant {
    /// The secret.
    pub name: Spanned<VarName>,
    /// The origins it may be sent to (each one of the step's `allow.net`).
    pub origins: Vec<Spanned<crate::sandbox::net::NetGrant>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPipeline {
    name: Option<String>,
    timeout: Option<Spanned<DurationSpec>>,
    memory: Option<Spanned<ByteSize>>,
    artifact_limit: Option<Spanned<ByteSize>>,
    ca_file: Option<Spanned<WorkspacePath>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawStep {
    uses: Spanned<PluginRef>,
    #[serde(default)]
    needs: Vec<Spanned<StepId>>,
    #[serde(default)]
    with: Option<Spanned<IndexMap<Spanned<String>, Spanned<toml::Value>>>>,
    #[serde(default)]
    allow: Option<Spanned<RawAllow>>,
    #[serde(default)]
    env: IndexMap<VarName, String>,
    timeout: Option<Spanned<DurationSpec>>,
    memory: Option<Spanned<ByteSize>>,
    artifact_limit: Option<Spanned<ByteSize>>,
    cache: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    #[serde(default)]
    read: Vec<Spanned<WorkspacePath>>,
    #[serde(default)]
    write: Vec<Spanned<WorkspacePath>>,
    #[serde(default)]
    secrets: Vec<Spanned<VarName>>,
    #[serde(default)]
    net: Vec<Spanned<String>>,
    #[serde(default)]
    send: IndexMap<Spanned<VarName>, Spanned<OneOrMany>>,
    #[serde(default)]
    exec: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "an origin or a list of origins, like \"https://registry.example.com\""
)]
enum OneOrMany {
    One(String),
    Many(Vec<Spanned<String>>),
}

/// Reads and parses a manifest file. Returns the manifest with the problems found so far
/// (which may include errors: later checks still run on what parsed), or fails when the file
/// cannot be read or is not TOML.
pub fn load(path: &Path) -> Result<(Manifest, Diagnostics), LoadError> {
    let source = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let absolute = std::path::absolute(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = absolute
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    parse(&path.display().to_string(), dir, source).map_err(|(source, diagnostics)| {
        LoadError::Invalid {
            path: path.display().to_string(),
            text: source,
            diagnostics,
        }
    })
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{path} is invalid")]
    Invalid {
        /// The display path.
        path: String,
        /// The text, to render the diagnostics against.
        text: String,
        /// Everything wrong with it.
        diagnostics: Diagnostics,
    },
}

/// Parses manifest text into what could be understood and every problem found. Fails (giving
/// the source back) only when the text is not TOML or no step could be understood.
pub fn parse(
    path: &str,
    dir: PathBuf,
    source: String,
) -> Result<(Manifest, Diagnostics), (String, Diagnostics)> {
    let mut diags = Diagnostics::default();
    let (root, errors) = DeTable::parse_recoverable(&source);
    // A table defined twice makes every key under it a duplicate too: report the table only.
    let mut duplicate_table_lines: Option<(usize, usize)> = None;
    for e in &errors {
        let span = e.span();
        let message = e.message().trim_end();
        if message.contains("duplicate key")
            && let Some(span) = &span
        {
            {
                let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
                let line_end = source[span.start..]
                    .find('\n')
                    .map_or(source.len(), |i| span.start + i);
                let line = &source[line_start..line_end];
                if line.trim_start().starts_with('[') {
                    let section_end = source[line_end..]
                        .find("\n[")
                        .map_or(source.len(), |i| line_end + i);
                    duplicate_table_lines = Some((line_end, section_end));
                    let name = line.trim().trim_matches(|c| c == '[' || c == ']');
                    diags.push(
                        Diagnostic::error(
                            format!("invalid TOML: `[{name}]` is defined twice"),
                            Some(span.clone()),
                        )
                        .label("defined again here")
                        .help(match name.strip_prefix("steps.") {
                            Some(_) => {
                                "step ids must be unique: rename one of the steps".to_string()
                            }
                            None => "define each table once".to_string(),
                        }),
                    );
                    continue;
                }
                if duplicate_table_lines
                    .is_some_and(|(from, to)| span.start > from && span.start < to)
                {
                    continue;
                }
            }
        }
        diags.push(
            Diagnostic::error(format!("invalid TOML: {message}"), span).label(toml_label(message)),
        );
    }
    if !errors.is_empty() {
        return Err((source, diags));
    }
    let root = root.into_inner();

    let mut pipeline = Pipeline {
        name: dir
            .file_name()
            .map_or_else(|| "pipeline".into(), |n| n.to_string_lossy().into_owned()),
        timeout: DEFAULT_TIMEOUT,
        memory: DEFAULT_MEMORY,
        artifact_limit: DEFAULT_ARTIFACT_LIMIT,
        ca_file: None,
    };
    let mut steps = IndexMap::new();
    let mut broken_steps = Vec::new();
    let mut saw_steps = false;

    for (key, value) in root {
        let key_span = key.span();
        match key.get_ref().as_ref() {
            "pipeline" => match RawPipeline::deserialize(ValueDeserializer::from(value)) {
                Ok(raw) => {
                    if let Some(name) = raw.name {
                        pipeline.name = name;
                    }
                    if let Some(t) = raw.timeout {
                        pipeline.timeout = t.into_inner().0;
                    }
                    if let Some(m) = raw.memory {
                        match check_memory(&m) {
                            Ok(bytes) => pipeline.memory = bytes,
                            Err(d) => diags.push(*d),
                        }
                    }
                    if let Some(a) = raw.artifact_limit {
                        pipeline.artifact_limit = a.into_inner().0;
                    }
                    pipeline.ca_file = raw.ca_file;
                }
                Err(e) => diags.push(serde_diagnostic(&e, None, key_span)),
            },
            "steps" => {
                saw_steps = true;
                let span = value.span();
                let DeValue::Table(table) = value.into_inner() else {
                    diags.push(
                        Diagnostic::error("`steps` must be a table of steps", Some(span))
                            .label("not a table")
                            .help("declare each step as `[steps.<id>]` followed by `uses = \"<plugin>\"`"),
                    );
                    continue;
                };
                for (id, value) in table {
                    let id_span = id.span();
                    let id_text = id.get_ref().to_string();
                    let step_id = match StepId::try_from(id_text.clone()) {
                        Ok(id) => id,
                        Err(message) => {
                            diags.push(
                                Diagnostic::error(message, Some(id_span))
                                    .step(id_text.clone())
                                    .label("invalid step id")
                                    .help(format!("rename the table, e.g. `[steps.{}]`", suggest_id(&id_text))),
                            );
                            broken_steps.push(id_text);
                            continue;
                        }
                    };
                    match RawStep::deserialize(ValueDeserializer::from(value)) {
                        Ok(raw) => match lower_step(step_id.clone(), id_span, raw, &dir, &mut diags) {
                            Some(step) => {
                                steps.insert(step_id, step);
                            }
                            None => broken_steps.push(id_text),
                        },
                        Err(e) => {
                            diags.push(serde_diagnostic(&e, Some(&id_text), id_span));
                            broken_steps.push(id_text);
                        }
                    }
                }
            }
            other => diags.push(
                Diagnostic::error(format!("unknown top-level key `{other}`"), Some(key_span))
                    .label("unknown key")
                    .help(match closest(other, &["pipeline", "steps"]) {
                        Some(best) => format!("did you mean `{best}`? a manifest has a `[pipeline]` table and `[steps.<id>]` tables"),
                        None => "a manifest has a `[pipeline]` table and `[steps.<id>]` tables".into(),
                    }),
            ),
        }
    }
    if !saw_steps {
        diags.push(
            Diagnostic::error(
                "the pipeline has no steps",
                Some(source.len()..source.len()),
            )
            .help("add a step:\n[steps.check]\nuses = \"go-mod\"\nallow = { read = [\".\"] }"),
        );
    }
    diags.sort();
    if steps.is_empty() && diags.has_errors() {
        return Err((source, diags));
    }
    Ok((
        Manifest {
            path: path.to_string(),
            dir,
            source,
            pipeline,
            steps,
            broken_steps,
        },
        diags,
    ))
}

fn check_memory(m: &Spanned<ByteSize>) -> Result<u64, Box<Diagnostic>> {
    let bytes = m.get_ref().0;
    if bytes > MAX_MEMORY {
        return Err(Box::new(
            Diagnostic::error(
                format!(
                    "memory limit {} is larger than a step can use (4GiB)",
                    m.get_ref()
                ),
                Some(m.span()),
            )
            .label("too large")
            .help("use at most \"4GiB\""),
        ));
    }
    Ok(bytes)
}

/// Whether the socket at `path` lies beneath the manifest's directory `dir` (symbolic links
/// resolved where they exist): there a step with a write grant could put another socket, or a
/// link to one, in its place between the check and the connection.
fn socket_in_workspace(dir: &Path, path: &str) -> bool {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let path = Path::new(path);
    let resolved = match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    };
    resolved.starts_with(&dir) || path.starts_with(&dir)
}

fn lower_step(
    id: StepId,
    span: Range<usize>,
    raw: RawStep,
    dir: &Path,
    diags: &mut Diagnostics,
) -> Option<Step> {
    let before = diags.error_count();
    let mut with = IndexMap::new();
    let mut with_span = None;
    if let Some(table) = raw.with {
        with_span = Some(table.span());
        for (key, value) in table.into_inner() {
            let value_span = value.span();
            let mut refs = Vec::new();
            let whole = match value.get_ref() {
                toml::Value::String(s) => refs::find(s)
                    .ok()
                    .filter(|r| refs::whole(s, r))
                    .map(|r| r[0].expr.clone()),
                _ => None,
            };
            if let Err(message) = collect_refs(value.get_ref(), &mut refs) {
                diags.push(
                    Diagnostic::error(message, Some(value_span.clone()))
                        .step(id.as_str())
                        .label("invalid expression"),
                );
            }
            with.insert(
                key.get_ref().clone(),
                WithEntry {
                    key_span: key.span(),
                    span: value_span,
                    value: to_json(value.into_inner()),
                    refs,
                    whole,
                },
            );
        }
    }
    let mut allow = Allow::default();
    if let Some(raw_allow) = raw.allow {
        allow.span = Some(raw_allow.span());
        let raw_allow = raw_allow.into_inner();
        for entry in &raw_allow.net {
            match crate::sandbox::net::NetGrant::parse(entry.get_ref()) {
                Ok(g) if allow.net.iter().any(|n| *n.get_ref() == g) => diags.push(
                    Diagnostic::warning(
                        format!("origin `{g}` is granted twice"),
                        Some(entry.span()),
                    )
                    .step(id.as_str())
                    .label("granted again here")
                    .help("remove one of them"),
                ),
                Ok(g) if g.socket().is_some_and(|p| socket_in_workspace(dir, p)) => diags.push(
                    Diagnostic::error(
                        format!(
                            "`{g}` lies inside the pipeline's directory, where a step that may write could put another socket in its place"
                        ),
                        Some(entry.span()),
                    )
                    .step(id.as_str())
                    .label("socket inside the workspace")
                    .help("serve the API from outside the pipeline's directory, like \"unix:/run/podman/podman.sock\""),
                ),
                Ok(g) => allow.net.push(Spanned::new(entry.span(), g)),
                Err(e) => diags.push(
                    Diagnostic::error(
                        format!("invalid `allow.net` entry: {}", e.message),
                        Some(entry.span()),
                    )
                    .step(id.as_str())
                    .label("not an origin")
                    .help(e.help),
                ),
            }
        }
        for (name, origins) in raw_allow.send {
            let span = origins.span();
            let list = match origins.into_inner() {
                OneOrMany::One(o) => vec![Spanned::new(span.clone(), o)],
                OneOrMany::Many(l) => l,
            };
            if list.is_empty() {
                diags.push(
                    Diagnostic::error(
                        format!(
                            "send-only secret `{}` is bound to no origin",
                            name.get_ref()
                        ),
                        Some(span.clone()),
                    )
                    .step(id.as_str())
                    .label("empty")
                    .help("name the origins it may be sent to, each one of the step's `allow.net`"),
                );
            }
            let mut bound = Vec::new();
            for o in list {
                match crate::sandbox::net::NetGrant::parse(o.get_ref()) {
                    Ok(g) if allow.net.iter().any(|n| *n.get_ref() == g) => bound.push(Spanned::new(o.span(), g)),
                    Ok(g) => diags.push(
                        Diagnostic::error(
                            format!("send-only secret `{}` is bound to `{g}`, which the step's `allow.net` does not grant", name.get_ref()),
                            Some(o.span()),
                        )
                        .step(id.as_str())
                        .label("not in `allow.net`")
                        .help(format!("add \"{g}\" to `allow.net`, or bind the secret to an origin the step may reach")),
                    ),
                    Err(e) => diags.push(
                        Diagnostic::error(format!("invalid origin for send-only secret `{}`: {}", name.get_ref(), e.message), Some(o.span()))
                            .step(id.as_str())
                            .label("not an origin")
                            .help(e.help),
                    ),
                }
            }
            if raw_allow
                .secrets
                .iter()
                .any(|s| s.get_ref() == name.get_ref())
            {
                diags.push(
                    Diagnostic::error(
                        format!("secret `{}` is granted both readable (`allow.secrets`) and send-only (`allow.send`)", name.get_ref()),
                        Some(name.span()),
                    )
                    .step(id.as_str())
                    .label("send-only here")
                    .help("remove it from `allow.secrets`: a send-only secret is one the step must not read"),
                );
            }
            allow.send.push(SendGrant {
                name,
                origins: bound,
            });
        }
        for (i, program) in raw_allow.exec.iter().enumerate() {
            if let Err(e) = crate::sandbox::exec::program::check_name(program.get_ref()) {
                diags.push(
                    Diagnostic::error(e.to_string(), Some(program.span()))
                        .step(id.as_str())
                        .label("not a program")
                        .help(e.help()),
                );
            } else if raw_allow.exec[..i]
                .iter()
                .any(|p| p.get_ref() == program.get_ref())
            {
                diags.push(
                    Diagnostic::warning(
                        format!("program `{}` is granted twice", program.get_ref()),
                        Some(program.span()),
                    )
                    .step(id.as_str())
                    .label("granted again here")
                    .help("remove one of them"),
                );
            }
        }
        allow.exec = raw_allow.exec;
        allow.read = raw_allow.read;
        allow.write = raw_allow.write;
        allow.secrets = raw_allow.secrets;
    }
    let memory = match raw.memory {
        Some(m) => match check_memory(&m) {
            Ok(bytes) => Some(Spanned::new(m.span(), bytes)),
            Err(d) => {
                diags.push((*d).step(id.as_str()));
                None
            }
        },
        None => None,
    };
    if diags.error_count() > before {
        return None;
    }
    Some(Step {
        id,
        span,
        uses: raw.uses,
        needs: raw.needs,
        with,
        with_span,
        allow,
        env: raw.env,
        timeout: raw
            .timeout
            .map(|t| Spanned::new(t.span(), t.into_inner().0)),
        memory,
        artifact_limit: raw
            .artifact_limit
            .map(|a| Spanned::new(a.span(), a.into_inner().0)),
        cache: raw.cache.unwrap_or(true),
    })
}

fn collect_refs(value: &toml::Value, out: &mut Vec<Expr>) -> Result<(), String> {
    match value {
        toml::Value::String(s) => out.extend(refs::find(s)?.into_iter().map(|r| r.expr)),
        toml::Value::Array(items) => {
            for item in items {
                collect_refs(item, out)?;
            }
        }
        toml::Value::Table(table) => {
            for item in table.values() {
                collect_refs(item, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn to_json(value: toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(i) => serde_json::Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(to_json).collect())
        }
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
    }
}

/// Turns a serde error from one table into a diagnostic, with a fix where the message allows.
fn serde_diagnostic(e: &toml::de::Error, step: Option<&str>, fallback: Range<usize>) -> Diagnostic {
    let message = e.message().trim_end().to_string();
    let span = e.span().unwrap_or(fallback);
    let (label, help) = if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = message
            .split("expected ")
            .nth(1)
            .map_or_else(Vec::new, |list| {
                list.split(['`', ',', ' '])
                    .filter(|w| !w.is_empty() && *w != "one" && *w != "of" && *w != "or")
                    .collect()
            });
        let help = match closest(field, &expected) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("remove `{field}`"),
        };
        ("unknown key".to_string(), Some(help))
    } else if message.starts_with("missing field `uses`") {
        ("this step".to_string(), Some("add `uses = \"<plugin>\"`: a built-in name (see `sluice plugins`) or a path to a .wasm file".to_string()))
    } else if message.starts_with("missing field") {
        ("here".to_string(), None)
    } else if message.starts_with("invalid type") {
        ("wrong type".to_string(), None)
    } else {
        ("invalid value".to_string(), None)
    };
    let mut d = Diagnostic::error(message, Some(span)).label(label);
    if let Some(step) = step {
        d = d.step(step);
    }
    if let Some(help) = help {
        d = d.help(help);
    }
    d
}

fn toml_label(message: &str) -> String {
    if message.contains("duplicate key") {
        "defined twice".into()
    } else {
        "here".into()
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A help line: "did you mean `<closest>`? " when a candidate is close to `word`, then `rest`.
pub fn did_you_mean(word: &str, candidates: &[&str], rest: &str) -> String {
    match closest(word, candidates) {
        Some(best) => format!("did you mean `{best}`? {rest}"),
        None => rest.to_string(),
    }
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// two neighbours each cost 1 (`mdo` is one edit from `mod`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// `s` as a step id could be written: lower-case kebab-case, starting with a letter.
pub(crate) fn suggest_id(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "step-");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Manifest {
        let (m, d) = parse("sluice.toml", PathBuf::from("/ws/demo"), src.to_string())
            .unwrap_or_else(|(s, d)| panic!("{}", d.render("sluice.toml", &s)));
        assert!(d.0.is_empty(), "{}", d.render("sluice.toml", &m.source));
        m
    }

    #[test]
    fn parses_a_full_step() {
        let m = parse_ok(
            r#"
[pipeline]
name = "demo"
timeout = "5m"

[steps.mod]
uses = "go-mod"
with = { dir = ".", tag = "v${{ run.id }}" }
allow = { read = ["."], secrets = ["TOKEN"] }
env = { GOFLAGS = "-mod=vendor" }
memory = "256MiB"

[steps.next]
uses = "./plugins/x.wasm"
needs = ["mod"]
with = { module = "${{ steps.mod.outputs.module }}" }
"#,
        );
        assert_eq!(m.pipeline.name, "demo");
        assert_eq!(m.pipeline.timeout, Duration::from_secs(300));
        let step = &m.steps["mod"];
        assert_eq!(step.uses.get_ref(), &PluginRef::Builtin("go-mod".into()));
        assert_eq!(step.allow.read[0].get_ref().to_string(), ".");
        assert_eq!(step.memory.as_ref().map(|m| *m.get_ref()), Some(256 << 20));
        assert_eq!(step.with["tag"].refs, vec![Expr::RunId]);
        let next = &m.steps["next"];
        assert_eq!(next.needs[0].get_ref().as_str(), "mod");
        assert_eq!(
            next.with["module"].refs,
            vec![Expr::StepOutput {
                step: "mod".into(),
                output: "module".into()
            }]
        );
    }

    #[test]
    fn pipeline_name_defaults_to_the_directory() {
        let m = parse_ok("[steps.a]\nuses = \"go-mod\"\n");
        assert_eq!(m.pipeline.name, "demo");
        assert_eq!(m.pipeline.memory, DEFAULT_MEMORY);
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("usez", &["uses", "needs", "with"]), Some("uses"));
        assert_eq!(closest("zzzzzz", &["uses", "needs"]), None);
        assert_eq!(closest("mdo", &["build", "mod"]), Some("mod"));
        assert_eq!(suggest_id("Build_API"), "build-api");
        assert_eq!(suggest_id("1x"), "step-1x");
    }
}
