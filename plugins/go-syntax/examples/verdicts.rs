//! Prints go-syntax's verdict per file, in goparse's format: `ok <path>` or
//! `err <path>\t<first error>`. Reads the file list on standard input.

use std::io::{BufRead, Write};

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for path in stdin.lock().lines() {
        let path = path.expect("a path per line");
        let src = std::fs::read(&path).expect("readable file");
        match go_syntax::parse_file(&path, &src) {
            Ok(_) => writeln!(out, "ok {path}").unwrap(),
            Err(e) => writeln!(out, "err {path}\t{e}").unwrap(),
        }
    }
}
