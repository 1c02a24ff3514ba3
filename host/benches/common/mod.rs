//! What the benchmarks share.

use std::path::PathBuf;

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
