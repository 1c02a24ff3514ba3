//! Which identifiers name an imported package: a scope-light resolver for the rules that
//! ask "is this `md5.New` from `crypto/md5`?".
//!
//! Imports are file-scoped. A use of a name refers to an import unless a declaration in an
//! enclosing function scope shadows it: parameters, results, receivers, type parameters,
//! `:=`, `var`/`const`/`type` in blocks, range and type-switch variables, function literal
//! parameters. Package-level declarations cannot share an import's name (Go rejects that), so
//! only local scopes are tracked. A local declared with `:=` is in scope after its statement:
//! in `url := url.Parse(s)` the right-hand `url` is still the package.

use crate::ast::*;
use crate::walk::{Node, Visitor, walk};

/// The result: for every identifier expression that names an import, which one.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// `(identifier, import index)`, sorted by identifier (looked up for every selector the
    /// rules ask about: a binary search beats hashing there).
    imports: Vec<(ExprId, usize)>,
}

impl Resolution {
    /// The import an identifier expression refers to, if it names one.
    pub fn import_of<'f>(&self, file: &'f File, id: ExprId) -> Option<&'f Import> {
        self.imports
            .binary_search_by_key(&id, |&(x, _)| x)
            .ok()
            .map(|k| &file.imports[self.imports[k].1])
    }

    /// For `pkg.Name` where `pkg` names an import: `("import/path", "Name")`. Also works for
    /// the function of a call: pass the `Call`'s `fun`.
    pub fn qualified<'f>(&self, file: &'f File, x: ExprId) -> Option<(&'f str, &'f str)> {
        let Expr::Selector { x: pkg, sel } = file.expr(x) else {
            return None;
        };
        let import = self.import_of(file, *pkg)?;
        Some((import.path.as_str(), file.text(*sel)))
    }

    /// `"import/path.Name"` for a qualified identifier, e.g. `crypto/md5.New`.
    pub fn qualified_name(&self, file: &File, x: ExprId) -> Option<String> {
        self.qualified(file, x)
            .map(|(path, name)| format!("{path}.{name}"))
    }

    /// How many identifier expressions name an import.
    pub fn len(&self) -> usize {
        self.imports.len()
    }

    /// Whether none does.
    pub fn is_empty(&self) -> bool {
        self.imports.is_empty()
    }
}

/// Resolves every identifier expression of `file` against its imports.
pub fn resolve_imports(file: &File) -> Resolution {
    let mut by_name: Vec<(String, usize)> = Vec::new();
    for (i, import) in file.imports.iter().enumerate() {
        let name = import.local_name();
        if name != "_" && name != "." {
            // A later import of the same name wins, as the map this replaced did (Go rejects
            // the file anyway).
            by_name.retain(|(n, _)| *n != name);
            by_name.push((name, i));
        }
    }
    let mut r = Resolver {
        by_name,
        scopes: Vec::new(),
        defining: Vec::new(),
        out: Resolution::default(),
        path: Vec::new(),
    };
    if !r.by_name.is_empty() {
        walk(file, &mut r);
    }
    r.out.imports.sort_unstable_by_key(|&(x, _)| x);
    r.out
}

struct Resolver {
    /// The file's import names (a handful: a scan beats hashing every identifier).
    by_name: Vec<(String, usize)>,
    /// Local scopes, innermost last; each holds the names declared in it.
    scopes: Vec<Vec<String>>,
    /// Identifier expressions being defined (left of `:=`, range keys) by the statements
    /// entered and not yet left, not used.
    defining: Vec<ExprId>,
    out: Resolution,
    /// The nodes entered and not yet left.
    path: Vec<Node>,
}

impl Resolver {
    fn import_named(&self, name: &str) -> Option<usize> {
        self.by_name
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, i)| i)
    }

    fn declare(&mut self, name: &str) {
        if self.import_named(name).is_some()
            && let Some(scope) = self.scopes.last_mut()
        {
            scope.push(name.to_string());
        }
    }

    fn shadowed(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.iter().any(|n| n == name))
    }

    fn declare_fields(&mut self, file: &File, list: Option<FieldListId>) {
        if let Some(l) = list {
            for f in &file.fields(l).list {
                for n in &f.names {
                    self.declare(file.text(*n));
                }
            }
        }
    }

    fn declare_signature(&mut self, file: &File, typ: ExprId) {
        if let Expr::FuncType {
            type_params,
            params,
            results,
            ..
        } = file.expr(typ)
        {
            self.declare_fields(file, *type_params);
            self.declare_fields(file, Some(*params));
            self.declare_fields(file, *results);
        }
    }

    fn declare_idents(&mut self, file: &File, exprs: &[ExprId]) {
        for &x in exprs {
            if let Expr::Ident(id) = file.expr(x) {
                self.declare(file.text(*id));
            }
        }
    }

    fn declare_gen_decl(&mut self, file: &File, d: DeclId) {
        if let Decl::Gen { specs, .. } = file.decl(d) {
            for spec in specs {
                match spec {
                    Spec::Value { names, .. } => {
                        for n in names {
                            self.declare(file.text(*n));
                        }
                    }
                    Spec::Type { name, .. } => self.declare(file.text(*name)),
                    Spec::Import { .. } => {}
                }
            }
        }
    }
}

/// Whether a statement opens a scope of its own (its init statements live there).
pub fn opens_scope(s: &Stmt) -> bool {
    matches!(
        s,
        Stmt::Block { .. }
            | Stmt::If { .. }
            | Stmt::Switch { .. }
            | Stmt::TypeSwitch { .. }
            | Stmt::For { .. }
            | Stmt::Range { .. }
            | Stmt::CaseClause { .. }
            | Stmt::CommClause { .. }
    )
}

impl Visitor for Resolver {
    fn enter(&mut self, file: &File, node: Node, parent: Option<Node>) -> bool {
        match node {
            Node::Decl(d) => {
                if let Decl::Func { recv, typ, .. } = file.decl(d) {
                    self.scopes.push(Vec::new());
                    self.declare_fields(file, *recv);
                    self.declare_signature(file, *typ);
                }
            }
            Node::Expr(x) => match file.expr(x) {
                Expr::FuncLit { typ, .. } => {
                    self.scopes.push(Vec::new());
                    self.declare_signature(file, *typ);
                }
                Expr::Ident(id) => {
                    let name = file.text(*id);
                    if let Some(i) = self.import_named(name) {
                        let is_field_key = matches!(parent, Some(Node::Expr(p)) if matches!(file.expr(p), Expr::KeyValue { key, .. } if *key == x))
                            && matches!(self.path.iter().rev().nth(1), Some(Node::Expr(c)) if matches!(file.expr(*c), Expr::CompositeLit { .. }));
                        if !is_field_key && !self.defining.contains(&x) && !self.shadowed(name) {
                            self.out.imports.push((x, i));
                        }
                    }
                }
                _ => {}
            },
            Node::Stmt(s) => {
                let stmt = file.stmt(s);
                if opens_scope(stmt) {
                    self.scopes.push(Vec::new());
                }
                match stmt {
                    Stmt::Assign {
                        lhs,
                        tok: crate::token::Token::Define,
                        ..
                    } => self.defining.extend(file.list(*lhs).iter().copied()),
                    Stmt::Range {
                        key,
                        value,
                        tok: crate::token::Token::Define,
                        ..
                    } => self
                        .defining
                        .extend(key.iter().chain(value.iter()).copied()),
                    Stmt::Block { .. } => {
                        // The body of a range with `:=` sees its variables; a type switch's
                        // clause bodies see the guard's variable.
                        if let Some(Node::Stmt(p)) = parent
                            && let Stmt::Range {
                                key,
                                value,
                                tok: crate::token::Token::Define,
                                body,
                                ..
                            } = file.stmt(p)
                            && *body == s
                        {
                            let vars: Vec<ExprId> =
                                key.iter().chain(value.iter()).copied().collect();
                            self.declare_idents(file, &vars);
                        }
                    }
                    Stmt::CaseClause { .. } => {
                        let switch = self.path.iter().rev().nth(1).copied();
                        if let Some(Node::Stmt(sw)) = switch
                            && let Stmt::TypeSwitch { assign, .. } = file.stmt(sw)
                            && let Stmt::Assign { lhs, .. } = file.stmt(*assign)
                        {
                            self.declare_idents(file, file.list(*lhs));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        self.path.push(node);
        true
    }

    fn leave(&mut self, file: &File, node: Node, _parent: Option<Node>) {
        self.path.pop();
        match node {
            Node::Decl(d) => match file.decl(d) {
                Decl::Func { .. } => {
                    self.scopes.pop();
                }
                Decl::Gen { .. } => self.declare_gen_decl(file, d),
            },
            Node::Expr(x) => {
                if matches!(file.expr(x), Expr::FuncLit { .. }) {
                    self.scopes.pop();
                }
            }
            Node::Stmt(s) => {
                let stmt = file.stmt(s);
                // The statement's own defined names were the last pushed.
                match stmt {
                    Stmt::Assign {
                        lhs,
                        tok: crate::token::Token::Define,
                        ..
                    } => {
                        let n = self.defining.len() - file.list(*lhs).len();
                        self.defining.truncate(n);
                    }
                    Stmt::Range {
                        key,
                        value,
                        tok: crate::token::Token::Define,
                        ..
                    } => {
                        let n = self.defining.len() - key.iter().chain(value.iter()).count();
                        self.defining.truncate(n);
                    }
                    _ => {}
                }
                if let Stmt::Assign {
                    lhs,
                    tok: crate::token::Token::Define,
                    ..
                } = stmt
                {
                    // In scope from the end of the statement on (a type switch guard's variable
                    // lives in the clauses instead).
                    let guard = matches!(self.path.last(), Some(Node::Stmt(p)) if matches!(file.stmt(*p), Stmt::TypeSwitch { assign, .. } if *assign == s));
                    if !guard {
                        self.declare_idents(file, file.list(*lhs));
                    }
                }
                if opens_scope(stmt) {
                    self.scopes.pop();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_file;

    /// `(expression text, qualified name)` for every selector whose base names an import.
    fn qualified(src: &str) -> Vec<(String, String)> {
        let file = parse_file("t.go", src.as_bytes()).unwrap();
        let res = resolve_imports(&file);
        let mut out = Vec::new();
        for (i, e) in file.exprs.iter().enumerate() {
            if let Expr::Selector { .. } = e {
                let id = ExprId(i as u32);
                if let Some(q) = res.qualified_name(&file, id) {
                    let start = file.expr_pos(id).offset();
                    let end = file.expr_end(id).offset();
                    out.push((file.src[start..end].to_string(), q));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn resolves_plain_aliased_and_versioned_imports() {
        let got = qualified(
            r#"package p
import (
	"crypto/md5"
	h "crypto/sha1"
	"math/rand/v2"
	. "strings"
	_ "embed"
)
func f() { md5.New(); h.New(); rand.Int(); ToUpper("x") }
"#,
        );
        assert_eq!(
            got,
            [
                ("h.New".into(), "crypto/sha1.New".into()),
                ("md5.New".into(), "crypto/md5.New".into()),
                ("rand.Int".into(), "math/rand/v2.Int".into())
            ]
        );
    }

    #[test]
    fn locals_shadow_imports_from_the_end_of_their_statement() {
        let got = qualified(
            r#"package p
import "net/url"
func a(url string) { _ = url.Foo }
func b() { url := url.Parse; _ = url.Bar }
func c() { for _, url := range url.List { _ = url.Baz } ; _ = url.Qux }
func d(x interface{}) { switch url := x.(type) { case int: _ = url.Quux } }
func e() { var url = 1; _ = url.X }
func g() { f := func(url int) { _ = url.Y }; _ = f; _ = url.Z }
func h() { _ = T{url: 1}; _ = map[string]int{url.K: 1} }
"#,
        );
        assert_eq!(
            got,
            [
                ("url.K".into(), "net/url.K".into()),
                ("url.List".into(), "net/url.List".into()),
                ("url.Parse".into(), "net/url.Parse".into()),
                ("url.Qux".into(), "net/url.Qux".into()),
                ("url.Z".into(), "net/url.Z".into()),
            ]
        );
    }
}
