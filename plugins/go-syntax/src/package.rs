//! Loading the Go packages of a directory tree, as analysers see them: files grouped by
//! directory and package clause, test files optional, `testdata/` and `vendor/` skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::ast::File;
use crate::parser::{ParseError, parse_file};

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Include `_test.go` files (and the external `_test` packages they may form).
    pub include_tests: bool,
    /// Directory names never entered. Directories starting with `.` or `_` are always
    /// skipped, as the go command does.
    pub skip_dirs: Vec<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            include_tests: false,
            skip_dirs: vec!["testdata".into(), "vendor".into()],
        }
    }
}

/// The files of one package in one directory.
#[derive(Debug)]
pub struct Package {
    /// The directory, relative to the root given to [`load_packages`].
    pub dir: PathBuf,
    /// The package clause (`foo`, or `foo_test` for an external test package).
    pub name: String,
    /// The parsed files, by name.
    pub files: Vec<File>,
}

/// Everything found under a root.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Packages, by directory then name.
    pub packages: Vec<Package>,
    /// Files that did not parse (their package is loaded without them).
    pub errors: Vec<ParseError>,
    /// Bytes of Go source read.
    pub bytes: u64,
}

/// Loads every package under `root`. File names in the result (and in errors) are relative
/// to `root`.
pub fn load_packages(root: &Path, options: &LoadOptions) -> std::io::Result<Loaded> {
    let mut files = Vec::new();
    collect(root, Path::new(""), options, &mut files)?;
    files.sort();
    let mut groups: BTreeMap<(PathBuf, String), Vec<File>> = BTreeMap::new();
    let mut loaded = Loaded::default();
    for rel in files {
        let src = std::fs::read(root.join(&rel))?;
        loaded.bytes += src.len() as u64;
        match parse_file(&rel.display().to_string(), &src) {
            Ok(file) => {
                let dir = rel.parent().map(Path::to_path_buf).unwrap_or_default();
                groups
                    .entry((dir, file.package_name().to_string()))
                    .or_default()
                    .push(file);
            }
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded.packages = groups
        .into_iter()
        .map(|((dir, name), files)| Package { dir, name, files })
        .collect();
    Ok(loaded)
}

/// Every regular `.go` file under `root`, sorted, skipping nothing: a corpus for checks
/// and benchmarks (packages are loaded with [`load_packages`]).
pub fn go_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&path, out)?;
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "go") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, &mut out)?;
    out.sort();
    Ok(out)
}

fn collect(
    root: &Path,
    rel: &Path,
    options: &LoadOptions,
    out: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if name.starts_with('.')
                || name.starts_with('_')
                || options.skip_dirs.iter().any(|s| s == name.as_ref())
            {
                continue;
            }
            collect(root, &rel.join(name.as_ref()), options, out)?;
        } else if kind.is_file()
            && name.ends_with(".go")
            && !name.starts_with('.')
            && !name.starts_with('_')
        {
            if !options.include_tests && name.ends_with("_test.go") {
                continue;
            }
            out.push(rel.join(name.as_ref()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_directory_and_package_clause() {
        let dir = std::env::temp_dir().join(format!("go-syntax-load-{}", std::process::id()));
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

        let loaded = load_packages(&dir, &LoadOptions::default()).unwrap();
        let names: Vec<(String, String, usize)> = loaded
            .packages
            .iter()
            .map(|p| (p.dir.display().to_string(), p.name.clone(), p.files.len()))
            .collect();
        assert_eq!(
            names,
            [
                ("".into(), "main".into(), 2),
                ("lib".into(), "lib".into(), 1)
            ]
        );
        assert_eq!(loaded.errors.len(), 1);
        assert_eq!(
            loaded.errors[0].to_string(),
            "lib/broken.go:2:6: expected 'IDENT', found '{'"
        );

        let with_tests = load_packages(
            &dir,
            &LoadOptions {
                include_tests: true,
                ..LoadOptions::default()
            },
        )
        .unwrap();
        let names: Vec<(String, usize)> = with_tests
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.files.len()))
            .collect();
        assert_eq!(
            names,
            [
                ("main".into(), 3),
                ("main_test".into(), 1),
                ("lib".into(), 1)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
