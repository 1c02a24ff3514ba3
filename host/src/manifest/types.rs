//! Validating newtypes: each parses from a TOML string and says which forms it accepts.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

fn is_kebab_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
        && !s.ends_with('-')
}

/// A step id: `[a-z][a-z0-9-]*`, not ending in `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct StepId(String);

impl StepId {
    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StepId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if is_kebab_id(&s) {
            Ok(StepId(s))
        } else {
            Err(format!(
                "invalid step id `{s}`: use lower-case letters, digits and `-`, starting with a letter (like `build-api`)"
            ))
        }
    }
}

impl From<StepId> for String {
    fn from(id: StepId) -> String {
        id.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for StepId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// What a step's `uses` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum PluginRef {
    /// A plugin embedded in the `sluice` binary, by name.
    Builtin(String),
    /// A component file, relative to the manifest's directory.
    File(PathBuf),
}

impl TryFrom<String> for PluginRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.contains("://") {
            return Err(format!(
                "`{s}`: only built-in plugins (like \"go-mod\") and local .wasm files (like \"./plugins/x.wasm\") are supported"
            ));
        }
        if s.ends_with(".wasm") || s.starts_with("./") || s.starts_with("../") || s.starts_with('/')
        {
            return Ok(PluginRef::File(PathBuf::from(s)));
        }
        if is_kebab_id(&s) {
            return Ok(PluginRef::Builtin(s));
        }
        Err(format!(
            "`{s}` is neither a built-in plugin name (like \"go-mod\") nor a path to a .wasm component (like \"./plugins/x.wasm\")"
        ))
    }
}

impl From<PluginRef> for String {
    fn from(r: PluginRef) -> String {
        r.to_string()
    }
}

impl fmt::Display for PluginRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginRef::Builtin(name) => f.write_str(name),
            PluginRef::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A path inside the workspace (the manifest's directory): relative, and never escaping it.
/// Stored normalized (`./a/../b/` is `b`; the workspace itself is `.`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspacePath(PathBuf);

impl WorkspacePath {
    /// The normalized relative path (`.` for the workspace itself).
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// Whether it is the workspace itself.
    pub fn is_root(&self) -> bool {
        self.0 == Path::new(".")
    }
}

impl TryFrom<String> for WorkspacePath {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let path = Path::new(&s);
        if s.is_empty() {
            return Err("empty path: use \".\" for the whole workspace".into());
        }
        if path.has_root() || s.starts_with('~') {
            return Err(format!(
                "`{s}` is absolute: paths are relative to the directory of the manifest"
            ));
        }
        let mut normal = PathBuf::new();
        for component in path.components() {
            match component {
                Component::CurDir => {}
                Component::Normal(c) => normal.push(c),
                Component::ParentDir => {
                    if !normal.pop() {
                        return Err(format!(
                            "`{s}` escapes the workspace: paths must stay inside the directory of the manifest"
                        ));
                    }
                }
                Component::RootDir | Component::Prefix(_) => unreachable!("checked has_root"),
            }
        }
        if normal.as_os_str().is_empty() {
            normal.push(".");
        }
        Ok(WorkspacePath(normal))
    }
}

impl From<WorkspacePath> for String {
    fn from(p: WorkspacePath) -> String {
        p.to_string()
    }
}

impl fmt::Display for WorkspacePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

/// An environment variable or secret name: `[A-Za-z_][A-Za-z0-9_]*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct VarName(String);

impl VarName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for VarName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut chars = s.chars();
        let ok = matches!(chars.next(), Some('A'..='Z' | 'a'..='z' | '_'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(VarName(s))
        } else {
            Err(format!(
                "invalid variable name `{s}`: use letters, digits and `_`, like `GOFLAGS`"
            ))
        }
    }
}

impl From<VarName> for String {
    fn from(v: VarName) -> String {
        v.0
    }
}

impl fmt::Display for VarName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A duration written like `30s`, `10m`, `1h30m` or `500ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DurationSpec(pub Duration);

impl TryFrom<String> for DurationSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid duration `{s}`: use a number and a unit, like \"30s\", \"10m\", \"1h30m\" or \"500ms\""
            )
        };
        let mut total = Duration::ZERO;
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.saturating_mul(60)),
                "h" => Duration::from_secs(n.saturating_mul(3600)),
                _ => return Err(bad()),
            };
            total = total.saturating_add(unit);
            rest = &rest[unit_len..];
        }
        if total.is_zero() {
            return Err(format!("invalid duration `{s}`: must be more than zero"));
        }
        Ok(DurationSpec(total))
    }
}

/// A memory size written like `512MiB`, `2GiB` or `100MB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ByteSize(pub u64);

impl TryFrom<String> for ByteSize {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad =
            || format!("invalid size `{s}`: use a number and a unit, like \"512MiB\" or \"2GiB\"");
        let t = s.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let n: u64 = t[..digits].parse().map_err(|_| bad())?;
        let multiplier: u64 = match t[digits..].trim() {
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "B" => 1,
            _ => return Err(bad()),
        };
        let bytes = n.checked_mul(multiplier).ok_or_else(bad)?;
        if bytes == 0 {
            return Err(format!("invalid size `{s}`: must be more than zero"));
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b.is_multiple_of(1 << 30) {
            write!(f, "{}GiB", b >> 30)
        } else if b.is_multiple_of(1 << 20) {
            write!(f, "{}MiB", b >> 20)
        } else if b.is_multiple_of(1 << 10) {
            write!(f, "{}KiB", b >> 10)
        } else {
            write!(f, "{b}B")
        }
    }
}

/// Formats a duration the way manifests write it (`10m`, `1h30m`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids() {
        for ok in ["a", "build", "go-test", "x1"] {
            assert!(StepId::try_from(ok.to_string()).is_ok(), "{ok}");
        }
        for bad in ["", "Build", "1a", "a_b", "-a", "a-", "a.b"] {
            assert!(StepId::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn workspace_paths_normalize_and_never_escape() {
        let p = |s: &str| WorkspacePath::try_from(s.to_string()).map(|p| p.to_string());
        assert_eq!(p(".").unwrap(), ".");
        assert_eq!(p("./src/").unwrap(), "src");
        assert_eq!(p("a/../b").unwrap(), "b");
        assert_eq!(p("a/..").unwrap(), ".");
        assert!(p("..").unwrap_err().contains("escapes the workspace"));
        assert!(
            p("a/../../b")
                .unwrap_err()
                .contains("escapes the workspace")
        );
        assert!(p("/etc").unwrap_err().contains("is absolute"));
        assert!(p("").is_err());
    }

    #[test]
    fn durations_and_sizes() {
        let d = |s: &str| DurationSpec::try_from(s.to_string()).map(|d| d.0);
        assert_eq!(d("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(d("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(d("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "10", "m", "10x", "0s", "1.5s"] {
            assert!(d(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        let b = |s: &str| ByteSize::try_from(s.to_string()).map(|b| b.0);
        assert_eq!(b("512MiB").unwrap(), 512 << 20);
        assert_eq!(b("2 GiB").unwrap(), 2 << 30);
        assert_eq!(b("100MB").unwrap(), 100_000_000);
        for bad in ["", "MiB", "12 parsecs", "0MiB", "99999999999999GiB"] {
            assert!(b(bad).is_err(), "{bad}");
        }
        assert_eq!(ByteSize(512 << 20).to_string(), "512MiB");
    }

    #[test]
    fn plugin_refs() {
        let r = |s: &str| PluginRef::try_from(s.to_string());
        assert_eq!(r("go-mod").unwrap(), PluginRef::Builtin("go-mod".into()));
        assert_eq!(r("./x.wasm").unwrap(), PluginRef::File("./x.wasm".into()));
        assert_eq!(
            r("plugins/x.wasm").unwrap(),
            PluginRef::File("plugins/x.wasm".into())
        );
        assert!(r("oci://ghcr.io/x@sha256:00").is_err());
        assert!(r("Go Mod").is_err());
    }
}
