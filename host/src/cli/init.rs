//! `sluice init`: a first `sluice.toml` for a Go module, commented, with the built-in steps
//! that fit it and the least each needs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `init` found in the module.
#[derive(Debug)]
pub struct Module {
    /// The module path from `go.mod`.
    pub path: String,
    /// Whether `go.sum` exists.
    pub go_sum: bool,
    /// Directories holding a `main` package, `./`-relative (`./cmd/server`, `.`), sorted.
    pub mains: Vec<String>,
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The manifest exists.
    #[error(
        "{0} already exists: sluice init does not overwrite a pipeline (check it with `sluice validate`, or remove it to start again)"
    )]
    Exists(String),
    /// No `go.mod`.
    #[error(
        "no go.mod in {0}: sluice init writes a pipeline for a Go module (create one with `go mod init <module path>`, or run sluice init in the module's directory)"
    )]
    NotAModule(String),
    /// `go.mod` has no `module` line.
    #[error(
        "{0} has no `module` line: fix it (`go mod edit -module <path>`), then run sluice init again"
    )]
    NoModulePath(String),
    /// I/O.
    #[error("{0}")]
    Io(String),
}

/// Reads what `init` needs from the module at `dir`.
pub fn inspect(dir: &Path) -> Result<Module, InitError> {
    let go_mod = dir.join("go.mod");
    let text = match std::fs::read_to_string(&go_mod) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InitError::NotAModule(if dir == Path::new(".") {
                "the current directory".into()
            } else {
                shown(dir)
            }));
        }
        Err(e) => {
            return Err(InitError::Io(format!(
                "cannot read {}: {e}",
                go_mod.display()
            )));
        }
    };
    let path = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default().trim())
        .find_map(|l| l.strip_prefix("module"))
        .map(|m| m.trim().trim_matches('"').to_string())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| InitError::NoModulePath(shown(&go_mod)))?;
    let mut mains = Vec::new();
    find_mains(dir, dir, &mut mains, 0);
    mains.sort();
    Ok(Module {
        path,
        go_sum: dir.join("go.sum").is_file(),
        mains,
    })
}

fn shown(p: &Path) -> String {
    let s = p.display().to_string();
    if s.is_empty() { ".".into() } else { s }
}

/// Directories below `root` with a non-test `.go` file of `package main`: not `vendor`,
/// `testdata`, hidden or `_` directories, nor nested modules (as `go build ./...`).
fn find_mains(root: &Path, dir: &Path, out: &mut Vec<String>, depth: usize) {
    if depth > 12 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut is_main = false;
    let mut subdirs: Vec<PathBuf> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !(name.starts_with('.')
                || name.starts_with('_')
                || name == "vendor"
                || name == "testdata"
                || entry.path().join("go.mod").exists())
            {
                subdirs.push(entry.path());
            }
        } else if kind.is_file()
            && name.ends_with(".go")
            && !name.ends_with("_test.go")
            && !is_main
            && declares_main(&entry.path())
        {
            is_main = true;
        }
    }
    if is_main {
        let rel = dir.strip_prefix(root).unwrap_or(dir);
        out.push(if rel.as_os_str().is_empty() {
            ".".into()
        } else {
            format!("./{}", rel.display())
        });
    }
    for sub in subdirs {
        find_mains(root, &sub, out, depth + 1);
    }
}

/// Whether a Go file's package clause (after comments) is `package main`.
fn declares_main(file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let mut in_block = false;
    for line in text.lines().take(200) {
        let mut l = line.trim();
        if in_block {
            match l.find("*/") {
                Some(i) => {
                    l = l[i + 2..].trim();
                    in_block = false;
                }
                None => continue,
            }
        }
        if l.starts_with("/*") {
            if !l.contains("*/") {
                in_block = true;
            }
            continue;
        }
        if l.is_empty() || l.starts_with("//") {
            continue;
        }
        return l
            .strip_prefix("package")
            .is_some_and(|rest| rest.split_whitespace().next() == Some("main"));
    }
    false
}

/// The pipeline's name: the module path's last element, as a step id would be written.
fn pipeline_name(module: &str) -> String {
    crate::manifest::suggest_id(module.rsplit('/').next().unwrap_or(module))
}

/// A step id for the build of `main` (`build` when there is one main package).
fn build_id(main: &str, several: bool) -> String {
    if !several || main == "." {
        return "build".into();
    }
    format!(
        "build-{}",
        crate::manifest::suggest_id(main.rsplit('/').next().unwrap_or(main))
    )
}

/// A TOML string.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The manifest `init` writes. `go` tells whether `go` is on the `PATH` (the test and build
/// steps run it; without it they are written commented out).
pub fn manifest(module: &Module, go: bool) -> String {
    let mut m = String::new();
    let name = pipeline_name(&module.path);
    let _ = writeln!(
        m,
        "# The pipeline of {}, written by `sluice init`.\n\
         # `sluice validate` checks it, `sluice run` runs it, `sluice audit` shows what each step may\n\
         # touch: every step sees only what its `allow` grants (read-only unless it says `write`).\n\
         # `sluice plugins` lists each plugin's options; add them under `with = {{ ... }}`.",
        module.path
    );
    let _ = writeln!(
        m,
        "[pipeline]\nname = {}\ntimeout = \"10m\"\n",
        quoted(&name)
    );

    let mut read_mod = vec!["go.mod"];
    if module.go_sum {
        read_mod.push("go.sum");
    }
    let _ = writeln!(
        m,
        "# Checks go.mod{}: only {} granted.\n[steps.module]\nuses = \"go-mod\"\nallow = {{ read = [{}] }}\n",
        if module.go_sum { " and go.sum" } else { "" },
        if module.go_sum {
            "those files are"
        } else {
            "that file is"
        },
        read_mod
            .iter()
            .map(|p| quoted(p))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        m,
        "# golint's style checks over the module's packages (its findings never fail the step).\n\
         [steps.lint]\nuses = \"golint\"\nallow = {{ read = [\".\"] }}\n"
    );
    let _ = writeln!(
        m,
        "# gosec's security rules: a finding of severity high fails the pipeline (`fail-on`:\n\
         # \"low\", \"medium\", \"high\" or \"none\").\n\
         [steps.sec]\nuses = \"gosec\"\nallow = {{ read = [\".\"] }}\nwith = {{ fail-on = \"high\" }}\n"
    );
    // Steps that run Go: granted `exec = ["go"]`, confined.
    let mut go_steps = String::new();
    let _ = writeln!(
        go_steps,
        "# go test with statement coverage. Go runs confined: it sees the workspace read-only, its\n\
         # own caches, a private /tmp and no network. A gate: `min-coverage = 60`; the race\n\
         # detector: `race = true` (it needs gcc).\n\
         [steps.test]\nuses = \"go-test\"\nallow = {{ read = [\".\"], exec = [\"go\"] }}\n"
    );
    let several = module.mains.len() > 1;
    let mut ids = std::collections::HashSet::new();
    for (i, main) in module.mains.iter().enumerate() {
        let mut id = build_id(main, several);
        if !ids.insert(id.clone()) {
            id = format!("{id}-{}", i + 1);
            ids.insert(id.clone());
        }
        let _ = writeln!(
            go_steps,
            "# A static, reproducible build of {main} once lint, sec and test passed; the binary\n\
             # is the step's `binary` output (a version: `x = {{ \"main.version\" = \"1.0.0\" }}`).\n\
             [steps.{id}]\nuses = \"go-build\"\nneeds = [\"lint\", \"sec\", \"test\"]\nallow = {{ read = [\".\"], exec = [\"go\"] }}\nwith = {{ package = {} }}\n",
            quoted(main)
        );
    }
    if module.mains.is_empty() {
        let _ = writeln!(
            go_steps,
            "# No main package was found: nothing to build (a `go-build` step builds one, e.g.\n\
             # `with = {{ package = \"./cmd/server\" }}`).\n"
        );
    }
    if go {
        m.push_str(&go_steps);
    } else {
        let _ = writeln!(
            m,
            "# `go` is not on this machine's PATH, so the steps that run it are left commented out:\n\
             # install Go (e.g. `apt-get install golang-go`), then uncomment them.\n"
        );
        for line in go_steps.lines() {
            if line.is_empty() || line.starts_with('#') {
                let _ = writeln!(m, "{line}");
            } else {
                let _ = writeln!(m, "# {line}");
            }
        }
    }
    while m.ends_with("\n\n") {
        m.pop();
    }
    m
}

/// Whether `program` is on the `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            let p = d.join(program);
            std::fs::metadata(&p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    })
}

/// Writes `manifest` for the module in `dir` unless it exists (created exclusively: a file
/// that appears meanwhile is not overwritten either).
pub fn write(dir: &Path, manifest_name: &Path, go: bool) -> Result<(PathBuf, Module), InitError> {
    let target = if dir == Path::new(".") {
        manifest_name.to_path_buf()
    } else {
        dir.join(manifest_name)
    };
    if target.exists() {
        return Err(InitError::Exists(shown(&target)));
    }
    let module = inspect(dir)?;
    let text = manifest(&module, go);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target);
    match file {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(text.as_bytes())
                .map_err(|e| InitError::Io(format!("cannot write {}: {e}", target.display())))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(InitError::Exists(shown(&target)));
        }
        Err(e) => {
            return Err(InitError::Io(format!(
                "cannot create {}: {e}",
                target.display()
            )));
        }
    }
    Ok((target, module))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_clauses_after_comments() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.go");
        std::fs::write(&f, "// Copyright\n/* a\n block */\n\npackage main // x\n").unwrap();
        assert!(declares_main(&f));
        std::fs::write(&f, "/* package main */ package mainly\n").unwrap();
        assert!(!declares_main(&f));
        std::fs::write(&f, "//go:build tools\npackage tools\n").unwrap();
        assert!(!declares_main(&f));
    }

    #[test]
    fn names() {
        assert_eq!(pipeline_name("example.com/Go_Service"), "go-service");
        assert_eq!(build_id("./cmd/server", true), "build-server");
        assert_eq!(build_id(".", true), "build");
        assert_eq!(build_id("./cmd/server", false), "build");
    }
}
