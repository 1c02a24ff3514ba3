//! The driver shared by Sluice's Go analysers (`golint`, `gosec`): which packages to analyse
//! (`dir`, `packages` patterns, `include-tests`, build constraints), loading them one
//! directory at a time so that memory stays bounded by the largest package, spans relative to
//! the workspace, and `parse-error` findings for files that do not parse (their package is
//! still analysed without them).

pub mod build;
pub mod expect;
pub mod gomod;

use std::path::{Path, PathBuf};

use go_syntax::File;
use go_syntax::token::Pos;
use serde::Deserialize;
use sluice_sdk::{Failure, Finding, Kind, Opt, PluginInfo, Rule, Severity, Span};

pub use build::Target;

/// The `with` options every Go analyser takes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Common {
    /// The module directory, relative to the workspace.
    #[serde(default = "default_dir")]
    pub dir: String,
    /// Package patterns relative to the module: `./...`, `./cmd/...`, `./internal/store`, `.`.
    #[serde(default = "default_packages")]
    pub packages: Vec<String>,
    /// Whether `_test.go` files are analysed.
    #[serde(default)]
    pub include_tests: bool,
    /// The `GOOS` whose files are analysed.
    #[serde(default = "default_goos")]
    pub goos: String,
    /// The `GOARCH` whose files are analysed.
    #[serde(default = "default_goarch")]
    pub goarch: String,
    /// Extra build tags.
    #[serde(default)]
    pub build_tags: Vec<String>,
    /// Whether build constraints select files; `false` analyses every file, whatever its
    /// GOOS, GOARCH or tags.
    #[serde(default = "yes")]
    pub build_constraints: bool,
    /// Directory names never entered (besides names starting with `.` or `_`).
    #[serde(default = "default_skip_dirs")]
    pub skip_dirs: Vec<String>,
    /// Whether directories holding their own go.mod are entered.
    #[serde(default)]
    pub nested_modules: bool,
}

fn yes() -> bool {
    true
}
fn default_skip_dirs() -> Vec<String> {
    vec!["testdata".into(), "vendor".into()]
}

fn default_dir() -> String {
    ".".into()
}
fn default_packages() -> Vec<String> {
    vec!["./...".into()]
}
fn default_goos() -> String {
    "linux".into()
}
fn default_goarch() -> String {
    "amd64".into()
}

impl Default for Common {
    fn default() -> Self {
        Common {
            dir: default_dir(),
            packages: default_packages(),
            include_tests: false,
            goos: default_goos(),
            goarch: default_goarch(),
            build_tags: Vec::new(),
            build_constraints: true,
            skip_dirs: default_skip_dirs(),
            nested_modules: false,
        }
    }
}

/// The rule id of findings for files that do not parse.
pub const PARSE_ERROR: &str = "parse-error";

/// The metadata of the `parse-error` rule, for a plugin's rule list.
pub fn parse_error_rule() -> Rule {
    Rule::new(
        PARSE_ERROR,
        "parse-error",
        "A Go file that does not parse (or is not UTF-8): it is skipped, the rest of its package is analysed",
        Severity::Error,
    )
    .confidence(1.0)
    .help("The Go front end rejected the file with the message go/parser gives. Nothing in the file is analysed; fix the syntax error to get its findings.")
}

/// One package: the files of one directory with one package clause.
pub struct Package {
    /// The directory relative to the module root (`""` for the root).
    pub dir: String,
    /// The package clause.
    pub name: String,
    /// The files, sorted by name; their `name` is the workspace-relative path.
    pub files: Vec<File>,
}

impl Package {
    /// The import path suffix of the package: its directory, or `.` for the module root.
    pub fn display_dir(&self) -> &str {
        if self.dir.is_empty() { "." } else { &self.dir }
    }
}

/// What loading saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Packages analysed.
    pub packages: usize,
    /// Files parsed.
    pub files: usize,
    /// Bytes of source read.
    pub bytes: u64,
}

/// `3 packages (12 files, 0.4 MB)`, for step summaries.
impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} package{} ({} file{}, {:.1} MB)",
            self.packages,
            s(self.packages),
            self.files,
            s(self.files),
            self.bytes as f64 / 1e6
        )
    }
}

/// Where the module lives and how to name its files.
pub struct Module {
    /// The module directory relative to the workspace, `""` for the workspace itself.
    pub dir: String,
    /// The host path of the module directory (under `/workspace` in a step).
    pub root: PathBuf,
    /// The `go` directive of `go.mod`, as (major, minor), if there is one.
    pub go_version: Option<(u32, u32)>,
    /// The module path of `go.mod`, if there is one.
    pub path: Option<String>,
}

impl Module {
    /// Finds the module for a step's configuration: `dir` relative to `/workspace`.
    pub fn open(common: &Common) -> Result<Module, Failure> {
        Self::open_at(Path::new(sluice_sdk::WORKSPACE), common)
    }

    /// Finds the module under an explicit workspace root (for native use and tests).
    pub fn open_at(workspace: &Path, common: &Common) -> Result<Module, Failure> {
        let dir = normalize_dir(&common.dir)?;
        let root = if dir.is_empty() {
            workspace.to_path_buf()
        } else {
            workspace.join(&dir)
        };
        if !root.is_dir() {
            return Err(Failure::error(format!(
                "cannot read the module directory `{}` (is it granted in `allow.read`?)",
                if dir.is_empty() { "." } else { &dir }
            )));
        }
        let go_mod = std::fs::read_to_string(root.join("go.mod"))
            .map(|src| gomod::parse_go_mod(&src))
            .unwrap_or_default();
        let go_version = go_mod.go.as_deref().and_then(major_minor);
        let path = go_mod.module;
        for p in &common.packages {
            pattern_ok(p)?;
        }
        Ok(Module {
            dir,
            root,
            go_version,
            path,
        })
    }

    /// The import path of the package in module-relative directory `dir`. The standard
    /// library's module (`std`) has no prefix.
    pub fn import_path(&self, dir: &str) -> String {
        match self.path.as_deref() {
            None | Some("std") => dir.to_string(),
            Some(m) if dir.is_empty() => m.to_string(),
            Some(m) => format!("{m}/{dir}"),
        }
    }

    /// The workspace-relative path of a module-relative path.
    pub fn display(&self, rel: &str) -> String {
        if self.dir.is_empty() {
            rel.to_string()
        } else if rel.is_empty() {
            self.dir.clone()
        } else {
            format!("{}/{rel}", self.dir)
        }
    }

    /// Loads the packages the configuration selects, one directory at a time, and calls
    /// `analyse` on each; files that do not parse become `parse-error` findings.
    pub fn for_each_package(
        &self,
        common: &Common,
        findings: &mut Vec<Finding>,
        mut analyse: impl FnMut(&Package, &mut Vec<Finding>),
    ) -> Result<Stats, Failure> {
        let target = Target {
            goos: common.goos.clone(),
            goarch: common.goarch.clone(),
            tags: common.build_tags.clone(),
        };
        let mut dirs = Vec::new();
        collect_dirs(&self.root, "", common, &mut dirs)
            .map_err(|e| Failure::error(format!("cannot list the module's directories: {e}")))?;
        dirs.retain(|rel| common.packages.iter().any(|p| pattern_matches(p, rel)));
        let mut listed = Vec::with_capacity(dirs.len());
        for rel in dirs {
            let mut names = go_file_names(&self.root.join(&rel), common.include_tests)
                .map_err(|e| Failure::error(format!("cannot list {}: {e}", self.display(&rel))))?;
            if !names.is_empty() {
                names.sort();
                listed.push((rel, names));
            }
        }
        // Progress in directories of Go files (packages), reported as each is done.
        let total = listed.len() as u64;
        sluice_sdk::progress(0, total, "packages");
        let mut stats = Stats::default();
        for (done, (rel, names)) in listed.into_iter().enumerate() {
            let mut packages: Vec<Package> = Vec::new();
            for name in names {
                if common.build_constraints && !target.matches_name(&name) {
                    continue;
                }
                let rel_file = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let src = std::fs::read(self.root.join(&rel_file)).map_err(|e| {
                    Failure::error(format!("cannot read {}: {e}", self.display(&rel_file)))
                })?;
                if common.build_constraints && !target.matches_source(&src) {
                    continue;
                }
                stats.bytes += src.len() as u64;
                stats.files += 1;
                let shown = self.display(&rel_file);
                match go_syntax::parse_file(&shown, &src) {
                    Ok(file) => {
                        let pkg = file.package_name().to_string();
                        match packages.iter_mut().find(|p| p.name == pkg) {
                            Some(p) => p.files.push(file),
                            None => packages.push(Package {
                                dir: rel.clone(),
                                name: pkg,
                                files: vec![file],
                            }),
                        }
                    }
                    Err(e) => findings.push(
                        Finding::new(PARSE_ERROR, Severity::Error, e.message.clone())
                            .at(Span::new(shown, e.position.line, e.position.column))
                            .confidence(1.0),
                    ),
                }
            }
            for p in &packages {
                stats.packages += 1;
                analyse(p, findings);
            }
            sluice_sdk::progress(
                done as u64 + 1,
                total,
                &format!("packages: {}", self.display(&rel)),
            );
        }
        if stats.files == 0 {
            return Err(self.nothing_to_analyse(common));
        }
        Ok(stats)
    }

    /// The failure of a step that found no Go file to analyse: it names the directory, the
    /// patterns and what the step can see there, since the usual cause is a grant that
    /// does not cover the packages (an analyser that passes on nothing hides that).
    fn nothing_to_analyse(&self, common: &Common) -> Failure {
        let mut seen: Vec<String> = std::fs::read_dir(&self.root)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if e.file_type().is_ok_and(|t| t.is_dir()) {
                            format!("{name}/")
                        } else {
                            name
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        seen.sort();
        let shown = match seen.len() {
            0 => "nothing".to_string(),
            n if n > 12 => format!("{}, … ({n} entries)", seen[..12].join(", ")),
            _ => seen.join(", "),
        };
        Failure::invalid(format!(
            "no Go files to analyse in `{}` for packages {:?}: the step sees {shown} there; grant the module's packages in `allow.read` (e.g. `read = [\".\"]`) or fix `dir` / `packages`",
            if self.dir.is_empty() { "." } else { &self.dir },
            common.packages
        ))
    }
}

/// Whether a file says it is generated: a line `// Code generated ... DO NOT EDIT.` (Go's
/// convention; golint, like revive and staticcheck's style checks, skips such files).
pub fn is_generated(file: &File) -> bool {
    file.src.lines().any(|line| {
        let line = line.trim_end_matches('\r');
        line.starts_with("// Code generated ") && line.ends_with(" DO NOT EDIT.")
    })
}

/// The span of `start..end` (end exclusive) in `file`, with an inclusive end column.
pub fn span(file: &File, start: Pos, end: Pos) -> Span {
    let s = file.position(start);
    let e = file.position(Pos(end.0.max(start.0 + 1) - 1));
    Span::new(file.name.clone(), s.line, s.column).to(e.line, e.column)
}

/// A module directory from the configuration, relative to the workspace (`""` for the
/// workspace itself); absolute paths and `..` are invalid.
pub fn normalize_dir(dir: &str) -> Result<String, Failure> {
    let trimmed = dir.trim_start_matches("./").trim_end_matches('/');
    if trimmed.starts_with('/') || trimmed.split('/').any(|c| c == "..") {
        return Err(Failure::invalid(format!(
            "`dir = {dir:?}` must be a path inside the workspace, like \".\" or \"services/api\""
        )));
    }
    Ok(if trimmed == "." || trimmed.is_empty() {
        String::new()
    } else {
        trimmed.to_string()
    })
}

fn pattern_ok(p: &str) -> Result<(), Failure> {
    let ok = (p == "." || p == "./..." || p.starts_with("./"))
        && !p.split('/').any(|c| c == "..")
        && !p.strip_suffix("/...").unwrap_or(p).contains("...");
    if ok {
        Ok(())
    } else {
        Err(Failure::invalid(format!(
            "`packages` entry {p:?} is not a relative package pattern: use \"./...\", \"./cmd/...\", \"./internal/store\" or \".\""
        )))
    }
}

/// Whether module-relative directory `dir` (`""` for the root) matches `pattern`.
pub fn pattern_matches(pattern: &str, dir: &str) -> bool {
    let p = pattern.trim_start_matches("./");
    let p = if p == "." { "" } else { p };
    if p == "..." {
        return true;
    }
    if let Some(prefix) = p.strip_suffix("/...") {
        return dir == prefix || dir.starts_with(&format!("{prefix}/"));
    }
    dir == p.trim_end_matches('/')
}

/// Module-relative directories under `root`, as the go command walks them: `testdata`,
/// `vendor` and names starting with `.` or `_` are skipped, and so are nested modules.
fn collect_dirs(
    root: &Path,
    rel: &str,
    common: &Common,
    out: &mut Vec<String>,
) -> std::io::Result<()> {
    out.push(rel.to_string());
    let here = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(&here)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') || common.skip_dirs.contains(&name) {
            continue;
        }
        if !common.nested_modules && here.join(&name).join("go.mod").exists() {
            continue;
        }
        subdirs.push(name);
    }
    subdirs.sort();
    for name in subdirs {
        let sub = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        collect_dirs(root, &sub, common, out)?;
    }
    Ok(())
}

fn go_file_names(dir: &Path, include_tests: bool) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".go") || name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if !include_tests && name.ends_with("_test.go") {
            continue;
        }
        if entry.file_type()?.is_file() {
            out.push(name);
        }
    }
    Ok(out)
}

/// A `go` directive's version as (major, minor): `1.21.3` is (1, 21).
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The `with` keys of [`Common`].
pub const COMMON_OPTIONS: &[Opt] = &[
    Opt::new("dir", Kind::Text, "the module's directory in the workspace").with_default("\".\""),
    Opt::new(
        "packages",
        Kind::TextList,
        "package patterns: `./...`, `./x/...`, `./x`, `.`",
    )
    .with_default("[\"./...\"]"),
    Opt::new(
        "include-tests",
        Kind::Boolean,
        "also analyse `_test.go` files",
    )
    .with_default("false"),
    Opt::new("goos", Kind::Text, "the target OS for build constraints").with_default("\"linux\""),
    Opt::new(
        "goarch",
        Kind::Text,
        "the target architecture for build constraints",
    )
    .with_default("\"amd64\""),
    Opt::new("build-tags", Kind::TextList, "extra build tags satisfied").with_default("[]"),
    Opt::new(
        "build-constraints",
        Kind::Boolean,
        "apply build constraints; false reads every file",
    )
    .with_default("true"),
    Opt::new("skip-dirs", Kind::TextList, "directory names not entered")
        .with_default("[\"testdata\", \"vendor\"]"),
    Opt::new(
        "nested-modules",
        Kind::Boolean,
        "enter directories holding their own go.mod",
    )
    .with_default("false"),
];

/// Declares the plugin's own options and [`Common`]'s to the host, which then rejects any
/// other `with` key before the run, pointing at it in the manifest.
pub fn declare_options(info: PluginInfo, own: &[Opt]) -> PluginInfo {
    info.options(own).options(COMMON_OPTIONS)
}

/// Parses the `with` table into a plugin's configuration (which flattens [`Common`]),
/// rejecting keys that neither it nor [`Common`] knows: serde cannot deny unknown fields
/// through `flatten`, so the keys are checked here.
pub fn config<T: serde::de::DeserializeOwned>(
    invocation: &sluice_sdk::Invocation,
    own: &[Opt],
) -> Result<T, Failure> {
    parse_options(&invocation.config, own)
}

/// `config` on the JSON of a `with` table.
fn parse_options<T: serde::de::DeserializeOwned>(json: &str, own: &[Opt]) -> Result<T, Failure> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Failure::invalid(format!("the step's `with` is not valid: {e}")))?;
    if let Some(map) = value.as_object() {
        let known = || own.iter().chain(COMMON_OPTIONS).map(|o| o.name);
        if let Some(key) = map.keys().find(|k| !known().any(|n| n == k.as_str())) {
            let mut names: Vec<&str> = known().collect();
            names.sort();
            return Err(Failure::invalid(format!(
                "unknown option `{key}` in `with` (known options: {})",
                names.join(", ")
            )));
        }
    }
    serde_json::from_value(value.clone()).map_err(|e| {
        // Name the option at fault: the first one that fails on its own (every option has a
        // default, so a table of one key stands for itself).
        let culprit = value.as_object().and_then(|map| {
            map.iter().find(|(k, v)| {
                let one =
                    serde_json::Value::Object([((*k).clone(), (*v).clone())].into_iter().collect());
                serde_json::from_value::<T>(one).is_err()
            })
        });
        match culprit {
            Some((key, _)) => Failure::invalid(format!("invalid `with`: `{key}`: {e}")),
            None => Failure::invalid(format!("invalid `with`: {e}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrongly_typed_option_is_named() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "kebab-case")]
        #[allow(dead_code)]
        struct Own {
            #[serde(default)]
            audit: bool,
            #[serde(flatten)]
            common: Common,
        }
        let own: &[Opt] = &[Opt::new("audit", Kind::Boolean, "")];
        let err = parse_options::<Own>(r#"{"dir": "src", "audit": "yes"}"#, own).unwrap_err();
        assert_eq!(
            format!("{err:?}"),
            format!(
                "{:?}",
                Failure::invalid(
                    "invalid `with`: `audit`: invalid type: string \"yes\", expected a boolean"
                )
            )
        );
        assert!(parse_options::<Own>(r#"{"dir": "src", "audit": true}"#, own).is_ok());
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("./...", ""));
        assert!(pattern_matches("./...", "a/b"));
        assert!(pattern_matches(".", ""));
        assert!(!pattern_matches(".", "a"));
        assert!(pattern_matches("./cmd/...", "cmd"));
        assert!(pattern_matches("./cmd/...", "cmd/x"));
        assert!(!pattern_matches("./cmd/...", "cmdx"));
        assert!(pattern_matches("./internal/store", "internal/store"));
        assert!(!pattern_matches("./internal/store", "internal/store/x"));
        assert!(pattern_ok("../x").is_err());
        assert!(pattern_ok("std").is_err());
        assert!(pattern_ok("./a/.../b").is_err());
    }

    /// Packages by directory and package clause, as the go command groups them.
    fn load(dir: &Path, include_tests: bool) -> (Vec<(String, String, usize)>, Vec<Finding>) {
        let common = Common {
            include_tests,
            ..Common::default()
        };
        let module = Module::open_at(dir, &common).unwrap();
        let mut packages = Vec::new();
        let mut findings = Vec::new();
        module
            .for_each_package(&common, &mut findings, |p, _| {
                packages.push((p.dir.clone(), p.name.clone(), p.files.len()))
            })
            .unwrap();
        (packages, findings)
    }

    #[test]
    fn groups_by_directory_and_package_clause() {
        let dir = std::env::temp_dir().join(format!("go-check-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let write = |rel: &str, src: &str| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, src).unwrap();
        };
        write("a.go", "package main\n");
        write("b.go", "package main\nfunc f() {}\n");
        write("main_test.go", "package main\n");
        write("ext_test.go", "package main_test\n");
        write("lib/lib.go", "package lib\n");
        write("lib/broken.go", "package lib\nfunc {\n");
        write("testdata/x.go", "package x\n");
        write("vendor/v/v.go", "package v\n");
        write(".hidden/h.go", "package h\n");
        write("_skipped/s.go", "package s\n");

        let (packages, findings) = load(&dir, false);
        assert_eq!(
            packages,
            [
                ("".into(), "main".into(), 2),
                ("lib".into(), "lib".into(), 1)
            ]
        );
        assert_eq!(findings.len(), 1);
        let span = findings[0].span.as_ref().unwrap();
        assert_eq!(
            (
                findings[0].rule.as_str(),
                span.path.as_str(),
                span.line,
                span.column,
                findings[0].message.as_str()
            ),
            (
                PARSE_ERROR,
                "lib/broken.go",
                2,
                6,
                "expected 'IDENT', found '{'"
            )
        );

        let (packages, _) = load(&dir, true);
        assert_eq!(
            packages,
            [
                ("".into(), "main".into(), 3),
                ("".into(), "main_test".into(), 1),
                ("lib".into(), "lib".into(), 1)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn go_versions() {
        assert_eq!(major_minor("1.21.3"), Some((1, 21)));
        assert_eq!(major_minor("1.22"), Some((1, 22)));
        assert_eq!(major_minor("1"), None);
    }
}
