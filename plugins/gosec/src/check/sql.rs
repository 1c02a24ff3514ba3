//! G201 and G202 as gosec decides them: at the query argument of a `database/sql` call
//! (`Exec`, `Query`, `QueryRow`, `Prepare` and their `Context` forms), a query formatted with
//! `fmt` from a SQL-looking format with a `%s`-like verb and a value not made of constants
//! (G201), or concatenated from a SQL-looking literal and such a value, in place, in its
//! declaration or in a later `q += x` / `q = q + x` (G202).
//!
//! gosec knows the receiver's type; here a call of one of those method names, in a package
//! that imports `database/sql`, is taken for one.

use go_syntax::walk::walk_node;

use super::*;

/// The query methods of `*sql.DB`, `*sql.Tx` and `*sql.Conn`, with their query's position.
const SQL_METHODS: &[(&str, usize)] = &[
    ("Exec", 0),
    ("ExecContext", 1),
    ("Query", 0),
    ("QueryContext", 1),
    ("QueryRow", 0),
    ("QueryRowContext", 1),
    ("Prepare", 0),
    ("PrepareContext", 1),
];

/// What G201/G202 look up in a function body, built in one walk of it and kept: lookups per
/// query call then cost nothing, however many calls a body has.
pub(crate) struct BodyIndex<'a> {
    /// `name += e` and `name = name + e`, by the name and the declaration in the body it
    /// assigns (`None`: a name the body does not declare, such as a package's variable).
    appends: HashMap<(&'a str, Option<Node>), Vec<StmtId>>,
    /// Every identifier expression, by name, with its parent and grandparent.
    uses: HashMap<&'a str, Vec<Use>>,
}

/// An identifier expression with its parent and grandparent.
type Use = (ExprId, Option<Node>, Option<Node>);

/// Builds a `BodyIndex`, tracking which declaration each name means (blocks, `:=`, `var`).
struct Indexer<'a> {
    file: &'a File,
    scopes: Vec<Vec<(&'a str, Node)>>,
    path: Vec<Node>,
    out: BodyIndex<'a>,
}

impl<'a> Indexer<'a> {
    fn lookup(&self, name: &str) -> Option<Node> {
        crate::scope::innermost(&self.scopes, name)
    }

    fn declare(&mut self, name: &'a str, at: Node) {
        if let Some(s) = self.scopes.last_mut() {
            s.push((name, at));
        }
    }

    fn build(file: &'a File, body: StmtId) -> BodyIndex<'a> {
        let mut ix = Indexer {
            file,
            scopes: vec![Vec::new()],
            path: Vec::new(),
            out: BodyIndex {
                appends: HashMap::new(),
                uses: HashMap::new(),
            },
        };
        walk_node(file, Node::Stmt(body), &mut ix);
        ix.out
    }
}

impl Visitor for Indexer<'_> {
    fn enter(&mut self, _file: &File, node: Node, _parent: Option<Node>) -> bool {
        let f = self.file;
        match node {
            Node::Stmt(s) => {
                let stmt = f.stmt(s);
                if opens_scope(stmt) {
                    self.scopes.push(Vec::new());
                }
                if let Stmt::Assign { lhs, tok, rhs, .. } = stmt
                    && let ([l], [r]) = (f.list(*lhs), f.list(*rhs))
                    && let Expr::Ident(id) = f.expr(*l)
                {
                    let name = f.text(*id);
                    let appends = match (tok, f.expr(*r)) {
                        (Token::AddAssign, _) => true,
                        (
                            Token::Assign,
                            Expr::Binary {
                                x, op: Token::Add, ..
                            },
                        ) => {
                            matches!(f.expr(*x), Expr::Ident(i) if f.text(*i) == name)
                        }
                        _ => false,
                    };
                    if appends {
                        let decl = self.lookup(name);
                        self.out.appends.entry((name, decl)).or_default().push(s);
                    }
                }
            }
            Node::Expr(x) => match f.expr(x) {
                Expr::FuncLit { .. } => self.scopes.push(Vec::new()),
                Expr::Ident(id) => {
                    let parent = self.path.last().copied();
                    let grand = self.path.iter().rev().nth(1).copied();
                    self.out
                        .uses
                        .entry(f.text(*id))
                        .or_default()
                        .push((x, parent, grand));
                }
                _ => {}
            },
            _ => {}
        }
        self.path.push(node);
        true
    }

    fn leave(&mut self, _file: &File, node: Node, _parent: Option<Node>) {
        let f = self.file;
        self.path.pop();
        match node {
            Node::Stmt(s) => {
                let stmt = f.stmt(s);
                if opens_scope(stmt) {
                    self.scopes.pop();
                }
                // `:=` declares after its statement.
                for (_, id) in defined_names(f, stmt) {
                    self.declare(f.text(id), node);
                }
            }
            Node::Expr(x) if matches!(f.expr(x), Expr::FuncLit { .. }) => {
                self.scopes.pop();
            }
            _ => {}
        }
    }

    fn name(&mut self, _file: &File, name: Ident, owner: Node) {
        // `var name ...` declares in the enclosing block.
        if matches!(owner, Node::Spec(..)) {
            let name = self.file.text(name);
            self.declare(name, owner);
        }
    }
}

/// gosec's `(?i)(SELECT|DELETE|INSERT|UPDATE|INTO|FROM|WHERE)( |\n|\r|\t)`, anywhere.
pub(super) fn sql_like(s: &str) -> bool {
    let b = s.as_bytes();
    [
        "select", "delete", "insert", "update", "into", "from", "where",
    ]
    .iter()
    .any(|kw| {
        b.windows(kw.len() + 1).any(|w| {
            w[..kw.len()].eq_ignore_ascii_case(kw.as_bytes())
                && matches!(w[kw.len()], b' ' | b'\n' | b'\r' | b'\t')
        })
    })
}

/// gosec's `%[^bdoxXfFp]`: a verb that can carry text.
fn text_verb(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'%' && !b"bdoxXfFp".contains(&w[1]))
}

impl<'a> Checker<'a> {
    /// At an assignment or expression statement: its `database/sql` query call, if any.
    pub(super) fn sql_sink(&mut self, s: StmtId) {
        if !self.sql_package {
            return;
        }
        let f = self.file;
        let call = match f.stmt(s) {
            Stmt::Assign { rhs, .. } => f.list(*rhs).iter().find_map(|&r| {
                if self.sql_query_arg(r).is_some() {
                    return Some(r);
                }
                // `db.QueryRow(q).Scan(...)`.
                match f.expr(r) {
                    Expr::Call { fun, .. } => match f.expr(*fun) {
                        Expr::Selector { x, .. } if self.sql_query_arg(*x).is_some() => Some(*x),
                        _ => None,
                    },
                    _ => None,
                }
            }),
            Stmt::Expr(x) => Some(*x).filter(|x| self.sql_query_arg(*x).is_some()),
            _ => None,
        };
        if let Some(q) = call.and_then(|c| self.sql_query_arg(c)) {
            self.sql_format(q);
            self.sql_concat(q);
        }
    }

    /// The query argument of a call of a query method (not a package's function).
    fn sql_query_arg(&self, call: ExprId) -> Option<ExprId> {
        let f = self.file;
        let Expr::Call { fun, args, .. } = f.expr(call) else {
            return None;
        };
        let Expr::Selector { sel, .. } = f.expr(*fun) else {
            return None;
        };
        if self.callee(*fun).is_some() {
            return None;
        }
        let i = SQL_METHODS.iter().find(|(m, _)| *m == f.text(*sel))?.1;
        f.list(*args).get(i).copied()
    }

    /// G201: the query is a variable declared (`:=`) with a `fmt` call, or is one.
    fn sql_format(&mut self, q: ExprId) {
        let f = self.file;
        let candidates: Vec<ExprId> = match f.expr(q) {
            Expr::Ident(_) => match self.binding_in(self.index, q) {
                Some(Binding::Var {
                    file,
                    def: def @ Def::Assign { stmt, .. },
                    ..
                }) if file == self.index
                    && matches!(
                        f.stmt(stmt),
                        Stmt::Assign {
                            tok: Token::Define,
                            ..
                        }
                    ) =>
                {
                    self.def_values(file, def).0.to_vec()
                }
                _ => return,
            },
            Expr::Call { .. } => vec![q],
            _ => return,
        };
        for e in candidates {
            if self.sql_format_call(e) {
                return;
            }
        }
    }

    fn sql_format_call(&mut self, e: ExprId) -> bool {
        let f = self.file;
        let Expr::Call { fun, args, .. } = f.expr(e) else {
            return false;
        };
        let Some(("fmt", name @ ("Sprint" | "Sprintf" | "Sprintln" | "Fprintf"))) =
            self.callee(*fun)
        else {
            return false;
        };
        let args = f.list(*args);
        let at = if name == "Fprintf" {
            if args
                .first()
                .is_some_and(|w| matches!(self.callee(*w), Some(("os", "Stdout" | "Stderr"))))
            {
                return false;
            }
            1
        } else {
            0
        };
        let Some(formatter) = args.get(at).and_then(|a| self.concat_string(*a)) else {
            return false;
        };
        if formatter.is_empty() {
            return false;
        }
        let rest = &args[(at + 1).min(args.len())..];
        if !rest.is_empty()
            && rest.iter().all(|a| {
                self.resolves(self.index, *a, 0)
                    || matches!(f.expr(*a), Expr::Call { fun, .. }
                        if self.callee(*fun) == Some(("github.com/lib/pq", "QuoteIdentifier")))
            })
        {
            return false;
        }
        if sql_like(&formatter) && text_verb(&formatter) {
            self.expr_issue("G201", e, "SQL string formatting");
            return true;
        }
        false
    }

    /// gosec's `ConcatString`: literals, and names declared with them, joined by `+`.
    fn concat_string(&self, x: ExprId) -> Option<String> {
        if !self.resolves(self.index, x, 0) {
            return None;
        }
        self.concat_in(self.index, x)
    }

    fn concat_in(&self, fi: usize, x: ExprId) -> Option<String> {
        let f = &self.pkg.files[fi];
        let mut out = String::new();
        // Every link of the chain must be `+`.
        let mut stack = vec![x];
        while let Some(e) = stack.pop() {
            match f.expr(e) {
                Expr::Binary {
                    x: l,
                    op: Token::Add,
                    y,
                    ..
                } => {
                    stack.push(*y);
                    stack.push(*l);
                }
                Expr::BasicLit {
                    kind: Token::String,
                    ..
                } => out.push_str(&string_lit(f, e)?),
                Expr::Ident(_) => {
                    let (file, v) = self.definition(fi, e)?;
                    out.push_str(&self.string_recursive(file, v)?);
                }
                _ => return None,
            }
        }
        Some(out)
    }

    /// gosec's `GetStringRecursive`: literals joined by `+`, other operands as "".
    fn string_recursive(&self, fi: usize, x: ExprId) -> Option<String> {
        let f = &self.pkg.files[fi];
        let mut out = String::new();
        for o in operands(f, x) {
            if let Expr::BasicLit {
                kind: Token::String,
                ..
            } = f.expr(o)
            {
                out.push_str(&string_lit(f, o)?);
            }
        }
        Some(out)
    }

    /// The index of a function body of file `fi`, built on first use.
    fn body_index(&self, fi: usize, body: StmtId) -> std::rc::Rc<BodyIndex<'a>> {
        if let Some(ix) = self.body_index.borrow().get(&(fi, body)) {
            return ix.clone();
        }
        let file: &'a File = &self.pkg.files[fi];
        let ix = std::rc::Rc::new(Indexer::build(file, body));
        self.body_index.borrow_mut().insert((fi, body), ix.clone());
        ix
    }

    /// A concatenation in file `fi` starting with anything, with an operand not made of
    /// constants.
    fn tainted_concat(&self, fi: usize, x: ExprId) -> bool {
        let f = &self.pkg.files[fi];
        matches!(f.expr(x), Expr::Binary { .. })
            && operands(f, x).iter().any(|o| !self.resolves(fi, *o, 0))
    }

    /// G202.
    fn sql_concat(&mut self, q: ExprId) {
        let f = self.file;
        match f.expr(q) {
            Expr::Binary { .. } => {
                let ops = operands(f, q);
                if matches!(
                    f.expr(ops[0]),
                    Expr::BasicLit {
                        kind: Token::String,
                        ..
                    }
                ) && string_lit(f, ops[0]).is_some_and(|s| sql_like(&s))
                    && ops[1..].iter().any(|o| !self.resolves(self.index, *o, 0))
                {
                    self.expr_issue("G202", q, "SQL string concatenation");
                }
            }
            Expr::Ident(id) => {
                let Some(Binding::Var { file, def, package }) = self.binding_in(self.index, q)
                else {
                    return;
                };
                let declared: &[ExprId] = match def {
                    Def::Assign { stmt, .. } => match self.pkg.files[file].stmt(stmt) {
                        Stmt::Assign {
                            tok: Token::Define, ..
                        } => self.def_values(file, def).0,
                        _ => return,
                    },
                    Def::Spec { .. } => self.def_values(file, def).0,
                };
                let has_sql = declared.iter().any(|v| {
                    self.string_recursive(file, *v)
                        .is_some_and(|s| sql_like(&s))
                });
                if let Some(&inj) = declared.iter().find(|v| self.tainted_concat(file, **v)) {
                    self.issue_in(file, "G202", inj, "SQL string concatenation");
                    return;
                }
                if !has_sql {
                    return;
                }
                let name = f.text(*id);
                // The later appends: in the function for a local, anywhere for a package's.
                let mut places: Vec<(usize, Vec<StmtId>)> = Vec::new();
                if package {
                    for (i, other) in self.pkg.files.iter().enumerate() {
                        for &d in &other.decls {
                            if let Decl::Func { body: Some(b), .. } = other.decl(d) {
                                let index = self.body_index(i, *b);
                                if let Some(found) = index.appends.get(&(name, None)) {
                                    places.push((i, found.clone()));
                                }
                            }
                        }
                    }
                } else if let Some(&body) = self.bodies.last() {
                    let decl = match def {
                        Def::Assign { stmt, .. } => Node::Stmt(stmt),
                        Def::Spec { decl, spec, .. } => Node::Spec(decl, spec),
                    };
                    let index = self.body_index(self.index, body);
                    if let Some(found) = index.appends.get(&(name, Some(decl))) {
                        places.push((self.index, found.clone()));
                    }
                }
                for (fi, stmts) in places {
                    let file = &self.pkg.files[fi];
                    for s in stmts {
                        let Stmt::Assign { tok, rhs, .. } = file.stmt(s) else {
                            continue;
                        };
                        let rhs = file.list(*rhs);
                        let appended = match (tok, file.expr(rhs[0])) {
                            (Token::AddAssign, _) => rhs[0],
                            (
                                Token::Assign,
                                Expr::Binary {
                                    x: l,
                                    op: Token::Add,
                                    y,
                                    ..
                                },
                            ) if matches!(file.expr(*l), Expr::Ident(i) if file.text(*i) == name) => {
                                *y
                            }
                            _ => continue,
                        };
                        if !self.resolves(fi, appended, 0) {
                            let (start, end) = (file.stmt_pos(s), file.stmt_end(s));
                            self.issue_at(fi, "G202", start, end, "SQL string concatenation");
                            return;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// gosec's builder rule: `b.String()` of a local `strings.Builder` or `bytes.Buffer`
    /// declared empty, every use of which in the function writes values made of constants or
    /// only reads.
    pub(super) fn builder_is_constant(&self, call: ExprId, depth: u8) -> bool {
        let f = self.file;
        let Expr::Call { fun, args, .. } = f.expr(call) else {
            return false;
        };
        let Expr::Selector { x: recv, sel } = f.expr(*fun) else {
            return false;
        };
        if f.text(*sel) != "String" || !f.list(*args).is_empty() {
            return false;
        }
        let Expr::Ident(id) = f.expr(*recv) else {
            return false;
        };
        let Some(Binding::Var {
            file,
            def,
            package: false,
        }) = self.binding_in(self.index, *recv)
        else {
            return false;
        };
        if file != self.index {
            return false;
        }
        let is_builder = |t: ExprId| {
            matches!(
                self.callee(t),
                Some(("strings", "Builder") | ("bytes", "Buffer"))
            )
        };
        let empty_builder = |v: ExprId| {
            let v = match f.expr(v) {
                Expr::Unary {
                    op: Token::And, x, ..
                } => *x,
                _ => v,
            };
            matches!(f.expr(v), Expr::CompositeLit { typ: Some(t), elts, .. }
                if is_builder(*t) && f.list(*elts).is_empty())
        };
        let declared = match def {
            Def::Spec { decl, spec, .. } => match f.decl(decl) {
                Decl::Gen { specs, .. } => matches!(&specs[spec as usize],
                    Spec::Value { typ: Some(t), values, .. } if is_builder(*t) && f.list(*values).is_empty()),
                _ => false,
            },
            Def::Assign { .. } => self.def_values(file, def).1.is_some_and(empty_builder),
        };
        let Some(&body) = self.bodies.last() else {
            return false;
        };
        if !declared {
            return false;
        }
        let index = self.body_index(self.index, body);
        let Some(uses) = index.uses.get(f.text(*id)) else {
            return false;
        };
        uses.iter().all(|&(x, parent, grand)| {
            match (parent, grand) {
                // `b := strings.Builder{}` itself.
                (Some(Node::Stmt(s)), _) => matches!(f.stmt(s),
                    Stmt::Assign { lhs, tok: Token::Define, .. } if f.list(*lhs).contains(&x)),
                (Some(Node::Expr(sel)), Some(Node::Expr(c))) => {
                    let (Expr::Selector { x: r, sel: m }, Expr::Call { fun, args, .. }) =
                        (f.expr(sel), f.expr(c))
                    else {
                        return false;
                    };
                    if *r != x || *fun != sel {
                        return false;
                    }
                    match f.text(*m) {
                        "WriteString" | "WriteByte" | "WriteRune" | "Write" => f
                            .list(*args)
                            .iter()
                            .all(|a| self.resolves(self.index, *a, depth + 1)),
                        "String" | "Len" | "Cap" | "Reset" | "Grow" => true,
                        _ => false,
                    }
                }
                _ => false,
            }
        })
    }

    fn issue_in(&mut self, fi: usize, id: &'static str, x: ExprId, message: &str) {
        let file = &self.pkg.files[fi];
        let (start, end) = (file.expr_pos(x), file.expr_end(x));
        self.issue_at(fi, id, start, end, message);
    }
}
