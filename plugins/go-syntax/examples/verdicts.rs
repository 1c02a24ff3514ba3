//! Prints go-syntax's verdict per file, in goparse's format: `ok <path>` or
//! `err <path>\t<first error>`; with `--idents`, `idents <path> <count> <fnv64a>` for every
//! file that parses (the same digest as `tools/goparse -idents`). Reads paths on stdin.

use std::io::{BufRead, Write};

fn main() {
    let idents = std::env::args().any(|a| a == "--idents");
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for path in stdin.lock().lines() {
        let path = path.expect("a path per line");
        let src = std::fs::read(&path).expect("readable file");
        match (go_syntax::parse_file(&path, &src), idents) {
            (Ok(file), true) => {
                let (count, hash) = go_syntax::walk::identifier_digest(&file);
                writeln!(out, "idents {path} {count} {hash:016x}").unwrap();
            }
            (Ok(_), false) => writeln!(out, "ok {path}").unwrap(),
            (Err(_), true) => {}
            (Err(e), false) => writeln!(out, "err {path}\t{e}").unwrap(),
        }
    }
}
