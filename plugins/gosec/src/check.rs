//! The checks over one package's syntax trees.

// Each arm of `call` names an API, then says what is wrong with this use of it: guards
// merged into the patterns would mix the two.
#![allow(clippy::collapsible_match)]

use std::collections::{HashMap, HashSet};

use go_check::{Package, span};
use go_syntax::ast::*;
use go_syntax::parser::unquote;
use go_syntax::resolve::{Resolution, resolve_imports};
use go_syntax::token::{Pos, Token};
use go_syntax::walk::{Node, Visitor, walk};
use sluice_sdk::Span;

use crate::rules::{Level, rule};

/// Options of the checks themselves.
#[derive(Debug, Clone)]
pub struct Options {
    /// G601 applies (the module's Go version is below 1.22).
    pub range_aliasing: bool,
    /// Largest modes accepted by G301, G302, G306, G307.
    pub g301_mode: u32,
    /// See `g301_mode`.
    pub g302_mode: u32,
    /// See `g301_mode`.
    pub g306_mode: u32,
    /// See `g301_mode`.
    pub g307_mode: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            range_aliasing: true,
            g301_mode: 0o750,
            g302_mode: 0o600,
            g306_mode: 0o600,
            g307_mode: 0o666,
        }
    }
}

/// A finding before suppression and filtering.
#[derive(Debug, Clone)]
pub struct Issue {
    /// The rule id.
    pub rule: &'static str,
    /// The message.
    pub message: String,
    /// Severity (may differ from the rule's default).
    pub severity: Level,
    /// Confidence.
    pub confidence: Level,
    /// Where.
    pub span: Span,
    /// Start offset in the file, for suppression.
    pub pos: Pos,
    /// The file's index in the package.
    pub file: usize,
}

/// Standard-library functions that return an error as their last result, with the number
/// of results: for G104.
const ERROR_FUNCS: &[(&str, &[(&str, u8)])] = &[
    (
        "os",
        &[
            ("Chdir", 1),
            ("Chmod", 1),
            ("Chown", 1),
            ("Chtimes", 1),
            ("Lchown", 1),
            ("Link", 1),
            ("Mkdir", 1),
            ("MkdirAll", 1),
            ("MkdirTemp", 2),
            ("Remove", 1),
            ("RemoveAll", 1),
            ("Rename", 1),
            ("Setenv", 1),
            ("Symlink", 1),
            ("Truncate", 1),
            ("Unsetenv", 1),
            ("WriteFile", 1),
            ("Create", 2),
            ("CreateTemp", 2),
            ("Open", 2),
            ("OpenFile", 3),
            ("ReadFile", 2),
            ("ReadDir", 2),
            ("Readlink", 2),
            ("Stat", 2),
            ("Lstat", 2),
            ("Getwd", 2),
            ("Hostname", 2),
            ("Executable", 2),
            ("Pipe", 3),
            ("Clearenv", 0),
        ],
    ),
    (
        "io/ioutil",
        &[
            ("WriteFile", 1),
            ("ReadFile", 2),
            ("ReadAll", 2),
            ("ReadDir", 2),
            ("TempFile", 2),
            ("TempDir", 2),
        ],
    ),
    (
        "io",
        &[
            ("Copy", 2),
            ("CopyN", 2),
            ("CopyBuffer", 2),
            ("ReadAll", 2),
            ("ReadFull", 2),
            ("ReadAtLeast", 2),
            ("WriteString", 2),
        ],
    ),
    (
        "net",
        &[
            ("Dial", 2),
            ("DialTimeout", 2),
            ("Listen", 2),
            ("ListenPacket", 2),
            ("LookupHost", 2),
            ("LookupIP", 2),
            ("ResolveTCPAddr", 2),
            ("ResolveUDPAddr", 2),
            ("SplitHostPort", 3),
        ],
    ),
    (
        "net/http",
        &[
            ("ListenAndServe", 1),
            ("ListenAndServeTLS", 1),
            ("Serve", 1),
            ("ServeTLS", 1),
            ("Get", 2),
            ("Head", 2),
            ("Post", 2),
            ("PostForm", 2),
            ("NewRequest", 2),
            ("NewRequestWithContext", 2),
        ],
    ),
    (
        "net/url",
        &[
            ("Parse", 2),
            ("ParseRequestURI", 2),
            ("ParseQuery", 2),
            ("QueryUnescape", 2),
            ("PathUnescape", 2),
        ],
    ),
    (
        "strconv",
        &[
            ("Atoi", 2),
            ("ParseInt", 2),
            ("ParseUint", 2),
            ("ParseFloat", 2),
            ("ParseBool", 2),
            ("Unquote", 2),
        ],
    ),
    (
        "encoding/json",
        &[
            ("Unmarshal", 1),
            ("Marshal", 2),
            ("MarshalIndent", 2),
            ("Indent", 1),
            ("Compact", 1),
        ],
    ),
    (
        "encoding/xml",
        &[
            ("Unmarshal", 1),
            ("Marshal", 2),
            ("MarshalIndent", 2),
            ("EscapeText", 1),
        ],
    ),
    ("encoding/binary", &[("Read", 1), ("Write", 1)]),
    ("encoding/pem", &[("Encode", 1)]),
    ("crypto/rand", &[("Read", 2), ("Int", 2), ("Prime", 2)]),
    (
        "path/filepath",
        &[
            ("Abs", 2),
            ("Rel", 2),
            ("Glob", 2),
            ("Walk", 1),
            ("WalkDir", 1),
            ("EvalSymlinks", 2),
        ],
    ),
    ("os/exec", &[("LookPath", 2)]),
    ("html/template", &[("ParseFiles", 2), ("ParseGlob", 2)]),
    ("text/template", &[("ParseFiles", 2), ("ParseGlob", 2)]),
    ("database/sql", &[("Open", 2)]),
    (
        "time",
        &[("Parse", 2), ("ParseDuration", 2), ("LoadLocation", 2)],
    ),
    (
        "regexp",
        &[("Compile", 2), ("Match", 2), ("MatchString", 2)],
    ),
    (
        "syscall",
        &[
            ("Exec", 1),
            ("Kill", 1),
            ("Setenv", 1),
            ("Chdir", 1),
            ("Mkdir", 1),
            ("Unlink", 1),
        ],
    ),
];

fn error_func(path: &str, name: &str) -> Option<u8> {
    ERROR_FUNCS
        .iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, fs)| fs.iter().find(|(n, _)| *n == name))
        .map(|(_, n)| *n)
}

/// What the package declares that the checks look up.
#[derive(Default)]
struct PackageFacts<'a> {
    /// Package-level constants with their string values (if string literals).
    consts: HashMap<&'a str, Option<String>>,
    /// Package-level functions whose last result is `error`, with their result count.
    error_funcs: HashMap<&'a str, usize>,
}

fn collect_facts(pkg: &Package) -> PackageFacts<'_> {
    let mut facts = PackageFacts::default();
    for file in &pkg.files {
        for &d in &file.decls {
            match file.decl(d) {
                Decl::Gen {
                    tok: Token::Const,
                    specs,
                    ..
                } => {
                    for s in specs {
                        if let Spec::Value { names, values, .. } = s {
                            let values = file.list(*values);
                            for (i, n) in names.iter().enumerate() {
                                let v = values.get(i).and_then(|v| string_lit(file, *v));
                                facts.consts.insert(file.text(*n), v);
                            }
                        }
                    }
                }
                Decl::Func {
                    recv: None,
                    name,
                    typ,
                    ..
                } => {
                    if let Expr::FuncType {
                        results: Some(r), ..
                    } = file.expr(*typ)
                    {
                        let list = &file.fields(*r).list;
                        let count: usize = list.iter().map(|f| f.names.len().max(1)).sum();
                        if list
                            .last()
                            .is_some_and(|f| matches!(file.expr(f.typ), Expr::Ident(i) if file.text(*i) == "error"))
                        {
                            facts.error_funcs.insert(file.text(*name), count);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    facts
}

fn string_lit(file: &File, x: ExprId) -> Option<String> {
    match file.expr(x) {
        Expr::BasicLit {
            span,
            kind: Token::String,
        } => unquote(file.text(*span)),
        Expr::Paren { x, .. } => string_lit(file, *x),
        _ => None,
    }
}

fn int_lit(file: &File, x: ExprId) -> Option<u64> {
    match file.expr(x) {
        Expr::BasicLit {
            span,
            kind: Token::Int,
        } => {
            let t = file.text(*span).replace('_', "");
            let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
                (h.to_string(), 16)
            } else if let Some(o) = t.strip_prefix("0o").or(t.strip_prefix("0O")) {
                (o.to_string(), 8)
            } else if let Some(b) = t.strip_prefix("0b").or(t.strip_prefix("0B")) {
                (b.to_string(), 2)
            } else if t.len() > 1 && t.starts_with('0') {
                (t[1..].to_string(), 8)
            } else {
                (t, 10)
            };
            u64::from_str_radix(&digits, radix).ok()
        }
        Expr::Paren { x, .. } => int_lit(file, *x),
        // os.FileMode(0644), fs.FileMode(0644).
        Expr::Call { args, .. } if args.len() == 1 => int_lit(file, file.list(*args)[0]),
        _ => None,
    }
}

/// Checks one package; `options` come from the configuration.
pub fn check_package(pkg: &Package, options: &Options) -> Vec<Issue> {
    let facts = collect_facts(pkg);
    let mut out = Vec::new();
    for (i, file) in pkg.files.iter().enumerate() {
        let resolution = resolve_imports(file);
        let mut c = Checker {
            file,
            index: i,
            res: &resolution,
            facts: &facts,
            options,
            out: &mut out,
            params: Vec::new(),
            atoi: Vec::new(),
            readers: Vec::new(),
            range_vars: Vec::new(),
            archive: file
                .imports
                .iter()
                .any(|im| im.path == "archive/zip" || im.path == "archive/tar"),
        };
        c.imports();
        c.trojan_source();
        walk(file, &mut c);
    }
    out
}

struct Checker<'a> {
    file: &'a File,
    index: usize,
    res: &'a Resolution,
    facts: &'a PackageFacts<'a>,
    options: &'a Options,
    out: &'a mut Vec<Issue>,
    /// Parameter names of the enclosing functions, innermost last.
    params: Vec<Vec<&'a str>>,
    /// Variables assigned from strconv.Atoi, per enclosing function.
    atoi: Vec<HashSet<&'a str>>,
    /// Variables assigned from decompressing readers, per enclosing function.
    readers: Vec<HashSet<&'a str>>,
    /// Range value variables of the enclosing loops.
    range_vars: Vec<Option<&'a str>>,
    archive: bool,
}

const CREDENTIAL_WORDS: &[&str] = &[
    "passwd", "pass", "password", "pwd", "secret", "token", "pw", "apikey", "bearer", "cred",
];

fn looks_like_credential(name: &str) -> bool {
    // Called for every name assigned a value: no lower-cased copy.
    let name = name.as_bytes();
    CREDENTIAL_WORDS.iter().any(|w| {
        name.windows(w.len())
            .any(|window| window.eq_ignore_ascii_case(w.as_bytes()))
    })
}

/// Entropy in bits of the first 16 characters, estimated from their character classes
/// after removing common password words (which a guesser tries first).
fn high_entropy(s: &str) -> bool {
    const COMMON: &[&str] = &[
        "password", "passwd", "secret", "admin", "changeme", "letmein", "qwerty", "123456",
        "example", "test", "token", "default",
    ];
    let truncated: String = s.chars().take(16).collect();
    // Words (letters only, in camelCase or separated): about 11 bits a word, as a
    // dictionary guesser would need.
    if truncated
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '_' | '-' | '.'))
    {
        let mut words = 0;
        let mut prev_lower = false;
        let mut in_word = false;
        for c in truncated.chars() {
            if !c.is_alphabetic() {
                in_word = false;
                prev_lower = false;
                continue;
            }
            if !in_word || (prev_lower && c.is_uppercase()) {
                words += 1;
            }
            in_word = true;
            prev_lower = c.is_lowercase();
        }
        return words * 11 >= 80;
    }
    let mut rest = truncated.to_ascii_lowercase();
    let mut words = 0;
    for w in COMMON {
        while let Some(i) = rest.find(w) {
            rest.replace_range(i..i + w.len(), "");
            words += 1;
        }
    }
    let orig: Vec<char> = truncated.chars().collect();
    let classes = [
        orig.iter().any(|c| c.is_ascii_lowercase()) as u32 * 26,
        orig.iter().any(|c| c.is_ascii_uppercase()) as u32 * 26,
        orig.iter().any(|c| c.is_ascii_digit()) as u32 * 10,
        orig.iter().any(|c| !c.is_ascii_alphanumeric()) as u32 * 33,
    ];
    let charset: u32 = classes.iter().sum::<u32>().max(1);
    let bits_per_char = (charset as f64).log2();
    let entropy = rest.chars().count() as f64 * bits_per_char + words as f64 * 4.0;
    let len = orig.len().max(1) as f64;
    entropy >= 80.0 || (entropy >= 40.0 && entropy / len >= 3.0)
}

impl<'a> Checker<'a> {
    fn issue(&mut self, id: &'static str, start: Pos, end: Pos, message: impl Into<String>) {
        let def = rule(id).expect("known rule");
        self.issue_with(id, start, end, message, def.severity, def.confidence);
    }

    fn issue_with(
        &mut self,
        id: &'static str,
        start: Pos,
        end: Pos,
        message: impl Into<String>,
        severity: Level,
        confidence: Level,
    ) {
        self.out.push(Issue {
            rule: id,
            message: message.into(),
            severity,
            confidence,
            span: span(self.file, start, end),
            pos: start,
            file: self.index,
        });
    }

    fn expr_issue(&mut self, id: &'static str, x: ExprId, message: impl Into<String>) {
        let (s, e) = (self.file.expr_pos(x), self.file.expr_end(x));
        self.issue(id, s, e, message);
    }

    /// `(path, name)` of a qualified call's function.
    fn callee(&self, fun: ExprId) -> Option<(&'a str, &'a str)> {
        self.res.qualified(self.file, fun)
    }

    fn is_const(&self, x: ExprId) -> bool {
        match self.file.expr(x) {
            Expr::BasicLit { .. } => true,
            Expr::Ident(id) => {
                let name = self.file.text(*id);
                self.facts.consts.contains_key(name) || name == "true" || name == "false"
            }
            Expr::Paren { x, .. } => self.is_const(*x),
            Expr::Binary { x, y, .. } => self.is_const(*x) && self.is_const(*y),
            Expr::Selector { .. } => self.callee(x).is_some(), // pkg.Const: assume constant
            _ => false,
        }
    }

    fn string_value(&self, x: ExprId) -> Option<String> {
        if let Some(s) = string_lit(self.file, x) {
            return Some(s);
        }
        if let Expr::Ident(id) = self.file.expr(x) {
            return self
                .facts
                .consts
                .get(self.file.text(*id))
                .cloned()
                .flatten();
        }
        None
    }

    fn imports(&mut self) {
        let f = self.file;
        for s in f.import_specs() {
            let Spec::Import { path, name, .. } = s else {
                continue;
            };
            let Some(p) = string_lit(f, *path) else {
                continue;
            };
            let start = name.map_or_else(|| f.expr_pos(*path), |n| n.pos);
            let end = f.expr_end(*path);
            let (id, why) = match p.as_str() {
                "crypto/md5" => ("G501", "weak cryptographic primitive"),
                "crypto/des" => ("G502", "weak cryptographic primitive"),
                "crypto/rc4" => ("G503", "weak cryptographic primitive"),
                "net/http/cgi" => (
                    "G504",
                    "Go versions < 1.6.3 are vulnerable to Httpoxy attack: (CVE-2016-5386)",
                ),
                "crypto/sha1" => ("G505", "weak cryptographic primitive"),
                "golang.org/x/crypto/md4" => {
                    ("G506", "deprecated and weak cryptographic primitive")
                }
                "golang.org/x/crypto/ripemd160" => {
                    ("G507", "deprecated and weak cryptographic primitive")
                }
                "net/http/pprof" => {
                    self.issue(
                        "G108",
                        start,
                        end,
                        "Profiling endpoint is automatically exposed on /debug/pprof",
                    );
                    continue;
                }
                _ => continue,
            };
            self.issue(id, start, end, format!("Blocklisted import {p}: {why}"));
        }
    }

    fn trojan_source(&mut self) {
        const BIDI: &[char] = &[
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}',
        ];
        // Every one of them starts with byte 0xE2 (never a continuation byte): decode only there.
        let src = &self.file.src;
        if !src.as_bytes().contains(&0xE2) {
            return;
        }
        let found: Vec<(usize, char)> = src
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == 0xE2)
            .filter_map(|(i, _)| src[i..].chars().next().map(|c| (i, c)))
            .filter(|(_, c)| BIDI.contains(c))
            .collect();
        for (i, c) in found {
            let start = Pos(i as u32);
            self.issue(
                "G116",
                start,
                Pos((i + c.len_utf8()) as u32),
                "Potential Trojan Source vulnerability via use of bidirectional text control characters",
            );
        }
    }

    fn credential_value(&mut self, name: Ident, value: ExprId) {
        let f = self.file;
        if looks_like_credential(f.text(name))
            && let Some(s) = string_lit(f, value)
            && !s.is_empty()
            && high_entropy(&s)
        {
            self.issue(
                "G101",
                name.pos,
                f.expr_end(value),
                "Potential hardcoded credentials",
            );
        }
    }

    fn spec(&mut self, d: DeclId, i: u32) {
        let f = self.file;
        let Decl::Gen { specs, .. } = f.decl(d) else {
            return;
        };
        if let Spec::Value { names, values, .. } = &specs[i as usize] {
            let values = f.list(*values);
            if values.is_empty() {
                return;
            }
            for (k, n) in names.iter().enumerate() {
                let v = values[k.min(values.len() - 1)];
                self.credential_value(*n, v);
            }
        }
    }

    fn assign(&mut self, s: StmtId) {
        let f = self.file;
        let Stmt::Assign { lhs, tok, rhs, .. } = f.stmt(s) else {
            return;
        };
        let (lhs, rhs) = (f.list(*lhs), f.list(*rhs));
        if lhs.len() == rhs.len() {
            for (l, r) in lhs.iter().zip(rhs) {
                if let Expr::Ident(id) = f.expr(*l) {
                    self.credential_value(*id, *r);
                }
            }
        }
        if rhs.len() == 1
            && let Expr::Call { fun, .. } = f.expr(rhs[0])
        {
            let callee = self.callee(*fun);
            let first = lhs.first().and_then(|l| match f.expr(*l) {
                Expr::Ident(id) => Some(f.text(*id)),
                _ => None,
            });
            if let (Some(name), Some(("strconv", "Atoi"))) = (first, callee)
                && let Some(set) = self.atoi.last_mut()
            {
                set.insert(name);
            }
            if let (Some(name), Some((path, ctor))) = (first, callee)
                && is_decompressor(path, ctor)
                && let Some(set) = self.readers.last_mut()
            {
                set.insert(name);
            }
            // G104: the error result assigned to `_`.
            if matches!(tok, Token::Assign | Token::Define)
                && let Some(n) = self.error_results(*fun)
                && n == lhs.len()
                && let Some(last) = lhs.last()
                && matches!(f.expr(*last), Expr::Ident(id) if f.text(*id) == "_")
            {
                self.expr_issue("G104", rhs[0], "Errors unhandled");
            }
        }
    }

    /// The number of results of a call's function if its last result is an error.
    fn error_results(&self, fun: ExprId) -> Option<usize> {
        if let Some((path, name)) = self.callee(fun) {
            return error_func(path, name).map(usize::from);
        }
        if let Expr::Ident(id) = self.file.expr(fun) {
            return self.facts.error_funcs.get(self.file.text(*id)).copied();
        }
        None
    }

    fn call(&mut self, x: ExprId) {
        let f = self.file;
        let Expr::Call { fun, args, .. } = f.expr(x) else {
            return;
        };
        let args = f.list(*args);
        if let Expr::Ident(id) = f.expr(*fun)
            && matches!(f.text(*id), "int32" | "int16")
            && args.len() == 1
            && let Expr::Ident(a) = f.expr(args[0])
            && self.atoi.last().is_some_and(|s| s.contains(f.text(*a)))
        {
            self.expr_issue(
                "G109",
                x,
                "Potential Integer overflow made by strconv.Atoi result conversion to int16/32",
            );
        }
        let Some((path, name)) = self.callee(*fun) else {
            return;
        };
        let arg = |i: usize| args.get(i).copied();
        match (path, name) {
            ("net" | "crypto/tls", "Listen") => {
                if let Some(a) = arg(1)
                    && let Some(addr) = self.string_value(a)
                    && (addr.starts_with("0.0.0.0") || addr.starts_with(':'))
                {
                    self.expr_issue("G102", x, "Binds to all network interfaces");
                }
            }
            ("unsafe", "Pointer" | "Add" | "Slice" | "SliceData" | "String" | "StringData") => {
                self.expr_issue("G103", x, "Use of unsafe calls should be audited");
            }
            ("golang.org/x/crypto/ssh", "InsecureIgnoreHostKey") => {
                self.expr_issue(
                    "G106",
                    x,
                    "Use of ssh InsecureIgnoreHostKey should be audited",
                );
            }
            ("net/http", "Get" | "Head" | "Post" | "PostForm") => {
                if arg(0).is_some_and(|a| !self.is_const(a)) {
                    self.expr_issue("G107", x, "Potential HTTP request made with variable url");
                }
            }
            ("net/http", "NewRequest" | "NewRequestWithContext") => {
                let i = if name == "NewRequest" { 1 } else { 2 };
                if arg(i).is_some_and(|a| !self.is_const(a)) {
                    self.expr_issue("G107", x, "Potential HTTP request made with variable url");
                }
            }
            ("io", "Copy" | "CopyBuffer") => {
                if let Some(a) = arg(1)
                    && let Expr::Ident(id) = f.expr(a)
                    && self.readers.last().is_some_and(|s| s.contains(f.text(*id)))
                {
                    self.expr_issue(
                        "G110",
                        x,
                        "Potential DoS vulnerability via decompression bomb",
                    );
                }
            }
            ("net/http", "Dir") => {
                if arg(0).and_then(|a| self.string_value(a)).as_deref() == Some("/") {
                    self.expr_issue("G111", x, "Potential directory traversal");
                }
            }
            ("net/http", "ListenAndServe" | "ListenAndServeTLS" | "Serve" | "ServeTLS") => {
                self.expr_issue(
                    "G114",
                    x,
                    "Use of net/http serve function that has no support for setting timeouts",
                );
            }
            ("fmt", "Sprintf" | "Printf" | "Fprintf") => {
                let fmt_index = usize::from(name == "Fprintf");
                if let Some(format) = arg(fmt_index).and_then(|a| self.string_value(a))
                    && is_sql(&format)
                    && args[fmt_index + 1..].iter().any(|a| !self.is_const(*a))
                {
                    self.expr_issue("G201", x, "SQL string formatting");
                }
            }
            ("html/template", "HTML" | "HTMLAttr" | "JS" | "URL" | "CSS" | "JSStr" | "Srcset") => {
                if arg(0).is_some_and(|a| !matches!(f.expr(a), Expr::BasicLit { .. })) {
                    self.expr_issue(
                        "G203",
                        x,
                        "The used method does not auto-escape HTML. This can potentially lead to 'Cross-site Scripting' vulnerabilities, in case the attacker controls the input.",
                    );
                }
            }
            ("os/exec", "Command" | "CommandContext")
            | ("syscall", "Exec" | "ForkExec" | "StartProcess")
            | ("os", "StartProcess") => {
                let skip = usize::from(name == "CommandContext");
                self.subprocess(x, &args[skip.min(args.len())..]);
            }
            ("os", "Mkdir" | "MkdirAll") => self.mode("G301", x, arg(1), self.options.g301_mode),
            ("os", "Chmod") => self.mode("G302", x, arg(1), self.options.g302_mode),
            ("os", "OpenFile") => {
                self.mode("G302", x, arg(2), self.options.g302_mode);
                self.temp_path(x, arg(0));
                self.file_inclusion(x, arg(0));
            }
            ("os" | "io/ioutil", "WriteFile") => {
                self.mode("G306", x, arg(2), self.options.g306_mode);
                self.temp_path(x, arg(0));
            }
            ("os", "Create") => {
                if self.options.g307_mode < 0o666 {
                    self.issue(
                        "G307",
                        f.expr_pos(x),
                        f.expr_end(x),
                        format!(
                            "Expect file permissions to be 0{:o} or less",
                            self.options.g307_mode
                        ),
                    );
                }
                self.temp_path(x, arg(0));
            }
            ("os", "Open" | "ReadFile") | ("io/ioutil", "ReadFile") => {
                self.file_inclusion(x, arg(0));
            }
            ("path/filepath" | "path", "Join") if self.archive => {
                if args.iter().any(
                    |a| matches!(f.expr(*a), Expr::Selector { sel, .. } if f.text(*sel) == "Name"),
                ) {
                    self.expr_issue("G305", x, "File traversal when extracting zip/tar archive");
                }
            }
            ("crypto/md5" | "crypto/sha1", "New" | "Sum") => {
                self.expr_issue("G401", x, "Use of weak cryptographic primitive");
            }
            ("crypto/des", "NewCipher" | "NewTripleDESCipher") | ("crypto/rc4", "NewCipher") => {
                self.expr_issue("G405", x, "Use of weak cryptographic primitive");
            }
            ("golang.org/x/crypto/md4" | "golang.org/x/crypto/ripemd160", "New") => {
                self.expr_issue("G406", x, "Use of deprecated weak cryptographic primitive");
            }
            ("crypto/rsa", "GenerateKey") => {
                if let Some(bits) = arg(1).and_then(|a| int_lit(f, a))
                    && bits < 2048
                {
                    self.expr_issue("G403", x, "RSA keys should be at least 2048 bits");
                }
            }
            ("math/rand" | "math/rand/v2", _) => {
                if name.starts_with(|c: char| c.is_ascii_uppercase())
                    && !matches!(name, "NewSource" | "Source" | "Rand" | "Zipf" | "NewZipf")
                {
                    self.expr_issue(
                        "G404",
                        x,
                        "Use of weak random number generator (math/rand instead of crypto/rand)",
                    );
                }
            }
            _ => {}
        }
    }

    fn subprocess(&mut self, call: ExprId, args: &[ExprId]) {
        let f = self.file;
        for &a in args {
            if self.is_const(a) {
                continue;
            }
            let message = match f.expr(a) {
                Expr::Ident(id) if self.params.iter().any(|p| p.contains(&f.text(*id))) => {
                    "Subprocess launched with a potential tainted input or cmd arguments"
                }
                Expr::Call { .. } => {
                    "Subprocess launched with function call as argument or command arguments"
                }
                _ => "Subprocess launched with variable",
            };
            self.expr_issue("G204", call, message);
            return;
        }
    }

    fn mode(&mut self, id: &'static str, call: ExprId, arg: Option<ExprId>, max: u32) {
        if let Some(mode) = arg.and_then(|a| int_lit(self.file, a))
            && mode > u64::from(max)
        {
            let what = match id {
                "G301" => "directory permissions",
                "G306" => "WriteFile permissions",
                _ => "file permissions",
            };
            self.expr_issue(id, call, format!("Expect {what} to be 0{max:o} or less"));
        }
    }

    fn temp_path(&mut self, call: ExprId, arg: Option<ExprId>) {
        let Some(a) = arg else { return };
        let predictable = match self.string_value(a) {
            Some(s) => s.starts_with("/tmp/") || s.starts_with("/var/tmp/"),
            None => self.built_on_temp_dir(a),
        };
        if predictable {
            self.expr_issue(
                "G303",
                call,
                "File creation in shared tmp directory without using ioutil.Tempfile",
            );
        }
    }

    fn built_on_temp_dir(&self, x: ExprId) -> bool {
        let f = self.file;
        match f.expr(x) {
            Expr::Binary {
                x: l,
                op: Token::Add,
                ..
            } => {
                self.built_on_temp_dir(*l)
                    || string_lit(f, *l).is_some_and(|s| s.starts_with("/tmp/"))
            }
            Expr::Call { fun, args, .. } => match self.callee(*fun) {
                Some(("os", "TempDir")) => true,
                Some(("path/filepath" | "path", "Join")) => {
                    f.list(*args).first().is_some_and(|a| {
                        self.built_on_temp_dir(*a)
                            || string_lit(f, *a)
                                .is_some_and(|s| s == "/tmp" || s.starts_with("/tmp/"))
                    })
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn file_inclusion(&mut self, call: ExprId, arg: Option<ExprId>) {
        let Some(a) = arg else { return };
        if self.is_const(a) {
            return;
        }
        if let Expr::Call { fun, .. } = self.file.expr(a)
            && matches!(self.callee(*fun), Some(("path/filepath", "Clean" | "Rel")))
        {
            return;
        }
        self.expr_issue("G304", call, "Potential file inclusion via variable");
    }

    fn composite(&mut self, x: ExprId) {
        let f = self.file;
        let Expr::CompositeLit {
            typ: Some(t), elts, ..
        } = f.expr(x)
        else {
            return;
        };
        let t = match f.expr(*t) {
            Expr::Star { x, .. } => *x,
            _ => *t,
        };
        let Some(ty) = self.callee(t) else {
            // Struct literals of the package's own types: G101 on credential-like keys.
            self.credential_fields(*elts);
            return;
        };
        let keys: Vec<(&str, ExprId)> = f
            .list(*elts)
            .iter()
            .filter_map(|e| match f.expr(*e) {
                Expr::KeyValue { key, value, .. } => match f.expr(*key) {
                    Expr::Ident(k) => Some((f.text(*k), *value)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        match ty {
            ("net/http", "Server") => {
                if !keys
                    .iter()
                    .any(|(k, _)| *k == "ReadHeaderTimeout" || *k == "ReadTimeout")
                {
                    self.expr_issue(
                        "G112",
                        x,
                        "Potential Slowloris Attack because ReadHeaderTimeout is not configured in the http.Server",
                    );
                }
            }
            ("crypto/tls", "Config") => {
                for (k, v) in keys {
                    match k {
                        "InsecureSkipVerify" => {
                            if matches!(f.expr(v), Expr::Ident(b) if f.text(*b) == "true") {
                                self.expr_issue("G402", v, "TLS InsecureSkipVerify set true.");
                            }
                        }
                        "MinVersion" | "MaxVersion" => {
                            if let Some(version) = self.tls_version(v)
                                && version < 0x0303
                            {
                                self.expr_issue("G402", v, format!("TLS {k} too low."));
                            }
                        }
                        "CipherSuites" => self.cipher_suites(v),
                        _ => {}
                    }
                }
            }
            _ => self.credential_fields(*elts),
        }
    }

    fn credential_fields(&mut self, elts: ExprList) {
        let f = self.file;
        for &e in f.list(elts) {
            if let Expr::KeyValue { key, value, .. } = f.expr(e)
                && let Expr::Ident(k) = f.expr(*key)
            {
                self.credential_value(*k, *value);
            }
        }
    }

    fn tls_version(&self, v: ExprId) -> Option<u64> {
        if let Some((path, name)) = self.callee(v)
            && path == "crypto/tls"
        {
            return Some(match name {
                "VersionSSL30" => 0x0300,
                "VersionTLS10" => 0x0301,
                "VersionTLS11" => 0x0302,
                "VersionTLS12" => 0x0303,
                "VersionTLS13" => 0x0304,
                _ => return None,
            });
        }
        int_lit(self.file, v)
    }

    fn cipher_suites(&mut self, v: ExprId) {
        const GOOD: &[&str] = &[
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ];
        let f = self.file;
        let Expr::CompositeLit { elts, .. } = f.expr(v) else {
            return;
        };
        for &e in f.list(*elts) {
            if let Some(("crypto/tls", suite)) = self.callee(e)
                && !GOOD.contains(&suite)
            {
                self.expr_issue("G402", e, format!("TLS Bad Cipher Suite: {suite}"));
            }
        }
    }

    fn binary(&mut self, x: ExprId) {
        let f = self.file;
        let Expr::Binary { x: l, op, y, .. } = f.expr(x) else {
            return;
        };
        match op {
            Token::Eql | Token::Neq => {
                for (a, b) in [(*l, *y), (*y, *l)] {
                    if let Expr::Ident(id) = f.expr(a)
                        && looks_like_credential(f.text(*id))
                        && let Some(s) = string_lit(f, b)
                        && !s.is_empty()
                        && high_entropy(&s)
                    {
                        self.expr_issue("G101", x, "Potential hardcoded credentials");
                        return;
                    }
                }
            }
            Token::Add => {
                // The leftmost operand of a chain of `+`.
                let mut first = *l;
                let mut operands = vec![*y];
                while let Expr::Binary {
                    x: inner,
                    op: Token::Add,
                    y,
                    ..
                } = f.expr(first)
                {
                    operands.push(*y);
                    first = *inner;
                }
                if let Some(s) = string_lit(f, first)
                    && is_sql(&s)
                    && operands.iter().any(|o| !self.is_const(*o))
                {
                    self.expr_issue("G202", x, "SQL string concatenation");
                }
            }
            _ => {}
        }
    }
}

fn is_decompressor(path: &str, name: &str) -> bool {
    matches!(
        (path, name),
        (
            "compress/gzip"
                | "compress/zlib"
                | "compress/bzip2"
                | "compress/lzw"
                | "compress/flate",
            "NewReader" | "NewReaderDict"
        ) | ("archive/zip", "OpenReader" | "NewReader")
            | ("archive/tar", "NewReader")
    )
}

/// Whether a string starts like a SQL statement, as gosec's pattern
/// `(?i)^(SELECT|DELETE|INSERT|UPDATE|INTO|FROM|WHERE)( |\n|\r|\t)` after leading space.
fn is_sql(s: &str) -> bool {
    let t = s.trim_start();
    [
        "SELECT", "DELETE", "INSERT", "UPDATE", "INTO", "FROM", "WHERE",
    ]
    .iter()
    .any(|kw| {
        t.len() > kw.len()
            && t.as_bytes()[..kw.len()].eq_ignore_ascii_case(kw.as_bytes())
            && matches!(t.as_bytes()[kw.len()], b' ' | b'\n' | b'\r' | b'\t')
    })
}

impl<'a> Visitor for Checker<'a> {
    fn enter(&mut self, file: &File, node: Node, parent: Option<Node>) -> bool {
        // The walker hands back the file it was given: `self.file`, with our lifetime.
        let f: &'a File = self.file;
        debug_assert!(std::ptr::eq(file, f));
        match node {
            Node::Decl(d) => {
                if let Decl::Func { recv, typ, .. } = f.decl(d) {
                    let mut names = field_names(f, *recv);
                    if let Expr::FuncType { params, .. } = f.expr(*typ) {
                        names.extend(field_names(f, Some(*params)));
                    }
                    self.enter_func(names);
                }
            }
            Node::Spec(d, i) => self.spec(d, i),
            Node::Stmt(s) => match f.stmt(s) {
                Stmt::Assign { .. } => self.assign(s),
                Stmt::Expr(x) => {
                    if let Expr::Call { fun, .. } = f.expr(*x)
                        && self.error_results(*fun).is_some()
                    {
                        self.expr_issue("G104", *x, "Errors unhandled");
                    }
                }
                Stmt::Range {
                    value, tok, key, ..
                } => {
                    let var = if *tok == Token::Define {
                        value.or(*key).and_then(|v| match f.expr(v) {
                            Expr::Ident(id) if value.is_some() => Some(f.text(*id)),
                            _ => None,
                        })
                    } else {
                        None
                    };
                    self.range_vars.push(var);
                }
                _ => {}
            },
            Node::Expr(x) => match f.expr(x) {
                Expr::Call { .. } => self.call(x),
                Expr::CompositeLit { .. } => self.composite(x),
                // Only the outermost `+` of a chain is a concatenation to report.
                Expr::Binary { .. }
                    if !matches!(parent, Some(Node::Expr(p))
                        if matches!(f.expr(p), Expr::Binary { op: Token::Add, .. })) =>
                {
                    self.binary(x)
                }
                Expr::FuncLit { typ, .. } => {
                    let names = match f.expr(*typ) {
                        Expr::FuncType { params, .. } => field_names(f, Some(*params)),
                        _ => Vec::new(),
                    };
                    self.enter_func(names);
                }
                Expr::Unary {
                    op: Token::And,
                    x: inner,
                    ..
                } if self.options.range_aliasing => {
                    if let Expr::Ident(id) = f.expr(*inner)
                        && self.range_vars.iter().any(|v| *v == Some(f.text(*id)))
                    {
                        self.expr_issue("G601", x, "Implicit memory aliasing in for loop.");
                    }
                }
                _ => {}
            },
            _ => {}
        }
        true
    }

    fn leave(&mut self, file: &File, node: Node, _parent: Option<Node>) {
        match node {
            Node::Decl(d) if matches!(file.decl(d), Decl::Func { .. }) => self.leave_func(),
            Node::Expr(x) if matches!(file.expr(x), Expr::FuncLit { .. }) => self.leave_func(),
            Node::Stmt(s) if matches!(file.stmt(s), Stmt::Range { .. }) => {
                self.range_vars.pop();
            }
            _ => {}
        }
    }
}

impl<'a> Checker<'a> {
    fn enter_func(&mut self, params: Vec<&'a str>) {
        self.params.push(params);
        self.atoi.push(HashSet::new());
        self.readers.push(HashSet::new());
    }

    fn leave_func(&mut self) {
        self.params.pop();
        self.atoi.pop();
        self.readers.pop();
    }
}

fn field_names(f: &File, list: Option<FieldListId>) -> Vec<&str> {
    list.map(|l| {
        f.fields(l)
            .list
            .iter()
            .flat_map(|fld| fld.names.iter().map(|n| f.text(*n)))
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql() {
        assert!(is_sql("SELECT * FROM t WHERE id = %s"));
        assert!(is_sql("  select x from t"));
        assert!(!is_sql("Selection %s"));
        assert!(!is_sql("SELECT"));
    }

    #[test]
    fn entropy() {
        assert!(high_entropy("f62e5bcda4fae4f82370da0c6f20697b8f8447ef"));
        assert!(high_entropy("hunter2-Xq9!zr"));
        assert!(!high_entropy("password"));
        assert!(!high_entropy("changeme"));
        assert!(!high_entropy("abc"));
    }
}
