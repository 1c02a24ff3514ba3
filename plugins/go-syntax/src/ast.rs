//! The Go syntax tree, after `go/ast`, stored in arenas.
//!
//! Nodes refer to each other by small ids ([`ExprId`], [`StmtId`], ...) into the vectors of a
//! [`File`]. That keeps nodes small, makes dropping a tree of any depth a handful of vector
//! frees (no recursion), and lets walkers keep an explicit stack. Names and literals are byte
//! ranges of the source: [`File::text`] gives their text.

use crate::token::{LineIndex, Pos, Position, Token};

macro_rules! id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("The index of a", $what, " in its [`File`].")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl $name {
            /// The index as `usize`.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id!(ExprId, "n expression (types are expressions, as in go/ast)");
id!(StmtId, " statement");
id!(DeclId, " declaration");
id!(FieldListId, " field list");
id!(CommentGroupId, " comment group");

/// A list of expressions (call arguments, composite literal elements, assignment sides, ...):
/// a range of [`File::expr_lists`], read with [`File::list`]. Lists live in one pool instead
/// of a vector each, which saves most of a parse's allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExprList {
    /// Index of the first element in the pool.
    pub start: u32,
    /// Number of elements.
    pub len: u32,
}

impl ExprList {
    /// The number of expressions.
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// A list of statements (a block's, a case clause's): a range of [`File::stmt_lists`], read
/// with [`File::stmts_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StmtList {
    /// Index of the first element in the pool.
    pub start: u32,
    /// Number of elements.
    pub len: u32,
}

impl StmtList {
    /// The number of statements.
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// A byte range of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Start offset.
    pub pos: Pos,
    /// End offset (exclusive).
    pub end: u32,
}

/// An identifier: its range in the source.
pub type Ident = Span;

/// A comment: its range, `//...` or `/*...*/` included.
pub type Comment = Span;

/// Adjacent comments with no token or blank line between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentGroup {
    /// The comments, in order.
    pub list: Vec<Comment>,
}

/// An expression or a type.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Expr {
    /// A name.
    Ident(Ident),
    /// A literal of kind `Int`, `Float`, `Imag`, `Char` or `String`.
    BasicLit { span: Span, kind: Token },
    /// `T{...}`; `typ` is absent inside another composite literal.
    CompositeLit {
        typ: Option<ExprId>,
        lbrace: Pos,
        elts: ExprList,
        rbrace: Pos,
    },
    /// `func(...) ... { ... }`; `typ` is a `FuncType`.
    FuncLit { typ: ExprId, body: StmtId },
    /// `(x)`.
    Paren { lparen: Pos, x: ExprId, rparen: Pos },
    /// `x.sel`.
    Selector { x: ExprId, sel: Ident },
    /// `x[index]`.
    Index {
        x: ExprId,
        lbrack: Pos,
        index: ExprId,
        rbrack: Pos,
    },
    /// `x[a, b]`: a generic instantiation with several arguments.
    IndexList {
        x: ExprId,
        lbrack: Pos,
        indices: ExprList,
        rbrack: Pos,
    },
    /// `x[low:high:max]`.
    Slice {
        x: ExprId,
        lbrack: Pos,
        low: Option<ExprId>,
        high: Option<ExprId>,
        max: Option<ExprId>,
        slice3: bool,
        rbrack: Pos,
    },
    /// `x.(T)`, or `x.(type)` in a type switch when `typ` is absent.
    TypeAssert {
        x: ExprId,
        lparen: Pos,
        typ: Option<ExprId>,
        rparen: Pos,
    },
    /// `fun(args...)`.
    Call {
        fun: ExprId,
        lparen: Pos,
        args: ExprList,
        ellipsis: Option<Pos>,
        rparen: Pos,
    },
    /// `*x`: a dereference or a pointer type.
    Star { star: Pos, x: ExprId },
    /// `op x` for `+ - ! ^ & <- ~`.
    Unary { op_pos: Pos, op: Token, x: ExprId },
    /// `x op y`.
    Binary {
        x: ExprId,
        op_pos: Pos,
        op: Token,
        y: ExprId,
    },
    /// `key: value` in a composite literal.
    KeyValue {
        key: ExprId,
        colon: Pos,
        value: ExprId,
    },
    /// `[len]elt`, `[...]elt` (len is an `Ellipsis`), or `[]elt` (no len).
    ArrayType {
        lbrack: Pos,
        len: Option<ExprId>,
        elt: ExprId,
    },
    /// `...elt` as a variadic parameter type, or `...` as an array length.
    Ellipsis { pos: Pos, elt: Option<ExprId> },
    /// `struct { ... }`.
    StructType { pos: Pos, fields: FieldListId },
    /// `func(params) results`; `func_pos` is absent in method signatures and declarations
    /// whose keyword belongs to the declaration.
    FuncType {
        func_pos: Option<Pos>,
        type_params: Option<FieldListId>,
        params: FieldListId,
        results: Option<FieldListId>,
    },
    /// `interface { ... }`.
    InterfaceType { pos: Pos, methods: FieldListId },
    /// `map[key]value`.
    MapType {
        pos: Pos,
        key: ExprId,
        value: ExprId,
    },
    /// `chan T`, `chan<- T`, `<-chan T`.
    ChanType {
        begin: Pos,
        arrow: Option<Pos>,
        dir: ChanDir,
        value: ExprId,
    },
    /// A placeholder where parsing failed (never produced for accepted files).
    Bad(Span),
}

/// A channel's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChanDir {
    /// `chan T`.
    Both,
    /// `chan<- T`.
    Send,
    /// `<-chan T`.
    Recv,
}

/// A parameter, result, struct field, interface element or type parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Doc comment.
    pub doc: Option<CommentGroupId>,
    /// Names (empty for anonymous parameters, embedded fields and interface elements).
    pub names: Vec<Ident>,
    /// The type (or constraint, or embedded type, or method signature).
    pub typ: ExprId,
    /// A struct tag.
    pub tag: Option<ExprId>,
    /// A trailing comment on the same line.
    pub comment: Option<CommentGroupId>,
}

/// `(...)`, `[...]` or `{...}` around fields; `opening`/`closing` are absent for a single
/// unparenthesized result.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldList {
    /// The opening bracket.
    pub opening: Option<Pos>,
    /// The fields.
    pub list: Vec<Field>,
    /// The closing bracket.
    pub closing: Option<Pos>,
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Stmt {
    /// A `const`, `type` or `var` declaration in a function.
    Decl(DeclId),
    /// An empty statement; `implicit` when it is an inserted or omitted semicolon.
    Empty { semi: Pos, implicit: bool },
    /// `label: stmt`.
    Labeled {
        label: Ident,
        colon: Pos,
        stmt: StmtId,
    },
    /// An expression used as a statement.
    Expr(ExprId),
    /// `ch <- value`.
    Send {
        chan: ExprId,
        arrow: Pos,
        value: ExprId,
    },
    /// `x++` / `x--`.
    IncDec { x: ExprId, tok_pos: Pos, tok: Token },
    /// `lhs op rhs` for `=`, `:=` and the operator assignments.
    Assign {
        lhs: ExprList,
        tok_pos: Pos,
        tok: Token,
        rhs: ExprList,
    },
    /// `go call`.
    Go { pos: Pos, call: ExprId },
    /// `defer call`.
    Defer { pos: Pos, call: ExprId },
    /// `return results`.
    Return { pos: Pos, results: ExprList },
    /// `break`, `continue`, `goto`, `fallthrough`, with an optional label.
    Branch {
        pos: Pos,
        tok: Token,
        label: Option<Ident>,
    },
    /// `{ ... }`.
    Block {
        lbrace: Pos,
        list: StmtList,
        rbrace: Pos,
    },
    /// `if init; cond { ... } else ...`.
    If {
        pos: Pos,
        init: Option<StmtId>,
        cond: ExprId,
        body: StmtId,
        els: Option<StmtId>,
    },
    /// `case list:` or `default:` (no list) in a switch.
    CaseClause {
        pos: Pos,
        list: Option<ExprList>,
        colon: Pos,
        body: StmtList,
    },
    /// `switch init; tag { ... }`.
    Switch {
        pos: Pos,
        init: Option<StmtId>,
        tag: Option<ExprId>,
        body: StmtId,
    },
    /// `switch init; x := y.(type) { ... }`.
    TypeSwitch {
        pos: Pos,
        init: Option<StmtId>,
        assign: StmtId,
        body: StmtId,
    },
    /// `case comm:` or `default:` in a select.
    CommClause {
        pos: Pos,
        comm: Option<StmtId>,
        colon: Pos,
        body: StmtList,
    },
    /// `select { ... }`.
    Select { pos: Pos, body: StmtId },
    /// `for init; cond; post { ... }`.
    For {
        pos: Pos,
        init: Option<StmtId>,
        cond: Option<ExprId>,
        post: Option<StmtId>,
        body: StmtId,
    },
    /// `for key, value := range x { ... }`; `tok` is `Illegal` when there is no key.
    Range {
        pos: Pos,
        key: Option<ExprId>,
        value: Option<ExprId>,
        tok_pos: Option<Pos>,
        tok: Token,
        range_pos: Pos,
        x: ExprId,
        body: StmtId,
    },
    /// A placeholder where parsing failed.
    Bad(Span),
}

/// A spec of a `GenDecl`.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Spec {
    /// `name "path"`.
    Import {
        doc: Option<CommentGroupId>,
        name: Option<Ident>,
        path: ExprId,
        comment: Option<CommentGroupId>,
    },
    /// `names type = values` in a `const` or `var` declaration.
    Value {
        doc: Option<CommentGroupId>,
        names: Vec<Ident>,
        typ: Option<ExprId>,
        values: ExprList,
        comment: Option<CommentGroupId>,
    },
    /// `name[params] = type`.
    Type {
        doc: Option<CommentGroupId>,
        name: Ident,
        type_params: Option<FieldListId>,
        assign: Option<Pos>,
        typ: ExprId,
        comment: Option<CommentGroupId>,
    },
}

/// A declaration.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Decl {
    /// `import`, `const`, `type` or `var`, with one spec or a parenthesized list.
    Gen {
        doc: Option<CommentGroupId>,
        pos: Pos,
        tok: Token,
        lparen: Option<Pos>,
        specs: Vec<Spec>,
        rparen: Option<Pos>,
    },
    /// `func (recv) name[params](...) ... { ... }`; `typ` is a `FuncType`.
    Func {
        doc: Option<CommentGroupId>,
        recv: Option<FieldListId>,
        name: Ident,
        typ: ExprId,
        body: Option<StmtId>,
        pos: Pos,
    },
}

/// One import of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The explicit name: an identifier, `.` or `_`.
    pub name: Option<String>,
    /// The unquoted import path.
    pub path: String,
    /// Where the spec starts.
    pub pos: Pos,
}

impl Import {
    /// The name the package is known by in the file: the explicit name, or the last element
    /// of the path (without a `/vN` major-version suffix, and up to the first `.` or `-`, as
    /// Go tools guess it).
    pub fn local_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        default_package_name(&self.path)
    }
}

/// The package name Go tools assume for an import path.
pub fn default_package_name(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1 {
        let last = parts[parts.len() - 1];
        if last.len() > 1 && last.starts_with('v') && last[1..].bytes().all(|b| b.is_ascii_digit())
        {
            parts.pop();
        }
    }
    let last = parts.last().copied().unwrap_or(path);
    let last = last.strip_prefix("go-").unwrap_or(last);
    let end = last.find(['.', '-']).unwrap_or(last.len());
    last[..end].to_string()
}

/// A parsed source file: the arenas and the top-level structure.
#[derive(Debug, Clone, Default)]
pub struct File {
    /// The file name, for messages.
    pub name: String,
    /// The source.
    pub src: String,
    /// Line starts, for positions.
    pub lines: LineIndex,
    /// The package doc comment.
    pub doc: Option<CommentGroupId>,
    /// The `package` keyword.
    pub package: Pos,
    /// The package name.
    pub package_name: Ident,
    /// Top-level declarations, in order.
    pub decls: Vec<DeclId>,
    /// Imports, in order.
    pub imports: Vec<Import>,
    /// Every comment group, in source order.
    pub comments: Vec<CommentGroup>,
    /// Expression arena.
    pub exprs: Vec<Expr>,
    /// Statement arena.
    pub stmts: Vec<Stmt>,
    /// Declaration arena.
    pub decl_arena: Vec<Decl>,
    /// Field list arena.
    pub field_lists: Vec<FieldList>,
    /// The pool of expression lists (see [`ExprList`]).
    pub expr_lists: Vec<ExprId>,
    /// The pool of statement lists (see [`StmtList`]).
    pub stmt_lists: Vec<StmtId>,
}

impl File {
    /// The source text of a range.
    pub fn text(&self, span: Span) -> &str {
        &self.src[span.pos.offset()..span.end as usize]
    }

    /// The line and column of a position.
    pub fn position(&self, pos: Pos) -> Position {
        self.lines.position(pos)
    }

    /// An expression.
    pub fn expr(&self, id: ExprId) -> &Expr {
        &self.exprs[id.index()]
    }

    /// The expressions of a list.
    pub fn list(&self, list: ExprList) -> &[ExprId] {
        &self.expr_lists[list.start as usize..(list.start + list.len) as usize]
    }

    /// The statements of a list.
    pub fn stmts_of(&self, list: StmtList) -> &[StmtId] {
        &self.stmt_lists[list.start as usize..(list.start + list.len) as usize]
    }

    /// A statement.
    pub fn stmt(&self, id: StmtId) -> &Stmt {
        &self.stmts[id.index()]
    }

    /// A declaration.
    pub fn decl(&self, id: DeclId) -> &Decl {
        &self.decl_arena[id.index()]
    }

    /// A field list.
    pub fn fields(&self, id: FieldListId) -> &FieldList {
        &self.field_lists[id.index()]
    }

    /// A comment group.
    pub fn comment_group(&self, id: CommentGroupId) -> &CommentGroup {
        &self.comments[id.index()]
    }

    /// Where an expression starts. Iterative: left-deep chains do not recurse.
    pub fn expr_pos(&self, mut id: ExprId) -> Pos {
        loop {
            id = match self.expr(id) {
                Expr::Ident(s) | Expr::BasicLit { span: s, .. } | Expr::Bad(s) => return s.pos,
                Expr::CompositeLit { typ: Some(t), .. } => *t,
                Expr::CompositeLit { lbrace, .. } => return *lbrace,
                Expr::FuncLit { typ, .. } => *typ,
                Expr::Paren { lparen, .. } => return *lparen,
                Expr::Selector { x, .. }
                | Expr::Index { x, .. }
                | Expr::IndexList { x, .. }
                | Expr::Slice { x, .. }
                | Expr::TypeAssert { x, .. }
                | Expr::Binary { x, .. } => *x,
                Expr::Call { fun, .. } => *fun,
                Expr::KeyValue { key, .. } => *key,
                Expr::Star { star, .. } => return *star,
                Expr::Unary { op_pos, .. } => return *op_pos,
                Expr::ArrayType { lbrack, .. } => return *lbrack,
                Expr::Ellipsis { pos, .. }
                | Expr::StructType { pos, .. }
                | Expr::InterfaceType { pos, .. }
                | Expr::MapType { pos, .. } => return *pos,
                Expr::FuncType {
                    func_pos: Some(p), ..
                } => return *p,
                Expr::FuncType { params, .. } => {
                    return self.fields(*params).opening.unwrap_or_default();
                }
                Expr::ChanType { begin, .. } => return *begin,
            };
        }
    }

    /// Where an expression ends (exclusive). Iterative as well.
    pub fn expr_end(&self, mut id: ExprId) -> Pos {
        loop {
            id = match self.expr(id) {
                Expr::Ident(s) | Expr::BasicLit { span: s, .. } | Expr::Bad(s) => return Pos(s.end),
                Expr::Selector { sel, .. } => return Pos(sel.end),
                Expr::CompositeLit { rbrace: p, .. }
                | Expr::Paren { rparen: p, .. }
                | Expr::Index { rbrack: p, .. }
                | Expr::IndexList { rbrack: p, .. }
                | Expr::Slice { rbrack: p, .. }
                | Expr::TypeAssert { rparen: p, .. }
                | Expr::Call { rparen: p, .. } => return Pos(p.0 + 1),
                Expr::FuncLit { body, .. } => return self.stmt_end(*body),
                Expr::Star { x, .. } | Expr::Unary { x, .. } => *x,
                Expr::Binary { y, .. } => *y,
                Expr::KeyValue { value, .. }
                | Expr::MapType { value, .. }
                | Expr::ChanType { value, .. } => *value,
                Expr::ArrayType { elt, .. } => *elt,
                Expr::Ellipsis { elt: Some(e), .. } => *e,
                Expr::Ellipsis { pos, elt: None } => return Pos(pos.0 + 3),
                Expr::StructType { fields: l, .. } | Expr::InterfaceType { methods: l, .. } => {
                    return self.field_list_end(*l);
                }
                Expr::FuncType {
                    params, results, ..
                } => return self.field_list_end(results.unwrap_or(*params)),
            };
        }
    }

    fn field_list_end(&self, id: FieldListId) -> Pos {
        let list = self.fields(id);
        match (list.closing, list.list.last()) {
            (Some(c), _) => Pos(c.0 + 1),
            (None, Some(f)) => self.expr_end(f.typ),
            (None, None) => Pos(0),
        }
    }

    /// Where a statement starts.
    pub fn stmt_pos(&self, id: StmtId) -> Pos {
        match self.stmt(id) {
            Stmt::Expr(x) | Stmt::Send { chan: x, .. } | Stmt::IncDec { x, .. } => {
                self.expr_pos(*x)
            }
            Stmt::Assign { lhs, tok_pos, .. } => self
                .list(*lhs)
                .first()
                .map_or(*tok_pos, |x| self.expr_pos(*x)),
            Stmt::Labeled { label, .. } => label.pos,
            Stmt::Decl(d) => match self.decl(*d) {
                Decl::Gen { pos, .. } | Decl::Func { pos, .. } => *pos,
            },
            Stmt::Empty { semi, .. } => *semi,
            Stmt::Block { lbrace, .. } => *lbrace,
            Stmt::Go { pos, .. }
            | Stmt::Defer { pos, .. }
            | Stmt::Return { pos, .. }
            | Stmt::Branch { pos, .. }
            | Stmt::If { pos, .. }
            | Stmt::CaseClause { pos, .. }
            | Stmt::Switch { pos, .. }
            | Stmt::TypeSwitch { pos, .. }
            | Stmt::CommClause { pos, .. }
            | Stmt::Select { pos, .. }
            | Stmt::For { pos, .. }
            | Stmt::Range { pos, .. } => *pos,
            Stmt::Bad(s) => s.pos,
        }
    }

    /// Where a block statement ends (exclusive); for other statements, where they start.
    pub fn stmt_end(&self, id: StmtId) -> Pos {
        match self.stmt(id) {
            Stmt::Block { rbrace, .. } => Pos(rbrace.0 + 1),
            _ => self.stmt_pos(id),
        }
    }

    /// The specs of every `import` declaration, in order (with their comments, which
    /// [`File::imports`] does not keep).
    pub fn import_specs(&self) -> impl Iterator<Item = &Spec> + '_ {
        self.decls.iter().flat_map(move |&d| match self.decl(d) {
            Decl::Gen {
                tok: Token::Import,
                specs,
                ..
            } => specs.as_slice(),
            _ => &[],
        })
    }

    /// The package name.
    pub fn package_name(&self) -> &str {
        self.text(self.package_name)
    }

    /// The text of a comment group without comment markers, as `go/ast`'s
    /// `CommentGroup.Text` (simplified: directives such as `//go:build` are dropped).
    pub fn comment_text(&self, id: CommentGroupId) -> String {
        let mut lines: Vec<String> = Vec::new();
        for c in &self.comment_group(id).list {
            let text = self.text(*c);
            if let Some(line) = text.strip_prefix("//") {
                if is_directive(line) {
                    continue;
                }
                lines.push(
                    line.strip_prefix(' ')
                        .unwrap_or(line)
                        .trim_end()
                        .to_string(),
                );
            } else {
                let body = &text[2..text.len() - 2];
                lines.extend(body.lines().map(|l| l.trim_end().to_string()));
            }
        }
        while lines.first().is_some_and(|l| l.is_empty()) {
            lines.remove(0);
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let mut out = lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out
    }

    /// Every comment (in source order) that is a directive: `//go:build ...`, `//go:generate`,
    /// `//line ...`, `//export ...`, `//extern ...`.
    pub fn directives(&self) -> impl Iterator<Item = (Pos, &str)> + '_ {
        self.comments
            .iter()
            .flat_map(|g| g.list.iter())
            .filter_map(|c| {
                let text = self.text(*c);
                let body = text.strip_prefix("//")?;
                is_directive(body).then_some((c.pos, text))
            })
    }

    /// The comments that start on `line` (1-based), in order: where `// #nosec` and
    /// `//nolint` annotations live.
    pub fn comments_on_line(&self, line: u32) -> impl Iterator<Item = (Comment, &str)> + '_ {
        let line_of = |c: &Comment| self.position(c.pos).line;
        // Groups are in source order: skip those ending before the line, stop after it.
        let first = self
            .comments
            .partition_point(|g| g.list.last().is_some_and(|c| line_of(c) < line));
        self.comments[first..]
            .iter()
            .take_while(move |g| g.list.first().is_some_and(|c| line_of(c) <= line))
            .flat_map(|g| g.list.iter())
            .filter(move |c| line_of(c) == line)
            .map(move |c| (*c, self.text(*c)))
    }
}

/// Whether a `//` comment body is a directive (`go:`, `line `, `export `, `extern `).
fn is_directive(body: &str) -> bool {
    if body.starts_with("line ") || body.starts_with("export ") || body.starts_with("extern ") {
        return true;
    }
    // "//[a-z0-9]+:[a-z0-9]" as go/ast's isDirective.
    let colon = match body.find(':') {
        Some(c) if c > 0 => c,
        _ => return false,
    };
    body[..colon]
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && body
            .as_bytes()
            .get(colon + 1)
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        assert_eq!(default_package_name("crypto/md5"), "md5");
        assert_eq!(default_package_name("math/rand/v2"), "rand");
        assert_eq!(default_package_name("gopkg.in/yaml.v3"), "yaml");
        assert_eq!(
            default_package_name("github.com/mattn/go-sqlite3"),
            "sqlite3"
        );
        assert_eq!(default_package_name("fmt"), "fmt");
    }

    #[test]
    fn directives() {
        assert!(is_directive("go:build linux"));
        assert!(is_directive("line foo.go:10"));
        assert!(!is_directive(" go:build linux"));
        assert!(!is_directive("TODO: fix"));
    }
}
