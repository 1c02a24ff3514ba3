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

/// Every identifier expression called `name` under a node, with the nodes above it.
struct Uses<'n> {
    name: &'n str,
    path: Vec<Node>,
    found: Vec<(ExprId, Vec<Node>)>,
}

impl Visitor for Uses<'_> {
    fn enter(&mut self, file: &File, node: Node, _parent: Option<Node>) -> bool {
        if let Node::Expr(x) = node
            && let Expr::Ident(id) = file.expr(x)
            && file.text(*id) == self.name
        {
            self.found.push((x, self.path.clone()));
        }
        self.path.push(node);
        true
    }

    fn leave(&mut self, _file: &File, _node: Node, _parent: Option<Node>) {
        self.path.pop();
    }
}

/// The assignment statements under a node where `name` still means the variable declared
/// by `def` (not a redeclaration in an inner scope).
struct Assigns<'n> {
    name: &'n str,
    /// The node that declared the variable: its `:=` statement or `var` spec.
    def: Option<Node>,
    /// Per open scope: whether it redeclares `name`.
    shadowed: Vec<bool>,
    found: Vec<StmtId>,
}

impl<'n> Assigns<'n> {
    fn new(name: &'n str, def: Option<Node>) -> Self {
        Assigns {
            name,
            def,
            shadowed: vec![false],
            found: Vec::new(),
        }
    }

    fn shadow(&mut self) {
        if let Some(top) = self.shadowed.last_mut() {
            *top = true;
        }
    }
}

impl Visitor for Assigns<'_> {
    fn enter(&mut self, file: &File, node: Node, _parent: Option<Node>) -> bool {
        match node {
            Node::Stmt(s) => {
                let stmt = file.stmt(s);
                if opens_scope(stmt) {
                    self.shadowed.push(false);
                }
                if let Stmt::Assign { .. } = stmt
                    && !self.shadowed.contains(&true)
                {
                    self.found.push(s);
                }
            }
            Node::Expr(x) if matches!(file.expr(x), Expr::FuncLit { .. }) => {
                self.shadowed.push(false);
            }
            _ => {}
        }
        true
    }

    fn leave(&mut self, file: &File, node: Node, _parent: Option<Node>) {
        match node {
            Node::Stmt(s) => {
                let stmt = file.stmt(s);
                if let Stmt::Assign {
                    lhs,
                    tok: Token::Define,
                    ..
                } = stmt
                    && Some(node) != self.def
                    && file.list(*lhs).iter().any(
                        |l| matches!(file.expr(*l), Expr::Ident(i) if file.text(*i) == self.name),
                    )
                {
                    self.shadow();
                }
                if opens_scope(stmt) {
                    self.shadowed.pop();
                }
            }
            Node::Expr(x) if matches!(file.expr(x), Expr::FuncLit { .. }) => {
                self.shadowed.pop();
            }
            _ => {}
        }
    }

    fn name(&mut self, file: &File, name: Ident, owner: Node) {
        // `var name ...` in an inner scope.
        if matches!(owner, Node::Spec(..))
            && Some(owner) != self.def
            && file.text(name) == self.name
        {
            self.shadow();
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
        self.concat_in(self.index, x, 0)
    }

    fn concat_in(&self, fi: usize, x: ExprId, depth: u8) -> Option<String> {
        let f = &self.pkg.files[fi];
        match f.expr(x) {
            Expr::BasicLit {
                kind: Token::String,
                ..
            } => string_lit(f, x),
            Expr::Binary {
                x: l,
                op: Token::Add,
                y,
                ..
            } => Some(self.concat_in(fi, *l, depth)? + &self.concat_in(fi, *y, depth)?),
            Expr::Ident(_) if depth < 4 => {
                let (file, v) = self.definition(fi, x)?;
                self.string_recursive(file, v)
            }
            _ => None,
        }
    }

    /// gosec's `GetStringRecursive`: literals joined by `+`, other operands as "".
    fn string_recursive(&self, fi: usize, x: ExprId) -> Option<String> {
        let f = &self.pkg.files[fi];
        match f.expr(x) {
            Expr::BasicLit {
                kind: Token::String,
                ..
            } => string_lit(f, x),
            Expr::Binary { x: l, y, .. } => {
                Some(self.string_recursive(fi, *l)? + &self.string_recursive(fi, *y)?)
            }
            _ => Some(String::new()),
        }
    }

    /// The operands of nested binary expressions, left to right.
    fn operands(&self, fi: usize, x: ExprId, out: &mut Vec<ExprId>) {
        match self.pkg.files[fi].expr(x) {
            Expr::Binary { x: l, y, .. } => {
                self.operands(fi, *l, out);
                self.operands(fi, *y, out);
            }
            _ => out.push(x),
        }
    }

    /// A concatenation in file `fi` starting with anything, with an operand not made of
    /// constants.
    fn tainted_concat(&self, fi: usize, x: ExprId) -> bool {
        let mut ops = Vec::new();
        self.operands(fi, x, &mut ops);
        matches!(self.pkg.files[fi].expr(x), Expr::Binary { .. })
            && ops.iter().any(|o| !self.resolves(fi, *o, 0))
    }

    /// G202.
    fn sql_concat(&mut self, q: ExprId) {
        let f = self.file;
        match f.expr(q) {
            Expr::Binary { .. } => {
                let mut ops = Vec::new();
                self.operands(self.index, q, &mut ops);
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
                        // Inside functions, where a local of that name does not hide it.
                        for &d in &other.decls {
                            if let Decl::Func { body: Some(b), .. } = other.decl(d) {
                                let mut a = Assigns::new(name, None);
                                walk_node(other, Node::Stmt(*b), &mut a);
                                places.push((i, a.found));
                            }
                        }
                    }
                } else if let Some(&body) = self.bodies.last() {
                    let def_node = match def {
                        Def::Assign { stmt, .. } => Node::Stmt(stmt),
                        Def::Spec { decl, spec, .. } => Node::Spec(decl, spec),
                    };
                    let mut a = Assigns::new(name, Some(def_node));
                    walk_node(f, Node::Stmt(body), &mut a);
                    places.push((self.index, a.found));
                }
                for (fi, stmts) in places {
                    let file = &self.pkg.files[fi];
                    for s in stmts {
                        let Stmt::Assign { lhs, tok, rhs, .. } = file.stmt(s) else {
                            continue;
                        };
                        let (lhs, rhs) = (file.list(*lhs), file.list(*rhs));
                        if lhs.len() != 1
                            || rhs.len() != 1
                            || !matches!(file.expr(lhs[0]), Expr::Ident(l) if file.text(*l) == name)
                        {
                            continue;
                        }
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
                            self.out.push(Issue {
                                rule: "G202",
                                message: "SQL string concatenation".into(),
                                severity: Level::Medium,
                                confidence: Level::High,
                                span: span(file, start, end),
                                pos: start,
                                file: fi,
                            });
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
        let mut uses = Uses {
            name: f.text(*id),
            path: Vec::new(),
            found: Vec::new(),
        };
        walk_node(f, Node::Stmt(body), &mut uses);
        uses.found.iter().all(|(x, path)| {
            let parent = path.last().copied();
            let grand = path.iter().rev().nth(1).copied();
            match (parent, grand) {
                // `b := strings.Builder{}` itself.
                (Some(Node::Stmt(s)), _) => matches!(f.stmt(s),
                    Stmt::Assign { lhs, tok: Token::Define, .. } if f.list(*lhs).contains(x)),
                (Some(Node::Expr(sel)), Some(Node::Expr(c))) => {
                    let (Expr::Selector { x: r, sel: m }, Expr::Call { fun, args, .. }) =
                        (f.expr(sel), f.expr(c))
                    else {
                        return false;
                    };
                    if r != x || *fun != sel {
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
        if fi == self.index {
            self.expr_issue(id, x, message);
            return;
        }
        let file = &self.pkg.files[fi];
        let (start, end) = (file.expr_pos(x), file.expr_end(x));
        let def = rule(id).expect("known rule");
        self.out.push(Issue {
            rule: id,
            message: message.into(),
            severity: def.severity,
            confidence: def.confidence,
            span: span(file, start, end),
            pos: start,
            file: fi,
        });
    }
}
