//! What the benchmarks share.

use std::path::{Path, PathBuf};

/// The Go source corpus: `$GO_CORPUS`, or Go 1.19's standard library from Debian's
/// `golang-go`. Exits with a hint when it is missing.
pub fn go_corpus() -> PathBuf {
    let corpus = PathBuf::from(
        std::env::var("GO_CORPUS").unwrap_or_else(|_| "/usr/share/go-1.19/src".into()),
    );
    if !corpus.is_dir() {
        eprintln!(
            "no Go corpus at {}: `apt-get install golang-go` (Go 1.19 source) or set GO_CORPUS",
            corpus.display()
        );
        std::process::exit(1);
    }
    corpus
}

/// Copies a tree; returns how many `.go` files it held and their bytes.
#[allow(dead_code)] // not every bench copies a corpus
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            let (f, b) = copy_tree(&entry.path(), &target)?;
            files += f;
            bytes += b;
        } else if kind.is_file() {
            let n = std::fs::copy(entry.path(), &target)?;
            if entry.file_name().to_string_lossy().ends_with(".go") {
                files += 1;
                bytes += n;
            }
        }
    }
    Ok((files, bytes))
}
