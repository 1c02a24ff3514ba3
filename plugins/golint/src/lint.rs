//! golint's checks over one package's syntax trees.

use std::collections::{HashMap, HashSet};

use go_check::{Package, span};
use go_syntax::ast::*;
use go_syntax::token::{Pos, Token};
use go_syntax::walk::{Node, Visitor, walk};
use sluice_sdk::{Finding, Severity};

/// What the checks need to know of the package beyond one file.
pub struct PackageFacts {
    /// The package's name, as golint qualifies the package's types in messages (it type-checks
    /// a package under its name, so `foo.hidden`, not the import path).
    pub package_name: String,
}

const COMMON_INITIALISMS: &[&str] = &[
    "ACL", "API", "ASCII", "CPU", "CSS", "DNS", "EOF", "GUID", "HTML", "HTTP", "HTTPS", "ID", "IP",
    "JSON", "LHS", "QPS", "RAM", "RHS", "RPC", "SLA", "SMTP", "SQL", "SSH", "TCP", "TLS", "TTL",
    "UDP", "UI", "UID", "UUID", "URI", "URL", "UTF8", "VM", "XML", "XMPP", "XSRF", "XSS",
];

const COMMON_METHODS: &[&str] = &["Error", "Read", "ServeHTTP", "String", "Write", "Unwrap"];

const TIME_SUFFIXES: &[&str] = &[
    "Hour",
    "Hours",
    "Min",
    "Mins",
    "Minutes",
    "Minute",
    "Sec",
    "Secs",
    "Seconds",
    "Msec",
    "Msecs",
    "Milli",
    "Millis",
    "Milliseconds",
    "Usec",
    "Usecs",
    "Microseconds",
    "MS",
    "Ms",
];

/// golint's `lintName`: what a name should be, with initialisms upper-cased and underscores
/// removed.
pub fn lint_name(name: &str) -> String {
    if name == "_" || name.chars().all(char::is_lowercase) {
        return name.to_string();
    }
    let mut runes: Vec<char> = name.chars().collect();
    let (mut w, mut i) = (0usize, 0usize);
    while i < runes.len() {
        let mut eow = false;
        if i + 1 == runes.len() {
            eow = true;
        } else if runes[i + 1] == '_' {
            eow = true;
            let mut n = 1;
            while i + n + 1 < runes.len() && runes[i + n + 1] == '_' {
                n += 1;
            }
            if i + n + 1 < runes.len()
                && runes[i].is_ascii_digit()
                && runes[i + n + 1].is_ascii_digit()
            {
                n -= 1;
            }
            runes.drain(i + 1..i + 1 + n);
        } else if runes[i].is_lowercase() && !runes[i + 1].is_lowercase() {
            eow = true;
        }
        i += 1;
        if !eow {
            continue;
        }
        let word: String = runes[w..i].iter().collect();
        let upper = word.to_uppercase();
        if COMMON_INITIALISMS.contains(&upper.as_str()) {
            let replacement = if w == 0 && runes[w].is_lowercase() {
                upper.to_lowercase()
            } else {
                upper
            };
            for (k, c) in replacement.chars().enumerate() {
                runes[w + k] = c;
            }
        } else if w > 0 && word.to_lowercase() == word {
            runes[w] = runes[w].to_uppercase().next().unwrap_or(runes[w]);
        }
        w = i;
    }
    runes.into_iter().collect()
}

fn is_exported(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

/// The receiver's base type name of a method (`T` for `t *T`, `T[K]`).
fn receiver_type(file: &File, recv: FieldListId) -> Option<&str> {
    let field = file.fields(recv).list.first()?;
    let mut x = field.typ;
    loop {
        x = match file.expr(x) {
            Expr::Star { x, .. } | Expr::Paren { x, .. } => *x,
            Expr::Index { x, .. } | Expr::IndexList { x, .. } => *x,
            Expr::Ident(id) => return Some(file.text(*id)),
            _ => return None,
        };
    }
}

/// Whether `x` is `pkg.name` with `pkg` an import of `path` named as usual.
fn is_pkg_dot(file: &File, x: ExprId, pkg: &str, name: &str) -> bool {
    if let Expr::Selector { x, sel } = file.expr(x)
        && let Expr::Ident(p) = file.expr(*x)
    {
        return file.text(*p) == pkg && file.text(*sel) == name;
    }
    false
}

fn is_ident(file: &File, x: ExprId, name: &str) -> bool {
    matches!(file.expr(x), Expr::Ident(id) if file.text(*id) == name)
}

/// Checks one package. Every finding carries golint's confidence: the plugin filters on it.
pub fn lint_package(pkg: &Package, facts: &PackageFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    let main = pkg.name == "main";
    // Generated files are not linted, nor looked at for package-wide facts (as golint).
    let files: Vec<&File> = pkg
        .files
        .iter()
        .filter(|f| !go_check::is_generated(f))
        .collect();

    // Package-wide facts: sortable types, unexported types, receivers in file order.
    let mut methods: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut unexported_types: HashSet<&str> = HashSet::new();
    for file in &files {
        for &d in &file.decls {
            match file.decl(d) {
                Decl::Func {
                    recv: Some(r),
                    name,
                    ..
                } => {
                    if let Some(t) = receiver_type(file, *r) {
                        methods.entry(t).or_default().insert(file.text(*name));
                    }
                }
                Decl::Gen {
                    tok: Token::Type,
                    specs,
                    ..
                } => {
                    // Aliases count by their own name (`type b = A` is unexported), as the
                    // name is what a caller has to write.
                    for s in specs {
                        if let Spec::Type { name, .. } = s
                            && !is_exported(file.text(*name))
                        {
                            unexported_types.insert(file.text(*name));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let sortable = |t: &str| {
        methods
            .get(t)
            .is_some_and(|m| ["Len", "Less", "Swap"].iter().all(|n| m.contains(n)))
    };

    // Package comment: present in some non-test file.
    let non_test: Vec<&File> = files.iter().copied().filter(|f| !is_test(f)).collect();
    if let Some(first) = non_test.first()
        && non_test.iter().all(|f| f.doc.is_none())
        && !non_test
            .iter()
            .any(|f| detached_package_comment(f).is_some())
    {
        out.push(problem(
            first,
            "package-comments",
            1.0,
            first.package,
            Pos(first.package_name.end),
            // golint's words; here no file of the package has one.
            "should have a package comment, unless it's in another file for this package".into(),
        ));
    }

    let mut receivers: HashMap<String, String> = HashMap::new();
    for file in files {
        let mut l = FileLint {
            file,
            main,
            test: is_test(file),
            out: &mut out,
            ignore_else: HashSet::new(),
            testing_t: Vec::new(),
        };
        l.package_comment();
        l.package_name();
        l.imports();
        if !l.test {
            l.exported(&sortable);
        }
        l.toplevel(facts, &unexported_types, &mut receivers);
        walk(file, &mut l);
    }
    out
}

fn is_test(file: &File) -> bool {
    file.name.ends_with("_test.go")
}

/// A comment group starting with "Package <name> " before the package clause, separated
/// from it by a blank line: the line after the group.
fn detached_package_comment(file: &File) -> Option<u32> {
    let prefix = format!("Package {} ", file.package_name());
    let last = (0..file.comments.len())
        .take_while(|&i| {
            file.comments[i]
                .list
                .first()
                .is_some_and(|c| c.pos < file.package)
        })
        .last()?;
    let id = CommentGroupId(last as u32);
    if !file.comment_text(id).starts_with(&prefix) {
        return None;
    }
    let end = file.comment_group(id).list.last()?.end;
    let end_line = file.position(Pos(end.saturating_sub(1))).line;
    (end_line + 1 < file.position(file.package).line).then_some(end_line + 1)
}

fn problem(
    file: &File,
    rule: &'static str,
    confidence: f32,
    start: Pos,
    end: Pos,
    message: String,
) -> Finding {
    Finding::new(rule, Severity::Warning, message)
        .at(span(file, start, end))
        .confidence(confidence)
}

struct FileLint<'a> {
    file: &'a File,
    main: bool,
    test: bool,
    out: &'a mut Vec<Finding>,
    ignore_else: HashSet<StmtId>,
    /// Per enclosing function, its parameters declared `*testing.T`.
    testing_t: Vec<Vec<&'a str>>,
}

impl<'a> FileLint<'a> {
    /// The parameters of a function type declared `*testing.T`.
    fn testing_params(&self, typ: ExprId) -> Vec<&'a str> {
        let f: &'a File = self.file;
        let Expr::FuncType { params, .. } = f.expr(typ) else {
            return Vec::new();
        };
        f.fields(*params)
            .list
            .iter()
            .filter(|p| matches!(f.expr(p.typ), Expr::Star { x, .. } if is_pkg_dot(f, *x, "testing", "T")))
            .flat_map(|p| p.names.iter().map(|n| f.text(*n)))
            .collect()
    }
}

impl FileLint<'_> {
    fn report(&mut self, rule: &'static str, confidence: f32, start: Pos, end: Pos, msg: String) {
        self.out
            .push(problem(self.file, rule, confidence, start, end, msg));
    }

    fn report_ident(&mut self, rule: &'static str, confidence: f32, id: Ident, msg: String) {
        self.report(rule, confidence, id.pos, Pos(id.end), msg);
    }

    fn group_span(&self, g: CommentGroupId) -> (Pos, Pos) {
        let list = &self.file.comment_group(g).list;
        (list[0].pos, Pos(list[list.len() - 1].end))
    }

    fn package_comment(&mut self) {
        let f = self.file;
        if self.test {
            return;
        }
        if let Some(line) = detached_package_comment(f) {
            let pos = f.lines.line_start(line).unwrap_or(f.package);
            self.report(
                "package-comments",
                0.9,
                pos,
                Pos(pos.0 + 1),
                "package comment is detached; there should be no blank lines between it and the package statement".into(),
            );
            return;
        }
        let Some(doc) = f.doc else { return };
        let mut text = f.comment_text(doc);
        let (start, end) = self.group_span(doc);
        let trimmed = text.trim_start_matches([' ', '\t']).to_string();
        if trimmed != text {
            self.report(
                "package-comments",
                1.0,
                start,
                end,
                "package comment should not have leading space".into(),
            );
            text = trimmed;
        }
        let prefix = format!("Package {} ", f.package_name());
        if !self.main && !text.starts_with(&prefix) {
            self.report(
                "package-comments",
                1.0,
                start,
                end,
                format!("package comment should be of the form \"{prefix}...\""),
            );
        }
    }

    fn package_name(&mut self) {
        let f = self.file;
        let name = f.package_name();
        if name.contains('_') && !name.ends_with("_test") {
            self.report(
                "var-naming",
                1.0,
                f.package,
                Pos(f.package_name.end),
                "don't use an underscore in package name".into(),
            );
        }
        if name.chars().any(char::is_uppercase) {
            self.report(
                "var-naming",
                1.0,
                f.package,
                Pos(f.package_name.end),
                format!(
                    "don't use MixedCaps in package name; {name} should be {}",
                    name.to_lowercase()
                ),
            );
        }
    }

    fn imports(&mut self) {
        let f = self.file;
        let mut prev_blank_line: Option<u32> = None;
        for s in f.import_specs() {
            let Spec::Import {
                doc,
                name,
                path,
                comment,
            } = s
            else {
                continue;
            };
            let start = name.map_or_else(|| f.expr_pos(*path), |n| n.pos);
            let end = f.expr_end(*path);
            let line = f.position(start).line;
            let name_text = name.map(|n| f.text(n));
            if name_text == Some(".") && !self.test {
                self.report(
                    "dot-imports",
                    1.0,
                    start,
                    end,
                    "should not use dot imports".into(),
                );
            }
            if name_text == Some("_") {
                let in_run = prev_blank_line.is_some_and(|p| p + 1 == line);
                prev_blank_line = Some(line);
                if !self.main && !self.test && !in_run && doc.is_none() && comment.is_none() {
                    self.report(
                            "blank-imports",
                            1.0,
                            start,
                            end,
                            "a blank import should be only in a main or test package, or have a comment justifying it".into(),
                        );
                }
            } else {
                prev_blank_line = None;
            }
        }
    }

    fn exported(&mut self, sortable: &dyn Fn(&str) -> bool) {
        let f = self.file;
        for &d in &f.decls {
            match f.decl(d) {
                Decl::Func {
                    doc,
                    recv,
                    name,
                    pos,
                    ..
                } => {
                    self.func_doc(*doc, *recv, *name, *pos, sortable);
                    if recv.is_none() {
                        self.stutter(*name, "func");
                    }
                }
                Decl::Gen {
                    doc,
                    tok,
                    lparen,
                    specs,
                    ..
                } => {
                    let mut flagged_missing = false;
                    for s in specs {
                        match s {
                            Spec::Type {
                                doc: tdoc, name, ..
                            } => {
                                self.type_doc(tdoc.or(*doc), *name);
                                self.stutter(*name, "type");
                            }
                            Spec::Value {
                                doc: vdoc, names, ..
                            } => {
                                let kind = if *tok == Token::Const { "const" } else { "var" };
                                self.value_doc(
                                    kind,
                                    *vdoc,
                                    *doc,
                                    lparen.is_some(),
                                    names,
                                    &mut flagged_missing,
                                );
                            }
                            Spec::Import { .. } => {}
                        }
                    }
                }
            }
        }
    }

    fn func_doc(
        &mut self,
        doc: Option<CommentGroupId>,
        recv: Option<FieldListId>,
        name: Ident,
        pos: Pos,
        sortable: &dyn Fn(&str) -> bool,
    ) {
        let f = self.file;
        let fname = f.text(name);
        if !is_exported(fname) {
            return;
        }
        let mut kind = "function";
        let mut full = fname.to_string();
        if let Some(r) = recv
            && !f.fields(r).list.is_empty()
        {
            kind = "method";
            let Some(rt) = receiver_type(f, r) else {
                return;
            };
            if !is_exported(rt) || COMMON_METHODS.contains(&fname) {
                return;
            }
            if matches!(fname, "Len" | "Less" | "Swap") && sortable(rt) {
                return;
            }
            full = format!("{rt}.{fname}");
        }
        match doc {
            None => self.report(
                "exported",
                1.0,
                pos,
                Pos(name.end),
                format!("exported {kind} {full} should have comment or be unexported"),
            ),
            Some(doc) => {
                let prefix = format!("{fname} ");
                if !f.comment_text(doc).starts_with(&prefix) {
                    let (s, e) = self.group_span(doc);
                    self.report(
                        "exported",
                        1.0,
                        s,
                        e,
                        format!(
                            "comment on exported {kind} {full} should be of the form \"{prefix}...\""
                        ),
                    );
                }
            }
        }
    }

    fn type_doc(&mut self, doc: Option<CommentGroupId>, name: Ident) {
        let f = self.file;
        let tname = f.text(name);
        if !is_exported(tname) {
            return;
        }
        let Some(doc) = doc else {
            self.report_ident(
                "exported",
                1.0,
                name,
                format!("exported type {tname} should have comment or be unexported"),
            );
            return;
        };
        let text = f.comment_text(doc);
        let mut s = text.as_str();
        for article in ["A ", "An ", "The "] {
            if let Some(rest) = s.strip_prefix(article) {
                s = rest;
                break;
            }
        }
        if !s.starts_with(&format!("{tname} ")) {
            let (st, e) = self.group_span(doc);
            self.report(
                "exported",
                1.0,
                st,
                e,
                format!("comment on exported type {tname} should be of the form \"{tname} ...\" (with optional leading article)"),
            );
        }
    }

    fn value_doc(
        &mut self,
        kind: &str,
        vdoc: Option<CommentGroupId>,
        gdoc: Option<CommentGroupId>,
        parens: bool,
        names: &[Ident],
        flagged_missing: &mut bool,
    ) {
        let f = self.file;
        if names.len() > 1 {
            for n in &names[1..] {
                if is_exported(f.text(*n)) {
                    self.report(
                        "exported",
                        1.0,
                        names[0].pos,
                        Pos(names[names.len() - 1].end),
                        format!(
                            "exported {kind} {} should have its own declaration",
                            f.text(*n)
                        ),
                    );
                    return;
                }
            }
        }
        let name = f.text(names[0]);
        if !is_exported(name) {
            return;
        }
        if vdoc.is_none() && gdoc.is_none() {
            if *flagged_missing {
                return;
            }
            let block = if kind == "const" && parens {
                " (or a comment on this block)"
            } else {
                ""
            };
            self.report_ident(
                "exported",
                1.0,
                names[0],
                format!("exported {kind} {name} should have comment{block} or be unexported"),
            );
            *flagged_missing = true;
            return;
        }
        if parens && gdoc.is_some() {
            return;
        }
        let doc = vdoc.or(gdoc).expect("one is set");
        let prefix = format!("{name} ");
        if !f.comment_text(doc).starts_with(&prefix) {
            let (s, e) = self.group_span(doc);
            self.report(
                "exported",
                1.0,
                s,
                e,
                format!("comment on exported {kind} {name} should be of the form \"{prefix}...\""),
            );
        }
    }

    fn stutter(&mut self, id: Ident, thing: &str) {
        let f = self.file;
        let (pkg, name) = (f.package_name(), f.text(id));
        if !is_exported(name) || name.len() <= pkg.len() || !name.is_char_boundary(pkg.len()) {
            return;
        }
        if !pkg.eq_ignore_ascii_case(&name[..pkg.len()]) {
            return;
        }
        let rem = &name[pkg.len()..];
        if rem.starts_with('_') || rem.chars().next().is_some_and(char::is_uppercase) {
            self.report_ident(
                "exported",
                0.8,
                id,
                format!("{thing} name will be used as {pkg}.{name} by other packages, and that stutters; consider calling this {rem}"),
            );
        }
    }

    /// Checks of top-level declarations that golint makes with type information or per
    /// declaration: receiver names, error variables, error-return order, context order,
    /// unexported returns.
    fn toplevel(
        &mut self,
        facts: &PackageFacts,
        unexported_types: &HashSet<&str>,
        receivers: &mut HashMap<String, String>,
    ) {
        let f = self.file;
        for &d in &f.decls {
            match f.decl(d) {
                Decl::Gen {
                    tok: Token::Var,
                    specs,
                    ..
                } => {
                    for s in specs {
                        let Spec::Value { names, values, .. } = s else {
                            continue;
                        };
                        let values = f.list(*values);
                        if names.len() != 1 || values.len() != 1 {
                            continue;
                        }
                        let Expr::Call { fun, .. } = f.expr(values[0]) else {
                            continue;
                        };
                        if !is_pkg_dot(f, *fun, "errors", "New")
                            && !is_pkg_dot(f, *fun, "fmt", "Errorf")
                        {
                            continue;
                        }
                        let name = f.text(names[0]);
                        let prefix = if is_exported(name) { "Err" } else { "err" };
                        if !name.starts_with(prefix) {
                            self.report_ident(
                                "error-naming",
                                0.9,
                                names[0],
                                format!(
                                    "error var {name} should have name of the form {prefix}Foo"
                                ),
                            );
                        }
                    }
                }
                Decl::Func {
                    recv,
                    name,
                    typ,
                    pos,
                    ..
                } => {
                    let Expr::FuncType {
                        params, results, ..
                    } = f.expr(*typ)
                    else {
                        continue;
                    };
                    let head_end = Pos(name.end);
                    if let Some(r) = recv {
                        self.receiver_name(*r, *pos, head_end, receivers);
                    }
                    if let Some(res) = results {
                        let rets = &f.fields(*res).list;
                        if rets.len() > 1
                            && !is_ident(f, rets[rets.len() - 1].typ, "error")
                            && rets[..rets.len() - 1]
                                .iter()
                                .any(|r| is_ident(f, r.typ, "error"))
                        {
                            self.report(
                                "error-return",
                                0.9,
                                *pos,
                                head_end,
                                "error should be the last type when returning multiple items"
                                    .into(),
                            );
                        }
                        self.unexported_return(facts, unexported_types, *recv, *name, *res);
                    }
                    let ps = &f.fields(*params).list;
                    if ps.len() > 1
                        && ps[1..]
                            .iter()
                            .any(|p| is_pkg_dot(f, p.typ, "context", "Context"))
                    {
                        self.report(
                            "context-as-argument",
                            0.9,
                            *pos,
                            head_end,
                            "context.Context should be the first parameter of a function".into(),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn receiver_name(
        &mut self,
        recv: FieldListId,
        start: Pos,
        end: Pos,
        receivers: &mut HashMap<String, String>,
    ) {
        let f = self.file;
        let Some(field) = f.fields(recv).list.first() else {
            return;
        };
        let Some(id) = field.names.first() else {
            return;
        };
        let name = f.text(*id);
        if name == "_" {
            self.report(
                "receiver-naming",
                1.0,
                start,
                end,
                "receiver name should not be an underscore, omit the name if it is unused".into(),
            );
            return;
        }
        if name == "this" || name == "self" {
            self.report(
                "receiver-naming",
                1.0,
                start,
                end,
                "receiver name should be a reflection of its identity; don't use generic names such as \"this\" or \"self\"".into(),
            );
            return;
        }
        let Some(recv_type) = receiver_type(f, recv) else {
            return;
        };
        match receivers.get(recv_type) {
            Some(prev) if prev != name => {
                let msg = format!(
                    "receiver name {name} should be consistent with previous receiver name {prev} for {recv_type}"
                );
                self.report("receiver-naming", 1.0, start, end, msg);
            }
            Some(_) => {}
            None => {
                receivers.insert(recv_type.to_string(), name.to_string());
            }
        }
    }

    fn unexported_return(
        &mut self,
        facts: &PackageFacts,
        unexported_types: &HashSet<&str>,
        recv: Option<FieldListId>,
        name: Ident,
        results: FieldListId,
    ) {
        let f = self.file;
        let fname = f.text(name);
        if !is_exported(fname) {
            return;
        }
        let mut thing = "func";
        if let Some(r) = recv {
            thing = "method";
            if !receiver_type(f, r).is_some_and(is_exported) {
                return;
            }
        }
        for ret in &f.fields(results).list {
            let (star, base) = match f.expr(ret.typ) {
                Expr::Star { x, .. } => ("*", *x),
                _ => ("", ret.typ),
            };
            let Expr::Ident(id) = f.expr(base) else {
                continue;
            };
            let tname = f.text(*id);
            if unexported_types.contains(tname) {
                let start = f.expr_pos(ret.typ);
                let end = f.expr_end(ret.typ);
                self.report(
                    "unexported-return",
                    0.8,
                    start,
                    end,
                    format!(
                        "exported {thing} {fname} returns unexported type {star}{}.{tname}, which can be annoying to use",
                        facts.package_name
                    ),
                );
                break;
            }
        }
    }

    fn check_name(&mut self, id: Ident, thing: &str) {
        self.check_name_at(id, thing, false);
    }

    /// `top_level`: a declaration of the file's (golint's leading-k check looks only at
    /// constants and top-level variables).
    fn check_name_at(&mut self, id: Ident, thing: &str, top_level: bool) {
        let name = self.file.text(id);
        if name == "_" || name == "LastInsertId" || name == "kWh" {
            return;
        }
        let b = name.as_bytes();
        if name.len() >= 5
            && b.iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
            && name.contains('_')
            && b.iter().filter(|c| c.is_ascii_uppercase()).count() >= 2
        {
            self.report_ident(
                "var-naming",
                0.8,
                id,
                "don't use ALL_CAPS in Go names; use CamelCase".into(),
            );
            return;
        }
        if (thing == "const" || (thing == "var" && top_level))
            && b.len() > 2
            && b[0] == b'k'
            && b[1].is_ascii_uppercase()
        {
            let should = format!("{}{}", (b[1] as char).to_ascii_lowercase(), &name[2..]);
            self.report_ident(
                "var-naming",
                0.8,
                id,
                format!("don't use leading k in Go names; {thing} {name} should be {should}"),
            );
        }
        let should = lint_name(name);
        if should == name {
            return;
        }
        if name.len() > 2 && name[1..].contains('_') {
            self.report_ident(
                "var-naming",
                0.9,
                id,
                format!("don't use underscores in Go names; {thing} {name} should be {should}"),
            );
            return;
        }
        self.report_ident(
            "var-naming",
            0.8,
            id,
            format!("{thing} {name} should be {should}"),
        );
    }

    fn check_fields(&mut self, list: Option<FieldListId>, thing: &str) {
        let Some(l) = list else { return };
        let names: Vec<Ident> = self
            .file
            .fields(l)
            .list
            .iter()
            .flat_map(|f| f.names.iter().copied())
            .collect();
        for n in names {
            self.check_name(n, thing);
        }
    }

    fn names_in_decl(&mut self, d: DeclId) {
        let f = self.file;
        match f.decl(d) {
            Decl::Func {
                recv, name, typ, ..
            } => {
                let fname = f.text(*name);
                if self.test
                    && (fname.starts_with("Example")
                        || fname.starts_with("Test")
                        || fname.starts_with("Benchmark"))
                {
                    return;
                }
                let thing = if recv.is_some() { "method" } else { "func" };
                if is_exported(fname) || !self.cgo_exported(d) {
                    self.check_name(*name, thing);
                }
                if let Expr::FuncType {
                    params, results, ..
                } = f.expr(*typ)
                {
                    self.check_fields(Some(*params), &format!("{thing} parameter"));
                    self.check_fields(*results, &format!("{thing} result"));
                }
            }
            Decl::Gen { tok, specs, .. } => {
                let thing = match tok {
                    Token::Const => "const",
                    Token::Type => "type",
                    Token::Var => "var",
                    _ => return,
                };
                let top_level = f.decls.contains(&d);
                for s in specs {
                    match s {
                        Spec::Type { name, .. } => self.check_name(*name, thing),
                        Spec::Value {
                            names, typ, values, ..
                        } => {
                            for n in names {
                                self.check_name_at(*n, thing, top_level);
                            }
                            self.time_names(names, *typ, f.list(*values));
                        }
                        Spec::Import { .. } => {}
                    }
                }
            }
        }
    }

    /// `//export name` right above the function (cgo).
    fn cgo_exported(&self, d: DeclId) -> bool {
        let f = self.file;
        let Decl::Func { doc: Some(doc), .. } = f.decl(d) else {
            return false;
        };
        f.comment_group(*doc)
            .list
            .iter()
            .any(|c| f.text(*c).starts_with("//export "))
    }

    /// golint's time-naming check: a `var` of type `time.Duration` or `*time.Duration`, as
    /// written or as its value shows (`5 * time.Second`, `flag.Duration(...)`).
    fn time_names(&mut self, names: &[Ident], typ: Option<ExprId>, values: &[ExprId]) {
        let f = self.file;
        let declared = typ.map(|t| match f.expr(t) {
            Expr::Star { x, .. } => ("*", is_pkg_dot(f, *x, "time", "Duration")),
            _ => ("", is_pkg_dot(f, t, "time", "Duration")),
        });
        for (i, n) in names.iter().enumerate() {
            let star = match declared {
                Some((star, true)) => star,
                Some((_, false)) => continue,
                None if values.len() == names.len() => match duration_kind(f, values[i], 0) {
                    Some(star) => star,
                    None => continue,
                },
                None => continue,
            };
            let n = &n;
            let name = f.text(**n);
            if let Some(suffix) = TIME_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
                self.report_ident(
                    "time-naming",
                    0.9,
                    **n,
                    format!("var {name} is of type {star}time.Duration; don't use unit-specific suffix \"{suffix}\""),
                );
            }
        }
    }

    fn stmt(&mut self, s: StmtId) {
        let f = self.file;
        match f.stmt(s) {
            Stmt::Assign { lhs, tok, rhs, .. } => {
                if *tok == Token::Define {
                    for &x in f.list(*lhs) {
                        if let Expr::Ident(id) = f.expr(x) {
                            self.check_name(*id, "var");
                        }
                    }
                }
                let (lhs_l, rhs_l) = (f.list(*lhs), f.list(*rhs));
                let suffix = match tok {
                    Token::AddAssign => "++",
                    Token::SubAssign => "--",
                    _ => "",
                };
                if !suffix.is_empty()
                    && lhs_l.len() == 1
                    && rhs_l.len() == 1
                    && matches!(f.expr(rhs_l[0]), Expr::BasicLit { span, kind: Token::Int } if f.text(*span) == "1")
                {
                    let target = render(f, lhs_l[0]);
                    let start = f.stmt_pos(s);
                    let end = f.expr_end(rhs_l[0]);
                    self.report(
                        "increment-decrement",
                        0.8,
                        start,
                        end,
                        format!(
                            "should replace {target} {} 1 with {target}{suffix}",
                            tok.text()
                        ),
                    );
                }
            }
            Stmt::Range {
                key, value, tok, ..
            } => {
                if *tok == Token::Define {
                    for x in [key, value].into_iter().flatten() {
                        if let Expr::Ident(id) = f.expr(*x) {
                            self.check_name(*id, "range var");
                        }
                    }
                }
                let blank = |x: &Option<ExprId>| x.is_some_and(|x| is_ident(f, x, "_"));
                if let Some(k) = key
                    && blank(key)
                    && (value.is_none() || blank(value))
                {
                    self.report(
                        "range",
                        1.0,
                        f.expr_pos(*k),
                        f.expr_end(*k),
                        "should omit values from range; this loop is equivalent to `for range ...`"
                            .into(),
                    );
                } else if let (Some(k), Some(v)) = (key, value)
                    && blank(value)
                {
                    self.report(
                        "range",
                        1.0,
                        f.expr_pos(*v),
                        f.expr_end(*v),
                        format!(
                            "should omit 2nd value from range; this loop is equivalent to `for {} {} range ...`",
                            render(f, *k),
                            tok.text()
                        ),
                    );
                }
            }
            Stmt::If {
                els: Some(els),
                body,
                init,
                ..
            } => {
                let (els, body, init) = (*els, *body, *init);
                if matches!(f.stmt(els), Stmt::If { .. }) {
                    self.ignore_else.insert(els);
                    return;
                }
                if self.ignore_else.contains(&s) {
                    return;
                }
                let Stmt::Block { list, .. } = f.stmt(body) else {
                    return;
                };
                let Some(&last) = f.stmts_of(*list).last() else {
                    return;
                };
                if matches!(f.stmt(last), Stmt::Return { .. }) {
                    let short = init.is_some_and(|i| {
                        matches!(
                            f.stmt(i),
                            Stmt::Assign {
                                tok: Token::Define,
                                ..
                            }
                        )
                    });
                    let extra = if short {
                        " (move short variable declaration to its own line if necessary)"
                    } else {
                        ""
                    };
                    let start = f.stmt_pos(els);
                    let end = f.stmt_end(els);
                    self.report(
                        "indent-error-flow",
                        1.0,
                        start,
                        end,
                        format!("if block ends with a return statement, so drop this else and outdent its block{extra}"),
                    );
                }
            }
            _ => {}
        }
    }

    fn call(&mut self, x: ExprId) {
        let f = self.file;
        let Expr::Call { fun, args, .. } = f.expr(x) else {
            return;
        };
        let args = f.list(*args);
        let errors_new = is_pkg_dot(f, *fun, "errors", "New");
        // golint: `errors.New(fmt.Sprintf(...))` or `t.Error(fmt.Sprintf(...))` for a
        // `*testing.T`, in a file that imports the standard `errors` (a file using another
        // package called errors, such as github.com/pkg/errors, is left alone).
        let testing_error = match f.expr(*fun) {
            Expr::Selector { x: recv, sel } if f.text(*sel) == "Error" => match f.expr(*recv) {
                Expr::Ident(id) if self.testing_t.iter().flatten().any(|t| *t == f.text(*id)) => {
                    Some(f.text(*id))
                }
                _ => None,
            },
            _ => None,
        };
        if (errors_new || testing_error.is_some())
            && args.len() == 1
            && self.file.imports.iter().any(|im| im.path == "errors")
            && let Expr::Call { fun: inner, .. } = f.expr(args[0])
            && is_pkg_dot(f, *inner, "fmt", "Sprintf")
        {
            let message = match testing_error {
                Some(t) => {
                    format!("should replace {t}.Error(fmt.Sprintf(...)) with {t}.Errorf(...)")
                }
                None => "should replace errors.New(fmt.Sprintf(...)) with fmt.Errorf(...)".into(),
            };
            self.report("errorf", 1.0, f.expr_pos(x), f.expr_end(x), message);
        }
        if (errors_new || is_pkg_dot(f, *fun, "fmt", "Errorf"))
            && let Some(&first) = args.first()
            && let Expr::BasicLit {
                span,
                kind: Token::String,
            } = f.expr(first)
            && let Some(s) = go_syntax::parser::unquote(f.text(*span))
            && !s.is_empty()
            && let Some(conf) = error_string_problem(&s)
        {
            self.report(
                "error-strings",
                conf,
                span.pos,
                Pos(span.end),
                "error strings should not be capitalized or end with punctuation or a newline"
                    .into(),
            );
        }
        if is_pkg_dot(f, *fun, "context", "WithValue")
            && args.len() == 3
            && let Some(basic) = basic_type(f, args[1])
        {
            self.report(
                "context-keys-type",
                1.0,
                f.expr_pos(x),
                f.expr_end(x),
                format!("should not use basic type {basic} as key in context.WithValue"),
            );
        }
    }
}

/// Whether an expression's type is `time.Duration` (`Some("")`) or `*time.Duration`
/// (`Some("*")`), as far as its syntax shows.
fn duration_kind(f: &File, x: ExprId, depth: u8) -> Option<&'static str> {
    if depth > 16 {
        return None;
    }
    match f.expr(x) {
        Expr::Paren { x, .. } => duration_kind(f, *x, depth + 1),
        Expr::Unary {
            op: Token::Sub | Token::Add,
            x,
            ..
        } => duration_kind(f, *x, depth + 1),
        Expr::Selector { .. } => [
            "Nanosecond",
            "Microsecond",
            "Millisecond",
            "Second",
            "Minute",
            "Hour",
        ]
        .iter()
        .any(|u| is_pkg_dot(f, x, "time", u))
        .then_some(""),
        Expr::Binary {
            x: l,
            op: Token::Mul | Token::Quo | Token::Add | Token::Sub | Token::Rem,
            y,
            ..
        } => duration_kind(f, *l, depth + 1)
            .or_else(|| duration_kind(f, *y, depth + 1))
            .filter(|k| k.is_empty()),
        Expr::Call { fun, .. } => {
            if is_pkg_dot(f, *fun, "flag", "Duration") {
                Some("*")
            } else if ["Duration", "Since", "Until"]
                .iter()
                .any(|n| is_pkg_dot(f, *fun, "time", n))
            {
                Some("")
            } else {
                None
            }
        }
        _ => None,
    }
}

/// golint's `lintErrorString`: the confidence of a problem, if any.
fn error_string_problem(s: &str) -> Option<f32> {
    let mut chars = s.chars();
    let first = chars.next()?;
    let last = s.chars().next_back()?;
    if matches!(last, '.' | ':' | '!' | '\n') {
        return Some(0.8);
    }
    if first.is_uppercase() {
        match chars.next() {
            None => return Some(0.6),
            Some(second) if !second.is_uppercase() => return Some(0.6),
            _ => {}
        }
    }
    None
}

/// The basic type of an untyped constant key or a conversion to a basic type.
fn basic_type(f: &File, x: ExprId) -> Option<&'static str> {
    match f.expr(x) {
        Expr::BasicLit { kind, .. } => Some(match kind {
            Token::String => "string",
            Token::Int => "int",
            Token::Float => "float64",
            Token::Imag => "complex128",
            Token::Char => "rune",
            _ => return None,
        }),
        Expr::Paren { x, .. } => basic_type(f, *x),
        // The untyped boolean constants (golint: "untyped bool").
        Expr::Ident(id) if matches!(f.text(*id), "true" | "false") => Some("bool"),
        Expr::Call { fun, args, .. } if args.len() == 1 => {
            const BASIC: &[&str] = &[
                "string",
                "int",
                "int8",
                "int16",
                "int32",
                "int64",
                "uint",
                "uint8",
                "uint16",
                "uint32",
                "uint64",
                "uintptr",
                "float32",
                "float64",
                "complex64",
                "complex128",
                "bool",
                "byte",
                "rune",
            ];
            match f.expr(*fun) {
                Expr::Ident(id) => BASIC.iter().copied().find(|b| *b == f.text(*id)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// An expression's source text with runs of white space collapsed, as gofmt would print
/// the simple expressions golint quotes.
fn render(f: &File, x: ExprId) -> String {
    let text = &f.src[f.expr_pos(x).offset()..f.expr_end(x).offset()];
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Visitor for FileLint<'_> {
    fn leave(&mut self, file: &File, node: Node, _parent: Option<Node>) {
        let function = match node {
            Node::Decl(d) => matches!(file.decl(d), Decl::Func { .. }),
            Node::Expr(x) => matches!(file.expr(x), Expr::FuncLit { .. }),
            _ => false,
        };
        if function {
            self.testing_t.pop();
        }
    }

    fn enter(&mut self, file: &File, node: Node, _parent: Option<Node>) -> bool {
        match node {
            Node::Decl(d) => {
                if let Decl::Func { typ, .. } = file.decl(d) {
                    let t = self.testing_params(*typ);
                    self.testing_t.push(t);
                }
                self.names_in_decl(d)
            }
            Node::Expr(x) if matches!(file.expr(x), Expr::FuncLit { .. }) => {
                if let Expr::FuncLit { typ, .. } = file.expr(x) {
                    let t = self.testing_params(*typ);
                    self.testing_t.push(t);
                }
            }
            Node::Stmt(s) => self.stmt(s),
            Node::Expr(x) => match file.expr(x) {
                Expr::Call { .. } => self.call(x),
                Expr::StructType { fields, .. } => {
                    let names: Vec<Ident> = file
                        .fields(*fields)
                        .list
                        .iter()
                        .flat_map(|f| f.names.iter().copied())
                        .collect();
                    for n in names {
                        self.check_name(n, "struct field");
                    }
                }
                Expr::InterfaceType { methods, .. } => {
                    let sigs: Vec<ExprId> =
                        file.fields(*methods).list.iter().map(|m| m.typ).collect();
                    for t in sigs {
                        if let Expr::FuncType {
                            params, results, ..
                        } = file.expr(t)
                        {
                            self.check_fields(Some(*params), "interface method parameter");
                            self.check_fields(*results, "interface method result");
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (name, want) in [
            ("foo_bar", "fooBar"),
            ("foo_bar_baz", "fooBarBaz"),
            ("Foo_bar", "FooBar"),
            ("foo_WiFi", "fooWiFi"),
            ("id", "id"),
            ("Id", "ID"),
            ("foo_id", "fooID"),
            ("fooId", "fooID"),
            ("fooUid", "fooUID"),
            ("idFoo", "idFoo"),
            ("uidFoo", "uidFoo"),
            ("midIdDle", "midIDDle"),
            ("APIProxy", "APIProxy"),
            ("ApiProxy", "APIProxy"),
            ("apiProxy", "apiProxy"),
            ("_Leading", "_Leading"),
            ("___Leading", "_Leading"),
            ("trailing_", "trailing"),
            ("trailing___", "trailing"),
            ("a_b", "aB"),
            ("a__b", "aB"),
            ("a___b", "aB"),
            ("Rpc1150", "RPC1150"),
            ("case3_1", "case3_1"),
            ("case3__1", "case3_1"),
            ("IEEE802_16bit", "IEEE802_16bit"),
            ("IEEE802_16Bit", "IEEE802_16Bit"),
        ] {
            assert_eq!(lint_name(name), want, "{name}");
        }
    }
}
