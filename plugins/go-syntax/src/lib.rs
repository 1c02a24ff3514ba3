//! A Go front end for Sluice's analysers: lexer, parser and syntax tree, after `go/scanner`,
//! `go/parser` and `go/ast`, with positions as byte offsets, lines and byte columns.
//!
//! ```
//! let file = go_syntax::parse_file("hello.go", b"package main\n\nfunc main() { println(\"hi\") }\n").unwrap();
//! assert_eq!(file.package_name(), "main");
//! ```
#![deny(missing_docs)]

pub mod ast;
mod bytes;
pub mod comments;
pub mod lexer;
pub mod package;
pub mod parser;
pub mod resolve;
pub mod token;
pub mod walk;

pub use ast::File;
pub use parser::{ParseError, parse_file};
