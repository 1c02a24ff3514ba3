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

mod sql;
use crate::scope::{
    Binding, Def, Scopes, defined_names, opens_scope, package_bindings, spec_bindings,
};

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
    /// gosec's audit mode: G104 also reports errors assigned to `_`.
    pub audit: bool,
    /// More functions whose errors G104 lets go, as `(package name, function)`.
    pub g104_allow: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            range_aliasing: true,
            g301_mode: 0o750,
            g302_mode: 0o600,
            g306_mode: 0o600,
            g307_mode: 0o666,
            audit: false,
            g104_allow: Vec::new(),
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
    ("crypto/rand", &[("Int", 2), ("Prime", 2)]),
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
    /// Package-level functions with an `error` result, with its position among the results.
    error_funcs: HashMap<&'a str, usize>,
}

fn collect_facts(pkg: &Package) -> PackageFacts<'_> {
    let mut facts = PackageFacts::default();
    for file in &pkg.files {
        for &d in &file.decls {
            if let Decl::Func {
                recv: None,
                name,
                typ,
                ..
            } = file.decl(d)
                && let Expr::FuncType {
                    results: Some(r), ..
                } = file.expr(*typ)
            {
                let mut position = 0;
                for field in &file.fields(*r).list {
                    if matches!(file.expr(field.typ), Expr::Ident(i) if file.text(*i) == "error") {
                        facts.error_funcs.insert(file.text(*name), position);
                        break;
                    }
                    position += field.names.len().max(1);
                }
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
    let globals = package_bindings(pkg);
    let sql_package = pkg
        .files
        .iter()
        .any(|f| f.imports.iter().any(|im| im.path == "database/sql"));
    let mut out = Vec::new();
    for (i, file) in pkg.files.iter().enumerate() {
        let resolution = resolve_imports(file);
        let mut c = Checker {
            pkg,
            file,
            index: i,
            res: &resolution,
            facts: &facts,
            globals: &globals,
            scopes: Scopes::default(),
            frames: Vec::new(),
            options,
            out: &mut out,
            range_vars: Vec::new(),
            archive: file
                .imports
                .iter()
                .any(|im| im.path == "archive/zip" || im.path == "archive/tar"),
            zip: file.imports.iter().any(|im| im.path == "archive/zip"),
            sql_package,
            bodies: Vec::new(),
            leave_work: Vec::new(),
            resolved: Default::default(),
            budget: std::cell::Cell::new(0),
            body_index: Default::default(),
        };
        c.imports();
        c.trojan_source();
        walk(file, &mut c);
    }
    // Several query calls may lead to the same concatenation: report it once.
    let mut seen = HashSet::new();
    out.retain(|i| seen.insert((i.rule, i.file, i.pos)));
    out
}

/// What one function's variables were assigned, as the rules that track values in a
/// function need it.
#[derive(Default)]
struct Frame<'a> {
    /// Assigned from `strconv.Atoi` (G109).
    atoi: HashSet<&'a str>,
    /// Assigned a decompressing reader (G110).
    readers: HashSet<&'a str>,
    /// Range value variables over a zip archive's `File` list (G110).
    zip_entries: HashSet<&'a str>,
    /// Assigned `filepath.Clean(...)` (or `Rel`, `EvalSymlinks`) (G304).
    cleaned: HashSet<&'a str>,
    /// Assigned a `filepath.Join(...)`/`path.Join(...)` call (G304).
    joined: HashMap<&'a str, ExprId>,
}

struct Checker<'a> {
    pkg: &'a Package,
    file: &'a File,
    index: usize,
    res: &'a Resolution,
    facts: &'a PackageFacts<'a>,
    /// The package's top-level names.
    globals: &'a HashMap<&'a str, Binding>,
    /// The local names in scope.
    scopes: Scopes<'a>,
    /// What the enclosing functions assigned, innermost last.
    frames: Vec<Frame<'a>>,
    options: &'a Options,
    out: &'a mut Vec<Issue>,
    /// Range value variables of the enclosing loops, with whether the ranged-over elements
    /// are pointers (when the syntax says).
    range_vars: Vec<Option<(&'a str, Option<bool>)>>,
    archive: bool,
    /// The file imports `archive/zip`.
    zip: bool,
    /// The package imports `database/sql` (G201, G202 look for its query calls).
    sql_package: bool,
    /// The bodies of the enclosing functions, innermost last.
    bodies: Vec<StmtId>,
    /// The nodes entered that have work to do when left (scopes, functions), innermost last.
    leave_work: Vec<Node>,
    /// Whether a variable's declaration is made of constants, by declaration.
    resolved: std::cell::RefCell<HashMap<(usize, Def), bool>>,
    /// Work left for the current `resolves` question.
    budget: std::cell::Cell<u32>,
    /// Per function body, its appends and identifier uses (see `sql`), built once.
    body_index: std::cell::RefCell<HashMap<(usize, StmtId), std::rc::Rc<sql::BodyIndex<'a>>>>,
}

/// gosec's pattern `(?i)passwd|pass|password|pwd|secret|token|pw|apiKey|bearer|cred`, anywhere
/// in a name (`pass` covers `passwd` and `password`, `pw` covers `pwd`).
fn looks_like_credential(name: &str) -> bool {
    // Called for every name given a value: one pass, no lower-cased copy.
    let b = name.as_bytes();
    let at = |i: usize, word: &[u8]| {
        b.get(i..i + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    (0..b.len()).any(|i| match b[i].to_ascii_lowercase() {
        b'p' => at(i, b"pass") || at(i, b"pw"),
        b's' => at(i, b"secret"),
        b't' => at(i, b"token"),
        b'a' => at(i, b"apikey"),
        b'b' => at(i, b"bearer"),
        b'c' => at(i, b"cred"),
        _ => false,
    })
}

/// Whether a string looks random enough to be a secret, as gosec decides with zxcvbn: at least
/// 8 characters, and its first 16 carry at least 80 bits, or 40 bits at 3 bits a character.
///
/// The estimate: letters-only stretches are split into words (at separators and lower-to-upper
/// case changes); a pronounceable word (a vowel, no run of four consonants) costs what a
/// dictionary guesser pays for it, about 11 bits; anything else costs what brute force pays,
/// `log2(alphabet)` bits a character, the alphabet being the character classes present (26
/// lower, 26 upper, 10 digits, 33 symbols). Common password words are removed first.
pub(crate) fn high_entropy(s: &str) -> bool {
    const COMMON: &[&str] = &[
        "password", "passwd", "secret", "admin", "changeme", "letmein", "qwerty", "123456",
        "example", "test", "token", "default",
    ];
    if s.len() < 8 {
        return false;
    }
    let truncated = match s.char_indices().nth(16) {
        Some((end, _)) => &s[..end],
        None => s,
    };
    let has = |p: fn(&char) -> bool| truncated.chars().any(|c| p(&c));
    let classes = [
        has(char::is_ascii_lowercase) as u32 * 26,
        has(char::is_ascii_uppercase) as u32 * 26,
        has(char::is_ascii_digit) as u32 * 10,
        has(|c| !c.is_ascii_alphanumeric()) as u32 * 33,
    ];
    let charset: u32 = classes.iter().sum::<u32>().max(1);
    let bits_per_char = (charset as f64).log2();
    let len = truncated.chars().count() as f64;
    // Called for string literals in bulk: no allocation.
    let entropy = if truncated
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '_' | '-' | '.'))
    {
        let mut bits = 0.0;
        for_each_word(truncated, |w| {
            bits += if pronounceable(w) {
                11.0
            } else {
                w.chars().count() as f64 * bits_per_char
            };
        });
        bits
    } else {
        // Common words cost a little; the rest is brute force.
        let t = truncated.as_bytes();
        let (mut i, mut common, mut in_words) = (0, 0, 0);
        while i < t.len() {
            match COMMON.iter().find(|w| {
                t[i..].len() >= w.len() && t[i..i + w.len()].eq_ignore_ascii_case(w.as_bytes())
            }) {
                Some(w) => {
                    common += 1;
                    in_words += w.len();
                    i += w.len();
                }
                None => i += 1,
            }
        }
        (len - in_words as f64) * bits_per_char + common as f64 * 4.0
    };
    entropy >= 80.0 || (entropy >= 40.0 && entropy / len >= 3.0)
}

/// Calls `each` with the words of a letters-only string: split at non-letters and where a
/// lower-case letter is followed by an upper-case one.
fn for_each_word(s: &str, mut each: impl FnMut(&str)) {
    let mut start: Option<usize> = None;
    let mut prev_lower = false;
    for (i, c) in s.char_indices() {
        if (!c.is_alphabetic() || (prev_lower && c.is_uppercase()))
            && let Some(b) = start.take()
        {
            each(&s[b..i]);
        }
        if c.is_alphabetic() && start.is_none() {
            start = Some(i);
        }
        prev_lower = c.is_lowercase();
    }
    if let Some(b) = start {
        each(&s[b..]);
    }
}

/// Whether a word reads like one: it has a vowel and no four consonants in a row.
fn pronounceable(word: &str) -> bool {
    let mut run = 0;
    let mut vowel = false;
    for c in word.chars().map(|c| c.to_ascii_lowercase()) {
        if matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y') {
            vowel = true;
            run = 0;
        } else {
            run += 1;
            if run >= 4 {
                return false;
            }
        }
    }
    vowel || word.chars().count() <= 2
}

/// Secret formats gosec recognises in any string (after the entropy test), by name.
const SECRET_PATTERNS: &[(&str, &str)] = &[
    ("RSA private key", r"-----BEGIN RSA PRIVATE KEY-----"),
    ("SSH (DSA) private key", r"-----BEGIN DSA PRIVATE KEY-----"),
    ("SSH (EC) private key", r"-----BEGIN EC PRIVATE KEY-----"),
    (
        "PGP private key block",
        r"-----BEGIN PGP PRIVATE KEY BLOCK-----",
    ),
    (
        "Slack Token",
        r"xox[pborsa]-[0-9]{12}-[0-9]{12}-[0-9]{12}-[a-z0-9]{32}",
    ),
    ("AWS API Key", r"AKIA[0-9A-Z]{16}"),
    ("AWS Temporary Access Key", r"ASIA[0-9A-Z]{16}"),
    (
        "Amazon MWS Auth Token",
        r"amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    ("AWS AppSync GraphQL Key", r"da2-[a-z0-9]{26}"),
    ("GitHub personal access token", r"ghp_[a-zA-Z0-9]{36}"),
    (
        "GitHub fine-grained access token",
        r"github_pat_[a-zA-Z0-9]{22}_[a-zA-Z0-9]{59}",
    ),
    ("GitHub action temporary token", r"ghs_[a-zA-Z0-9]{36}"),
    ("Google API Key", r"AIza[0-9A-Za-z_-]{35}"),
    (
        "Google Cloud Platform OAuth",
        r"[0-9]+-[0-9A-Za-z_]{32}\.apps\.googleusercontent\.com",
    ),
    (
        "Google (GCP) Service-account",
        r#""type": "service_account""#,
    ),
    ("Google OAuth Access Token", r"ya29\.[0-9A-Za-z_-]+"),
    (
        "Generic API Key",
        r#"[aA][pP][iI]_?[kK][eE][yY].*['"][0-9a-zA-Z]{32,45}['"]"#,
    ),
    (
        "Generic Secret",
        r#"[sS][eE][cC][rR][eE][tT].*['"][0-9a-zA-Z]{32,45}['"]"#,
    ),
    (
        "Heroku API Key",
        r"[hH][eE][rR][oO][kK][uU].*[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}",
    ),
    ("MailChimp API Key", r"[0-9a-f]{32}-us[0-9]{1,2}"),
    ("Mailgun API Key", r"key-[0-9a-zA-Z]{32}"),
    (
        "Password in URL",
        r#"[a-zA-Z]{3,10}://[a-zA-Z0-9.\-_+]{1,64}:[a-zA-Z0-9.\-_!$%&*+=^()]{1,128}@[a-zA-Z0-9.\-_]+(:[0-9]+)?(/[^"'\t\n\r ]*)?(["'\t\n\r ]|$)"#,
    ),
    (
        "Slack Webhook",
        r"https://hooks\.slack\.com/services/T[a-zA-Z0-9_]{8}/B[a-zA-Z0-9_]{8}/[a-zA-Z0-9_]{24}",
    ),
    ("Stripe API Key", r"sk_live_[0-9a-zA-Z]{24}"),
    ("Stripe Restricted API Key", r"rk_live_[0-9a-zA-Z]{24}"),
    ("Square Access Token", r"sq0atp-[0-9A-Za-z_-]{22}"),
    ("Square OAuth Secret", r"sq0csp-[0-9A-Za-z_-]{43}"),
    ("Telegram Bot API Key", r"[0-9]+:AA[0-9A-Za-z_-]{33}"),
    ("Twilio API Key", r"SK[0-9a-fA-F]{32}"),
    (
        "Twitter Access Token",
        r"[tT][wW][iI][tT][tT][eE][rR].*[1-9][0-9]+-[0-9a-zA-Z]{40}",
    ),
    (
        "Twitter OAuth",
        r#"[tT][wW][iI][tT][tT][eE][rR].*['"][0-9a-zA-Z]{35,44}['"]"#,
    ),
];

/// The value of a string literal as far as `high_entropy` looks (its first 16 characters),
/// taken from the source text when no escape comes before them.
fn literal_head(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let body = raw.get(1..raw.len().checked_sub(1)?)?;
    let head = match body.char_indices().nth(16) {
        Some((end, _)) => &body[..end],
        None => body,
    };
    if raw.starts_with('`') || !head.contains('\\') {
        Some(std::borrow::Cow::Borrowed(body))
    } else {
        unquote(raw).map(std::borrow::Cow::Owned)
    }
}

/// The name of the secret format `s` contains, if any (gosec tests high-entropy strings only).
pub(crate) fn secret_pattern(s: &str) -> Option<&'static str> {
    static SET: std::sync::OnceLock<regex::RegexSet> = std::sync::OnceLock::new();
    if s.len() < 8 {
        return None;
    }
    let set = SET.get_or_init(|| {
        regex::RegexSet::new(SECRET_PATTERNS.iter().map(|(_, p)| p)).expect("valid patterns")
    });
    set.matches(s).iter().next().map(|i| SECRET_PATTERNS[i].0)
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

    /// An issue with the rule's levels in file `fi` of the package (a finding may be in
    /// another file than the one walked: a package variable's declaration or append).
    fn issue_at(&mut self, fi: usize, id: &'static str, start: Pos, end: Pos, message: &str) {
        let def = rule(id).expect("known rule");
        self.out.push(Issue {
            rule: id,
            message: message.into(),
            severity: def.severity,
            confidence: def.confidence,
            span: span(&self.pkg.files[fi], start, end),
            pos: start,
            file: fi,
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

    /// A string literal, or a constant or variable declared with one (gosec's
    /// `GetIdentStringValues`).
    fn string_value(&self, x: ExprId) -> Option<String> {
        if let Some(s) = string_lit(self.file, x) {
            return Some(s);
        }
        if let Expr::Ident(_) = self.file.expr(x) {
            let (file, init) = self.definition(self.index, x)?;
            return string_lit(&self.pkg.files[file], init);
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
        // One issue a file, as gosec, at the first character.
        if let Some(&(i, c)) = found.first() {
            let more = match found.len() {
                1 => String::new(),
                n => format!(" ({n} in this file; the first is here)"),
            };
            self.issue(
                "G116",
                Pos(i as u32),
                Pos((i + c.len_utf8()) as u32),
                format!(
                    "Potential Trojan Source vulnerability via use of bidirectional text control characters{more}"
                ),
            );
        }
    }

    /// G101 on a declaration or an assignment, as gosec: once per statement, first for a
    /// credential-like name given a high-entropy string, then for any high-entropy string
    /// value in a known secret format.
    fn credentials(
        &mut self,
        names: impl Iterator<Item = (usize, Ident)>,
        values: &[ExprId],
        any_value: bool,
    ) {
        let f = self.file;
        if values.is_empty() {
            return;
        }
        for (k, n) in names {
            if f.text(n) == "_" || !looks_like_credential(f.text(n)) {
                continue;
            }
            // A declaration pairs names and values; gosec tries every value of an assignment.
            let candidates = if any_value {
                values
            } else {
                std::slice::from_ref(&values[k.min(values.len() - 1)])
            };
            if let Some(&v) = candidates
                .iter()
                .find(|v| string_lit(f, **v).is_some_and(|s| high_entropy(&s)))
            {
                self.issue(
                    "G101",
                    n.pos,
                    f.expr_end(v),
                    "Potential hardcoded credentials",
                );
                return;
            }
        }
        self.secret_values(values);
    }

    /// G101 for the first of `values` that is a high-entropy string in a secret format.
    fn secret_values(&mut self, values: &[ExprId]) -> bool {
        let f = self.file;
        for &v in values {
            // Every string literal of the package comes here: the cheap test on its source
            // text first, then the formats, then the entropy.
            let Expr::BasicLit {
                span,
                kind: Token::String,
            } = f.expr(v)
            else {
                continue;
            };
            let raw = f.text(*span);
            if raw.len() < 10 || !literal_head(raw).is_some_and(|h| high_entropy(&h)) {
                continue;
            }
            if let Some(s) = string_lit(f, v)
                && let Some(kind) = secret_pattern(&s)
            {
                self.expr_issue(
                    "G101",
                    v,
                    format!("Potential hardcoded credentials: {kind}"),
                );
                return true;
            }
        }
        false
    }

    fn spec(&mut self, d: DeclId, i: u32) {
        let f = self.file;
        let Decl::Gen { specs, .. } = f.decl(d) else {
            return;
        };
        if let Spec::Value { names, values, .. } = &specs[i as usize] {
            self.credentials(names.iter().copied().enumerate(), f.list(*values), false);
        }
    }

    fn assign(&mut self, s: StmtId) {
        let f = self.file;
        let Stmt::Assign { lhs, tok, rhs, .. } = f.stmt(s) else {
            return;
        };
        let (lhs, rhs) = (f.list(*lhs), f.list(*rhs));
        let names = lhs
            .iter()
            .enumerate()
            .filter_map(|(k, l)| match f.expr(*l) {
                Expr::Ident(id) => Some((k, *id)),
                _ => None,
            });
        self.credentials(names, rhs, true);
        if let (Some(&l), Some(&r)) = (lhs.first(), rhs.first()) {
            self.tls_field_assign(l, r);
        }
        if let (Some(&l), Some(&r)) = (lhs.first(), rhs.first())
            && let Expr::Ident(first) = f.expr(l)
            && matches!(f.expr(r), Expr::Call { .. })
        {
            let name = f.text(*first);
            if self.is_clean_call(r)
                && let Some(c) = self.frames.last_mut().map(|fr| &mut fr.cleaned)
            {
                c.insert(name);
            }
            if self.is_join_call(r)
                && let Some(j) = self.frames.last_mut().map(|fr| &mut fr.joined)
            {
                j.insert(name, r);
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
                && let Some(set) = self.frames.last_mut().map(|fr| &mut fr.atoi)
            {
                set.insert(name);
            }
            if let (Some(name), Some((path, ctor))) = (first, callee)
                && is_decompressor(path, ctor)
                && let Some(set) = self.frames.last_mut().map(|fr| &mut fr.readers)
            {
                set.insert(name);
            }
            // `rc, err := f.Open()` for an entry `f` of a zip archive's `File` list.
            if let (Some(name), Expr::Selector { x: recv, sel, .. }) = (first, f.expr(*fun))
                && f.text(*sel) == "Open"
                && matches!(f.expr(*recv), Expr::Ident(r)
                    if self.frames.last().map(|fr| &fr.zip_entries).is_some_and(|z| z.contains(f.text(*r))))
                && let Some(set) = self.frames.last_mut().map(|fr| &mut fr.readers)
            {
                set.insert(name);
            }
        }
        // G104 in audit mode: an error result assigned to `_` (gosec looks at the first call
        // on the right only when it has an error result).
        if self.options.audit && matches!(tok, Token::Assign | Token::Define) {
            for &r in rhs {
                let Expr::Call { fun, .. } = f.expr(r) else {
                    continue;
                };
                match self.error_position(*fun) {
                    Some(p) if p < lhs.len() => {
                        if matches!(f.expr(lhs[p]), Expr::Ident(id) if f.text(*id) == "_") {
                            self.issue("G104", f.stmt_pos(s), f.stmt_end(s), "Errors unhandled");
                        }
                        break;
                    }
                    _ => break,
                }
            }
        }
    }

    /// Where a called function's `error` result is among its results, unless gosec's
    /// allow-list (or `g104-allow`) lets its errors go.
    fn error_position(&self, fun: ExprId) -> Option<usize> {
        if let Some((path, name)) = self.callee(fun) {
            let package = path.rsplit('/').next().unwrap_or(path);
            let allowed = matches!(
                (package, name),
                (
                    "fmt",
                    "Print" | "Printf" | "Println" | "Fprint" | "Fprintf" | "Fprintln"
                ) | ("os", "Unsetenv")
                    | ("rand", "Read")
            ) || self
                .options
                .g104_allow
                .iter()
                .any(|(p, n)| p == package && n == name);
            if allowed {
                return None;
            }
            return error_func(path, name).map(|n| usize::from(n).saturating_sub(1));
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
            && self
                .frames
                .last()
                .map(|fr| &fr.atoi)
                .is_some_and(|s| s.contains(f.text(*a)))
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
                // The address, or with a single argument (`Listen(split(addr))`) the
                // arguments of the call that makes it.
                let candidates: Vec<ExprId> = match (args.len(), arg(0).map(|a| f.expr(a))) {
                    (1, Some(Expr::Call { args: inner, .. })) => f.list(*inner).to_vec(),
                    _ => arg(1).into_iter().collect(),
                };
                if candidates
                    .iter()
                    .filter_map(|a| self.string_value(*a))
                    .any(|addr| addr.starts_with("0.0.0.0") || addr.starts_with(':'))
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
            // gosec: the URL is a variable declared at package level (any function may change
            // it) or one whose declaration is not made of constants.
            ("net/http", "Get" | "Head" | "Post" | "PostForm") => {
                if let Some(a) = arg(0)
                    && let Some(b) = self.binding_in(self.index, a)
                    && b.is_var()
                    && (matches!(b, Binding::Var { package: true, .. })
                        || !self.resolves(self.index, a, 0))
                {
                    self.expr_issue("G107", x, "Potential HTTP request made with variable url");
                }
            }
            ("io", "Copy" | "CopyBuffer") => {
                if let Some(a) = arg(1)
                    && let Expr::Ident(id) = f.expr(a)
                    && self
                        .frames
                        .last()
                        .map(|fr| &fr.readers)
                        .is_some_and(|s| s.contains(f.text(*id)))
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
            ("html/template", "HTML" | "HTMLAttr" | "JS" | "URL" | "CSS" | "JSStr" | "Srcset") => {
                if arg(0).is_some_and(|a| !matches!(f.expr(a), Expr::BasicLit { .. })) {
                    self.expr_issue(
                        "G203",
                        x,
                        "The used method does not auto-escape HTML. This can potentially lead to 'Cross-site Scripting' vulnerabilities, in case the attacker controls the input.",
                    );
                }
            }
            ("os/exec" | "golang.org/x/sys/execabs", "Command" | "CommandContext")
            | ("syscall", "Exec" | "ForkExec" | "StartProcess") => {
                let skip = usize::from(name == "CommandContext");
                self.subprocess(x, &args[skip.min(args.len())..]);
            }
            ("os", "Mkdir" | "MkdirAll") => self.mode("G301", x, arg(1), self.options.g301_mode),
            ("os", "Chmod") => self.mode("G302", x, arg(1), self.options.g302_mode),
            ("os", "OpenFile") => {
                self.mode("G302", x, arg(2), self.options.g302_mode);
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
                self.file_inclusion(x, arg(0));
            }
            ("os", "Open" | "ReadFile") | ("io/ioutil", "ReadFile") => {
                self.file_inclusion(x, arg(0));
            }
            ("path/filepath" | "path", "Join") if self.archive => {
                // An entry's `.Name`, directly or through a variable declared with it.
                let entry_name = |a: ExprId| {
                    let a = match f.expr(a) {
                        Expr::Ident(_) => match self.definition(self.index, a) {
                            Some((file, v)) if file == self.index => v,
                            _ => return false,
                        },
                        _ => a,
                    };
                    matches!(f.expr(a), Expr::Selector { sel, .. } if f.text(*sel) == "Name")
                };
                if args.iter().any(|a| entry_name(*a)) {
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
            // gosec's lists: the generators and their top-level functions, not the sources
            // (`NewSource`, `NewPCG`, ...), which only a generator turns into numbers.
            ("math/rand", _) | ("math/rand/v2", _) if weak_random(path, name) => {
                self.expr_issue(
                    "G404",
                    x,
                    "Use of weak random number generator (math/rand or math/rand/v2 instead of crypto/rand)",
                );
            }
            _ => {}
        }
    }

    /// G204 as gosec: a variable argument whose declaration is not made of constants (the
    /// program itself may be a parameter: the caller decides), or any other argument that
    /// is not.
    fn subprocess(&mut self, call: ExprId, args: &[ExprId]) {
        let f = self.file;
        for (i, &a) in args.iter().enumerate() {
            let message = if let Expr::Ident(_) = f.expr(a) {
                match self.binding_in(self.index, a) {
                    Some(Binding::Param) if i == 0 => continue,
                    Some(b) if b.is_var() && !self.resolves(self.index, a, 0) => {
                        "Subprocess launched with variable"
                    }
                    _ => continue,
                }
            } else if !self.resolves(self.index, a, 0) {
                "Subprocess launched with a potential tainted input or cmd arguments"
            } else {
                continue;
            };
            self.expr_issue("G204", call, message);
            return;
        }
    }

    fn mode(&mut self, id: &'static str, call: ExprId, arg: Option<ExprId>, max: u32) {
        let mode = arg.and_then(|a| match self.callee(a) {
            Some(("os" | "io/fs", "ModePerm")) => Some(0o777),
            _ => int_lit(self.file, a),
        });
        if let Some(mode) = mode
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
        if arg.is_some_and(|a| self.built_on_temp_dir(a)) {
            self.expr_issue(
                "G303",
                call,
                "File creation in shared tmp directory without using ioutil.Tempfile",
            );
        }
    }

    /// A path in a shared temporary directory, as gosec: `/tmp`, `/var/tmp` or `/usr/tmp`
    /// (or below), `os.TempDir()`, or a concatenation or join that starts with one.
    fn built_on_temp_dir(&self, x: ExprId) -> bool {
        let f = self.file;
        if let Some(s) = self.string_value(x) {
            let s = s
                .strip_prefix("/usr")
                .or_else(|| s.strip_prefix("/var"))
                .unwrap_or(&s);
            return s == "/tmp" || s.starts_with("/tmp/");
        }
        match f.expr(x) {
            Expr::Paren { x, .. } => self.built_on_temp_dir(*x),
            // The leftmost operand of a chain (found without recursion).
            Expr::Binary { .. } => self.built_on_temp_dir(operands(f, x)[0]),
            Expr::Call { fun, args, .. } => match self.callee(*fun) {
                Some(("os", "TempDir")) => true,
                Some(("path/filepath" | "path", "Join")) => f
                    .list(*args)
                    .first()
                    .is_some_and(|a| self.built_on_temp_dir(*a)),
                _ => false,
            },
            _ => false,
        }
    }

    fn is_clean_call(&self, x: ExprId) -> bool {
        matches!(self.file.expr(x), Expr::Call { fun, .. }
            if matches!(self.callee(*fun), Some(("path/filepath", "Clean" | "Rel" | "EvalSymlinks"))))
    }

    fn is_join_call(&self, x: ExprId) -> bool {
        matches!(self.file.expr(x), Expr::Call { fun, .. }
            if matches!(self.callee(*fun), Some(("path/filepath" | "path", "Join"))))
    }

    /// A variable not resolved to constants (gosec's `FindVarIdentities` test for one
    /// operand).
    fn unresolved_var(&self, x: ExprId) -> bool {
        self.is_var(x) && !self.resolves(self.index, x, 0)
    }

    /// Whether a `+` chain has an operand that is an unresolved variable (gosec's
    /// `FindVarIdentities`: the right operand of each link and the leftmost one).
    fn concat_has_var(&self, x: ExprId) -> bool {
        let f = self.file;
        let mut at = x;
        while let Expr::Binary { x: l, y, .. } = f.expr(at) {
            if self.unresolved_var(*y) {
                return true;
            }
            at = *l;
        }
        at != x && self.unresolved_var(at)
    }

    /// A join of a base directory (a literal or resolved name) and a cleaned path.
    fn is_safe_join(&self, join: ExprId) -> bool {
        let f = self.file;
        let Expr::Call { args, .. } = f.expr(join) else {
            return false;
        };
        let (mut base, mut cleaned) = (false, false);
        for &a in f.list(*args) {
            match f.expr(a) {
                Expr::BasicLit { .. } => base = true,
                Expr::Ident(id) => {
                    if self.resolves(self.index, a, 0) {
                        base = true;
                    } else if self
                        .frames
                        .last()
                        .map(|fr| &fr.cleaned)
                        .is_some_and(|c| c.contains(f.text(*id)))
                    {
                        cleaned = true;
                    }
                }
                Expr::Call { .. } if self.is_clean_call(a) => cleaned = true,
                _ => {}
            }
        }
        base && cleaned
    }

    /// G304 as gosec: the path is a variable not resolved to constants and not cleaned, a
    /// join with such a variable, or a concatenation with one.
    fn file_inclusion(&mut self, call: ExprId, arg: Option<ExprId>) {
        let f = self.file;
        let Some(a) = arg else { return };
        let report = match f.expr(a) {
            Expr::Call { args, .. } if self.is_join_call(a) => {
                !self.is_safe_join(a)
                    && f.list(*args).iter().any(|j| {
                        matches!(f.expr(*j), Expr::Binary { .. }) && self.concat_has_var(*j)
                            || matches!(f.expr(*j), Expr::Ident(_)) && self.unresolved_var(*j)
                    })
            }
            Expr::Ident(id) if self.is_var(a) => {
                let name = f.text(*id);
                let cleaned = self
                    .frames
                    .last()
                    .map(|fr| &fr.cleaned)
                    .is_some_and(|c| c.contains(name));
                match self
                    .frames
                    .last()
                    .map(|fr| &fr.joined)
                    .and_then(|j| j.get(name))
                    .copied()
                {
                    Some(join) => !cleaned && !self.is_safe_join(join),
                    None => !cleaned && !self.resolves(self.index, a, 0),
                }
            }
            Expr::Binary { .. } => self.concat_has_var(a),
            _ => false,
        };
        if report {
            self.expr_issue("G304", call, "Potential file inclusion via variable");
        }
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
            ("crypto/tls", "Config") => self.tls_config(x, &keys),
            _ => self.credential_fields(*elts),
        }
    }

    /// G101 on a composite literal, once, as gosec: a credential-like field name or string
    /// key given a high-entropy string, or a value in a secret format.
    fn credential_fields(&mut self, elts: ExprList) {
        let f = self.file;
        for &e in f.list(elts) {
            let Expr::KeyValue { key, value, .. } = f.expr(e) else {
                continue;
            };
            let named = match f.expr(*key) {
                Expr::Ident(k) => looks_like_credential(f.text(*k)),
                // The source text: the quotes do not change a match, and no copy is made.
                Expr::BasicLit {
                    span,
                    kind: Token::String,
                } => looks_like_credential(f.text(*span)),
                _ => false,
            };
            if named && string_lit(f, *value).is_some_and(|s| high_entropy(&s)) {
                self.issue(
                    "G101",
                    f.expr_pos(*key),
                    f.expr_end(*value),
                    "Potential hardcoded credentials",
                );
                return;
            }
            if self.secret_values(&[*value]) {
                return;
            }
        }
    }

    /// G402 on a `tls.Config` literal, once, as gosec: the first bad setting in order, else
    /// a version below TLS 1.2 (minimum) or 1.3 (maximum); 0 is Go's safe default.
    fn tls_config(&mut self, lit: ExprId, keys: &[(&str, ExprId)]) {
        let (mut min, mut max) = (None, None);
        for &(k, v) in keys {
            if self.tls_setting(k, v) {
                return;
            }
            match k {
                "MinVersion" => min = Some(self.tls_version(v).unwrap_or(0)),
                "MaxVersion" => max = Some(self.tls_version(v).unwrap_or(0)),
                _ => {}
            }
        }
        if let Some(v) = min
            && v != 0
            && v < 0x0303
        {
            self.expr_issue("G402", lit, "TLS MinVersion too low.");
        } else if let Some(v) = max
            && v != 0
            && v < 0x0304
        {
            self.expr_issue("G402", lit, "TLS MaxVersion too low.");
        }
    }

    /// G402 on one setting of a `tls.Config` (in a literal or assigned to a field); whether
    /// it reported.
    fn tls_setting(&mut self, key: &str, v: ExprId) -> bool {
        let (severity, wrong, sure, unsure) = match key {
            "InsecureSkipVerify" => (
                Level::High,
                true,
                "TLS InsecureSkipVerify set to true.",
                "TLS InsecureSkipVerify may be set to true.",
            ),
            "PreferServerCipherSuites" => (
                Level::Medium,
                false,
                "TLS PreferServerCipherSuites set to false.",
                "TLS PreferServerCipherSuites may be set to false.",
            ),
            "CipherSuites" => return self.cipher_suites(v),
            _ => return false,
        };
        let (start, end) = (self.file.expr_pos(v), self.file.expr_end(v));
        match self.bool_value(self.index, v, 0) {
            Some(b) if b == wrong => {
                self.issue_with("G402", start, end, sure, severity, Level::High);
                true
            }
            Some(_) => false,
            None => {
                self.issue_with("G402", start, end, unsure, severity, Level::Low);
                true
            }
        }
    }

    /// `true`, `false`, `!` of them, or a name declared with one.
    fn bool_value(&self, fi: usize, x: ExprId, depth: u8) -> Option<bool> {
        let f = &self.pkg.files[fi];
        // Parentheses and `!` peeled without recursion: they may nest as deep as the parser
        // allows.
        let (mut at, mut negated) = (x, false);
        loop {
            match f.expr(at) {
                Expr::Paren { x, .. } => at = *x,
                Expr::Unary {
                    op: Token::Not, x, ..
                } => {
                    negated = !negated;
                    at = *x;
                }
                _ => break,
            }
        }
        let value = match f.expr(at) {
            Expr::Ident(id) => match f.text(*id) {
                "true" if self.binding_in(fi, at).is_none() => Some(true),
                "false" if self.binding_in(fi, at).is_none() => Some(false),
                _ if depth < 8 => {
                    let (file, init) = self.definition(fi, at)?;
                    self.bool_value(file, init, depth + 1)
                }
                _ => None,
            },
            _ => None,
        };
        value.map(|b| b != negated)
    }

    /// G402 on `cfg.Field = value` where `cfg` is declared as a `tls.Config` value.
    fn tls_field_assign(&mut self, lhs: ExprId, rhs: ExprId) {
        let f = self.file;
        let Expr::Selector { x, sel, .. } = f.expr(lhs) else {
            return;
        };
        if !matches!(
            f.text(*sel),
            "InsecureSkipVerify" | "PreferServerCipherSuites" | "CipherSuites"
        ) {
            return;
        }
        let is_config = |t: ExprId| self.callee(t) == Some(("crypto/tls", "Config"));
        let typed = match self.binding_in(self.index, *x) {
            Some(Binding::Var { file, def, .. }) if file == self.index => match def {
                Def::Spec { decl, spec, .. } => match f.decl(decl) {
                    Decl::Gen { specs, .. } => matches!(&specs[spec as usize],
                        Spec::Value { typ: Some(t), .. } if is_config(*t)),
                    _ => false,
                },
                Def::Assign { .. } => self.def_values(file, def).1.is_some_and(|v| {
                    matches!(f.expr(v), Expr::CompositeLit { typ: Some(t), .. } if is_config(*t))
                }),
            },
            _ => false,
        };
        if typed {
            self.tls_setting(f.text(*sel), rhs);
        }
    }

    fn tls_version(&self, v: ExprId) -> Option<u64> {
        self.tls_version_in(self.index, v, 0)
    }

    fn tls_version_in(&self, fi: usize, v: ExprId, depth: u8) -> Option<u64> {
        let f = &self.pkg.files[fi];
        if fi == self.index
            && let Some((path, name)) = self.callee(v)
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
        if let Some(n) = int_lit(f, v) {
            return Some(n);
        }
        if depth < 4
            && matches!(f.expr(v), Expr::Ident(_))
            && let Some((file, init)) = self.definition(fi, v)
        {
            return self.tls_version_in(file, init, depth + 1);
        }
        None
    }

    /// The first cipher suite outside Mozilla's intermediate list, as gosec; whether one was.
    fn cipher_suites(&mut self, v: ExprId) -> bool {
        const GOOD: &[&str] = &[
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        ];
        let f = self.file;
        let Expr::CompositeLit { elts, .. } = f.expr(v) else {
            return false;
        };
        for &e in f.list(*elts) {
            if let Expr::Selector { sel, .. } = f.expr(e) {
                let suite = f.text(*sel);
                if !GOOD.contains(&suite) {
                    self.expr_issue("G402", e, format!("TLS Bad Cipher Suite: {suite}"));
                    return true;
                }
            }
        }
        false
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
                        && string_lit(f, b).is_some_and(|s| high_entropy(&s))
                    {
                        self.expr_issue("G101", x, "Potential hardcoded credentials");
                        return;
                    }
                }
                for v in [*l, *y] {
                    if let Some(s) = string_lit(f, v)
                        && high_entropy(&s)
                        && let Some(kind) = secret_pattern(&s)
                    {
                        self.expr_issue(
                            "G101",
                            x,
                            format!("Potential hardcoded credentials: {kind}"),
                        );
                        return;
                    }
                }
            }
            _ => {}
        }
    }
}

/// Nodes one "is this made of constants?" question may look at.
const RESOLVE_BUDGET: u32 = 20_000;

/// The operands of nested binary expressions, left to right, without recursion (a chain of
/// `+` may be as long as the file).
pub(crate) fn operands(f: &File, x: ExprId) -> Vec<ExprId> {
    let mut out = Vec::new();
    let mut stack = vec![x];
    while let Some(e) = stack.pop() {
        match f.expr(e) {
            Expr::Binary { x: l, y, .. } => {
                stack.push(*y);
                stack.push(*l);
            }
            _ => out.push(e),
        }
    }
    out
}

/// gosec's G404 lists.
fn weak_random(path: &str, name: &str) -> bool {
    const V1: &[&str] = &[
        "New",
        "Read",
        "ExpFloat64",
        "Float32",
        "Float64",
        "Int",
        "Int31",
        "Int31n",
        "Int63",
        "Int63n",
        "Intn",
        "NormFloat64",
        "Perm",
        "Shuffle",
        "Uint32",
        "Uint64",
    ];
    const V2: &[&str] = &[
        "New",
        "ExpFloat64",
        "Float32",
        "Float64",
        "Int",
        "Int32",
        "Int32N",
        "Int64",
        "Int64N",
        "IntN",
        "N",
        "NormFloat64",
        "Perm",
        "Shuffle",
        "Uint",
        "Uint32",
        "Uint32N",
        "Uint64",
        "Uint64N",
        "UintN",
    ];
    if path == "math/rand" {
        V1.contains(&name)
    } else {
        V2.contains(&name)
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
        ) | ("archive/zip", "NewReader")
            | ("archive/tar", "NewReader")
    )
}

impl<'a> Visitor for Checker<'a> {
    fn enter(&mut self, file: &File, node: Node, parent: Option<Node>) -> bool {
        // The walker hands back the file it was given: `self.file`, with our lifetime.
        let f: &'a File = self.file;
        debug_assert!(std::ptr::eq(file, f));
        let leave_work = match node {
            Node::Decl(d) => matches!(f.decl(d), Decl::Func { .. }),
            Node::Expr(x) => matches!(f.expr(x), Expr::FuncLit { .. }),
            Node::Spec(..) => !self.scopes.at_package_level(),
            Node::Stmt(s) => {
                let stmt = f.stmt(s);
                opens_scope(stmt)
                    || matches!(
                        stmt,
                        Stmt::Assign {
                            tok: Token::Define,
                            ..
                        }
                    )
            }
            _ => false,
        };
        if leave_work {
            self.leave_work.push(node);
        }
        match node {
            Node::Decl(d) => {
                if let Decl::Func {
                    recv, typ, body, ..
                } = f.decl(d)
                {
                    let mut names = field_names(f, *recv);
                    if let Expr::FuncType { params, .. } = f.expr(*typ) {
                        names.extend(field_names(f, Some(*params)));
                    }
                    self.enter_func(names, *body);
                }
            }
            Node::Spec(d, i) => self.spec(d, i),
            Node::Stmt(s) => self.enter_stmt(s),
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
                Expr::FuncLit { typ, body } => {
                    let names = match f.expr(*typ) {
                        Expr::FuncType { params, .. } => field_names(f, Some(*params)),
                        _ => Vec::new(),
                    };
                    self.enter_func(names, Some(*body));
                }
                Expr::Unary {
                    op: Token::And,
                    x: inner,
                    ..
                } if self.options.range_aliasing
                    // `return &v` inside the loop is fine: nothing outlives the iteration.
                    && !matches!(parent, Some(Node::Stmt(p)) if matches!(f.stmt(p), Stmt::Return { .. })) =>
                {
                    self.range_aliasing(x, *inner);
                }
                _ => {}
            },
            _ => {}
        }
        true
    }

    fn leave(&mut self, file: &File, node: Node, _parent: Option<Node>) {
        let f: &'a File = self.file;
        debug_assert!(std::ptr::eq(file, f));
        // Most nodes need nothing on the way out: one comparison says so.
        if self.leave_work.last() != Some(&node) {
            return;
        }
        self.leave_work.pop();
        match node {
            Node::Decl(d) => {
                if let Decl::Func { body, .. } = f.decl(d) {
                    self.leave_func(*body);
                }
            }
            Node::Expr(x) => {
                if let Expr::FuncLit { body, .. } = f.expr(x) {
                    self.leave_func(Some(*body));
                }
            }
            // A local `var`/`const` is in scope after its spec.
            Node::Spec(d, i) if !self.scopes.at_package_level() => {
                if let Decl::Gen { tok, specs, .. } = f.decl(d) {
                    let scopes = &mut self.scopes;
                    spec_bindings(
                        f,
                        self.index,
                        d,
                        i,
                        *tok,
                        &specs[i as usize],
                        false,
                        |n, b| scopes.declare(n, b),
                    );
                }
            }
            Node::Stmt(s) => {
                let stmt = f.stmt(s);
                if matches!(stmt, Stmt::Range { .. }) {
                    self.range_vars.pop();
                }
                if opens_scope(stmt) {
                    self.scopes.pop();
                }
                // Names defined by `:=` are in scope after the statement.
                for (index, id) in defined_names(f, stmt) {
                    self.scopes.declare(
                        f.text(id),
                        Binding::Var {
                            file: self.index,
                            def: Def::Assign { stmt: s, index },
                            package: false,
                        },
                    );
                }
            }
            _ => {}
        }
    }
}

impl<'a> Checker<'a> {
    fn enter_stmt(&mut self, s: StmtId) {
        let f: &'a File = self.file;
        let stmt = f.stmt(s);
        if opens_scope(stmt) {
            self.scopes.push();
        }
        if matches!(stmt, Stmt::Assign { .. } | Stmt::Expr(_)) {
            self.sql_sink(s);
        }
        match stmt {
            Stmt::Assign { .. } => self.assign(s),
            Stmt::Expr(x) => {
                if let Expr::Call { fun, .. } = f.expr(*x)
                    && self.error_position(*fun).is_some()
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
                let Stmt::Range { x, .. } = stmt else {
                    unreachable!()
                };
                if self.zip
                    && let Some(name) = var
                    && matches!(f.expr(*x), Expr::Selector { sel, .. } if f.text(*sel) == "File")
                    && let Some(z) = self.frames.last_mut().map(|fr| &mut fr.zip_entries)
                {
                    z.insert(name);
                }
                self.range_vars
                    .push(var.map(|v| (v, self.elements_are_pointers(*x))));
                if *tok == Token::Define {
                    for v in key.iter().chain(value.iter()) {
                        if let Expr::Ident(id) = f.expr(*v) {
                            self.scopes.declare(f.text(*id), Binding::Opaque);
                        }
                    }
                }
            }
            Stmt::TypeSwitch { assign, .. } => {
                if let Stmt::Assign { lhs, .. } = f.stmt(*assign) {
                    for l in f.list(*lhs) {
                        if let Expr::Ident(id) = f.expr(*l) {
                            self.scopes.declare(f.text(*id), Binding::Opaque);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// G601: `&v`, or `&v.field` when the elements are not pointers, of a range value
    /// variable `v`.
    fn range_aliasing(&mut self, x: ExprId, inner: ExprId) {
        let f = self.file;
        let mut target = inner;
        let mut selected = false;
        while let Expr::Selector { x, .. } = f.expr(target) {
            target = *x;
            selected = true;
        }
        let Expr::Ident(id) = f.expr(target) else {
            return;
        };
        let name = f.text(*id);
        let Some(&Some((_, pointers))) = self
            .range_vars
            .iter()
            .rev()
            .find(|v| v.is_some_and(|(n, _)| n == name))
        else {
            return;
        };
        if !selected || pointers == Some(false) {
            self.expr_issue("G601", x, "Implicit memory aliasing in for loop.");
        }
    }

    /// Whether the elements of a ranged-over slice, array or map are pointers, when its
    /// type is written in its literal or declaration.
    fn elements_are_pointers(&self, x: ExprId) -> Option<bool> {
        let f = self.file;
        let typ = match f.expr(x) {
            Expr::CompositeLit { typ: Some(t), .. } => *t,
            Expr::Ident(_) => match self.binding_in(self.index, x)? {
                Binding::Var { file, def, .. } if file == self.index => {
                    let declared = match def {
                        Def::Spec { decl, spec, .. } => match f.decl(decl) {
                            Decl::Gen { specs, .. } => match &specs[spec as usize] {
                                Spec::Value { typ, .. } => *typ,
                                _ => None,
                            },
                            _ => None,
                        },
                        Def::Assign { .. } => None,
                    };
                    match declared {
                        Some(t) => t,
                        None => match f.expr(self.def_values(file, def).1?) {
                            Expr::CompositeLit { typ: Some(t), .. } => *t,
                            _ => return None,
                        },
                    }
                }
                _ => return None,
            },
            _ => return None,
        };
        match f.expr(typ) {
            Expr::ArrayType { elt, .. } | Expr::MapType { value: elt, .. } => {
                Some(matches!(f.expr(*elt), Expr::Star { .. }))
            }
            _ => None,
        }
    }

    /// What `name` is bound to here: a local, else a top-level name of the package.
    fn binding(&self, name: &str) -> Option<Binding> {
        self.scopes
            .lookup(name)
            .or_else(|| self.globals.get(name).copied())
            .or_else(|| self.scopes.lookup_declared(name))
    }

    /// The binding of an identifier expression of file `fi` (locals only in the file being
    /// walked).
    fn binding_in(&self, fi: usize, x: ExprId) -> Option<Binding> {
        let f = &self.pkg.files[fi];
        let Expr::Ident(id) = f.expr(x) else {
            return None;
        };
        let name = f.text(*id);
        if fi == self.index {
            self.binding(name)
        } else {
            self.globals.get(name).copied()
        }
    }

    /// The right-hand sides of a variable's declaration, and which one is its own (`None`
    /// when one call gives several names their values).
    fn def_values(&self, fi: usize, def: Def) -> (&'a [ExprId], Option<ExprId>) {
        let f: &'a File = &self.pkg.files[fi];
        let (names, values, index) = match def {
            Def::Assign { stmt, index } => match f.stmt(stmt) {
                Stmt::Assign { lhs, rhs, .. } => (f.list(*lhs).len(), f.list(*rhs), index),
                _ => return (&[], None),
            },
            Def::Spec { decl, spec, index } => match f.decl(decl) {
                Decl::Gen { specs, .. } => match &specs[spec as usize] {
                    Spec::Value { names, values, .. } => (names.len(), f.list(*values), index),
                    _ => return (&[], None),
                },
                _ => return (&[], None),
            },
        };
        let own = if values.len() == names {
            values.get(index).copied()
        } else {
            None
        };
        (values, own)
    }

    /// gosec's `TryResolve`: whether an expression of file `fi` is made of literals,
    /// constants and variables whose declarations are (their later assignments are not
    /// looked at, as gosec does not).
    fn resolves(&self, fi: usize, x: ExprId, depth: u8) -> bool {
        if depth == 0 {
            self.budget.set(RESOLVE_BUDGET);
        }
        self.resolve_step(fi, x, depth)
    }

    fn resolve_step(&self, fi: usize, x: ExprId, depth: u8) -> bool {
        // Bounded work whatever the input: nesting, and nodes looked at per question.
        let left = self.budget.get();
        if depth > 32 || left == 0 {
            return false;
        }
        self.budget.set(left - 1);
        let f: &'a File = &self.pkg.files[fi];
        match f.expr(x) {
            Expr::BasicLit { .. } => true,
            Expr::Paren { x, .. } => self.resolve_step(fi, *x, depth + 1),
            Expr::CompositeLit { elts, .. } => {
                let elts = f.list(*elts);
                !elts.is_empty() && elts.iter().all(|e| self.resolve_step(fi, *e, depth + 1))
            }
            Expr::KeyValue { key, value, .. } => {
                self.resolve_step(fi, *key, depth + 1) && self.resolve_step(fi, *value, depth + 1)
            }
            // A chain of any length, flat.
            Expr::Binary { .. } => operands(f, x)
                .iter()
                .all(|o| self.resolve_step(fi, *o, depth + 1)),
            Expr::Index { x, .. } | Expr::Slice { x, .. } => self.resolve_step(fi, *x, depth + 1),
            Expr::Call { .. } => fi == self.index && self.builder_is_constant(x, depth + 1),
            Expr::Ident(_) => match self.binding_in(fi, x) {
                Some(Binding::Var { file, def, .. }) => {
                    // Once a declaration: a chain of names using names is not re-walked.
                    if let Some(&known) = self.resolved.borrow().get(&(file, def)) {
                        return known;
                    }
                    // A declaration reached again while being decided (a cycle) does not
                    // resolve.
                    self.resolved.borrow_mut().insert((file, def), false);
                    let (values, _) = self.def_values(file, def);
                    let known = !values.is_empty()
                        && values
                            .iter()
                            .all(|v| self.resolve_step(file, *v, depth + 1));
                    self.resolved.borrow_mut().insert((file, def), known);
                    known
                }
                Some(Binding::Param | Binding::Opaque) => false,
                _ => true,
            },
            _ => false,
        }
    }

    /// The expression a constant or variable identifier was declared with (gosec's
    /// `findDefinition`), in the file it is in.
    fn definition(&self, fi: usize, x: ExprId) -> Option<(usize, ExprId)> {
        match self.binding_in(fi, x)? {
            Binding::Const { file, value } => value.map(|v| (file, v)),
            Binding::Var { file, def, .. } => self.def_values(file, def).1.map(|v| (file, v)),
            _ => None,
        }
    }

    /// Whether `x` is an identifier bound to a variable.
    fn is_var(&self, x: ExprId) -> bool {
        self.binding_in(self.index, x).is_some_and(Binding::is_var)
    }
}

impl<'a> Checker<'a> {
    fn enter_func(&mut self, params: Vec<&'a str>, body: Option<StmtId>) {
        if let Some(b) = body {
            self.bodies.push(b);
        }
        self.frames.push(Frame::default());
        self.scopes.push_function();
        for p in params {
            self.scopes.declare(p, Binding::Param);
        }
    }

    fn leave_func(&mut self, body: Option<StmtId>) {
        if body.is_some() {
            self.bodies.pop();
        }
        self.frames.pop();
        self.scopes.pop_function();
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
        assert!(sql::sql_like("SELECT * FROM t WHERE id = %s"));
        assert!(sql::sql_like("  select x from t"));
        assert!(sql::sql_like("name = %s WHERE\tx"));
        assert!(!sql::sql_like("Selection %s"));
        assert!(!sql::sql_like("SELECT"));
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
