//! Finding Go source files. Loading packages the way the go command groups them (build
//! constraints, package clauses, nested modules) is the analysers' driver's job:
//! `go_check::Module::for_each_package`.

use std::path::{Path, PathBuf};

/// Every regular `.go` file under `root`, sorted, skipping nothing: a corpus for checks
/// and benchmarks.
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
