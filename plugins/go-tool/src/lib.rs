//! What the `go-test` and `go-build` steps share: the Go toolchain run through the `exec`
//! capability with its caches in the step's persistent `/cache`, no network, and errors that
//! say what to do.

use std::path::{Path, PathBuf};

use sluice_sdk::Failure;
use sluice_sdk::process::{CACHE, Collected, Command, Stdio};

/// A list option that may also be written as one string of space-separated items
/// (`tags = "a b"` or `tags = ["a", "b"]`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum List {
    /// `"./..."`, `"integration slow"`
    One(String),
    /// `["./a", "./b"]`
    Many(Vec<String>),
}

impl List {
    /// The items.
    pub fn items(&self) -> Vec<String> {
        match self {
            List::One(s) => s.split_whitespace().map(str::to_owned).collect(),
            List::Many(v) => v.clone(),
        }
    }
}

/// The program the steps ask for (`exec:go`).
pub const GO: &str = "go";

/// The module directory `dir` (workspace-relative) as a guest path, checked to hold a
/// `go.mod`.
pub fn module_dir(dir: &str) -> Result<PathBuf, Failure> {
    let clean = dir.trim_start_matches("./").trim_end_matches('/');
    if clean.starts_with('/') || clean.split('/').any(|c| c == "..") {
        return Err(Failure::invalid(format!(
            "`dir = \"{dir}\"` must be a relative path inside the workspace"
        )));
    }
    let path = if clean.is_empty() || clean == "." {
        PathBuf::from(sluice_sdk::WORKSPACE)
    } else {
        Path::new(sluice_sdk::WORKSPACE).join(clean)
    };
    if !path.join("go.mod").is_file() {
        return Err(Failure::invalid(format!(
            "no go.mod in `{dir}`: set `dir` to the module's directory, and grant it (`allow = {{ read = [\"{}\"] }}`)",
            if clean.is_empty() { "." } else { clean }
        )));
    }
    Ok(path)
}

/// The environment every `go` command of these steps gets: caches in the step's own
/// persistent cache, no module downloads (there is no network), no toolchain switching,
/// the vendor directory when the module has one.
pub fn env(module: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("GOCACHE", format!("{CACHE}/go-build")),
        ("GOMODCACHE", format!("{CACHE}/go-mod")),
        ("GOPATH", "/tmp/go".to_string()),
        ("GOPROXY", "off".to_string()),
        ("GOTOOLCHAIN", "local".to_string()),
        ("GOTELEMETRY", "off".to_string()),
        ("GOENV", "off".to_string()),
        ("GOWORK", "off".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if module.join("vendor/modules.txt").is_file() {
        env.push(("GOFLAGS".into(), "-mod=vendor".into()));
    }
    env
}

/// A `go` command in `module` with [`env()`] set.
pub fn go(module: &Path) -> Command {
    let mut cmd = Command::new(GO).cwd(module.display().to_string());
    for (k, v) in env(module) {
        cmd = cmd.env(k, v);
    }
    cmd
}

/// Runs a short `go` command and returns its stdout; fails with its stderr explained.
pub fn output(cmd: Command) -> Result<String, Failure> {
    let what = format!("`go {}`", cmd.get_args().join(" "));
    stdout_of(&what, cmd.output().map_err(Failure::error)?)
}

/// The stdout of a `go` command that ended; its stderr explained when it failed.
fn stdout_of(what: &str, out: Collected) -> Result<String, Failure> {
    if out.status.as_ref().expect("waited").code != Some(0) {
        return Err(Failure::error(explain(
            &format!("{what} failed"),
            &String::from_utf8_lossy(&out.stderr),
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A message for a failed `go` command, saying what to do when the cause is the missing
/// network.
pub fn explain(what: &str, stderr: &str) -> String {
    let stderr = stderr.trim();
    let offline = [
        "module lookup disabled by GOPROXY=off",
        "missing go.sum entry",
        "cannot find module providing package",
        "no required module provides package",
        "dial tcp",
        "go: downloading",
    ];
    if offline.iter().any(|m| stderr.contains(m)) {
        format!(
            "{what}: a module is missing, and steps have no network to download it. Vendor the dependencies (`go mod vendor`, then commit `vendor/`) or fill this step's module cache (.sluice/cache/steps/<step>/go-mod).\n{stderr}"
        )
    } else {
        format!("{what}:\n{stderr}")
    }
}

/// `go env` values, in the order asked (one `go` call), e.g. `["GOVERSION", "GOOS"]`.
pub fn go_env(module: &Path, keys: &[&str]) -> Result<Vec<String>, Failure> {
    GoEnv::start(module, keys)?.values().map(<[String]>::to_vec)
}

/// A `go env` call left running while the step does something else (a build, say); its
/// values are read, once waited for, with [`GoEnv::values`].
pub struct GoEnv {
    keys: Vec<String>,
    /// Until the values are read.
    child: Option<sluice_sdk::process::Child>,
    values: Option<Vec<String>>,
}

impl GoEnv {
    /// Starts `go env KEYS…` in the module's directory.
    pub fn start(module: &Path, keys: &[&str]) -> Result<GoEnv, Failure> {
        let child = go(module)
            .arg("env")
            .args(keys.iter().copied())
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Pipe)
            .spawn()
            .map_err(Failure::error)?;
        Ok(GoEnv {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            child: Some(child),
            values: None,
        })
    }

    /// The values, in the order asked: the first call waits for `go env`, later ones return
    /// the same values.
    pub fn values(&mut self) -> Result<&[String], Failure> {
        let what = format!("`go env {}`", self.keys.join(" "));
        if let Some(child) = self.child.take() {
            let out = stdout_of(&what, child.collect().map_err(Failure::error)?)?;
            let values: Vec<String> = out.lines().map(str::to_owned).collect();
            if values.len() != self.keys.len() {
                return Err(Failure::error(format!("{what} printed {out:?}")));
            }
            self.values = Some(values);
        }
        self.values
            .as_deref()
            .ok_or_else(|| Failure::error(format!("{what} failed earlier")))
    }
}

/// A path the toolchain printed (absolute in the guest, or relative to the module
/// directory) as a workspace-relative path, when it lies in the workspace.
pub fn workspace_relative(module: &Path, printed: &str) -> Option<String> {
    let printed = printed.trim();
    let path = if printed.starts_with('/') {
        PathBuf::from(printed)
    } else {
        module.join(printed.trim_start_matches("./"))
    };
    let rel = path.strip_prefix(sluice_sdk::WORKSPACE).ok()?;
    let mut parts: Vec<&str> = Vec::new();
    for c in rel.to_str()?.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Compiler errors (`file.go:line:col: message`) in the toolchain's output, as findings of
/// `rule` at their positions (duplicates dropped; files outside the workspace skipped).
pub fn build_errors(text: &str, module: &Path, rule: &str) -> Vec<sluice_sdk::Finding> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((file, rest)) = line.split_once(".go:") else {
            continue;
        };
        if file.contains(' ') || file.is_empty() {
            continue;
        }
        // `file.go:line:col: message`, or `file.go:line: message` (no column known).
        let Some((l, after)) = rest.split_once(':') else {
            continue;
        };
        let Ok(l) = l.parse::<u32>() else {
            continue;
        };
        let (c, message) = match after.split_once(':') {
            Some((c, m)) if c.parse::<u32>().is_ok() => (c.parse::<u32>().unwrap_or(1), m),
            _ => (1, after),
        };
        let Some(path) = workspace_relative(module, &format!("{file}.go")) else {
            continue;
        };
        if !seen.insert((path.clone(), l, c)) {
            continue;
        }
        out.push(
            sluice_sdk::Finding::new(
                rule,
                sluice_sdk::Severity::Error,
                message.trim().to_string(),
            )
            .at(sluice_sdk::Span::new(path, l, c)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_the_toolchain_become_workspace_relative() {
        let module = Path::new("/workspace/svc");
        assert_eq!(
            workspace_relative(module, "./main.go").as_deref(),
            Some("svc/main.go")
        );
        assert_eq!(
            workspace_relative(module, "/workspace/svc/x/y_test.go").as_deref(),
            Some("svc/x/y_test.go")
        );
        assert_eq!(
            workspace_relative(module, "../lib/a.go").as_deref(),
            Some("lib/a.go")
        );
        assert_eq!(workspace_relative(module, "/usr/lib/go/src/x.go"), None);
    }

    #[test]
    fn compiler_errors_become_findings() {
        let text = "# example.com/m\n./main.go:5:2: undefined: x\n./main.go:5:2: undefined: x\nnote: module requires Go 1.22\n";
        let f = build_errors(text, Path::new("/workspace"), "r");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].message, "undefined: x");
        let span = f[0].span.as_ref().unwrap();
        assert_eq!(
            (span.path.as_str(), span.line, span.column),
            ("main.go", 5, 2)
        );
        let f = build_errors(
            "./a/b.go:3: undefined: y, z\n",
            Path::new("/workspace"),
            "r",
        );
        assert_eq!(f[0].message, "undefined: y, z");
        assert_eq!(f[0].span.as_ref().unwrap().column, 1);
    }

    #[test]
    fn missing_modules_are_explained() {
        let m = explain(
            "`go test` failed",
            "go: example.com/x@v1: module lookup disabled by GOPROXY=off",
        );
        assert!(m.contains("Vendor the dependencies"));
        assert!(!explain("x", "syntax error").contains("Vendor"));
    }
}
