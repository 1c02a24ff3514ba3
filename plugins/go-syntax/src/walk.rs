//! Walking a syntax tree: pre- and post-order, with the parent at hand, on an explicit stack
//! (no recursion, whatever the depth of the tree).

use crate::ast::*;

/// A node of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// A declaration.
    Decl(DeclId),
    /// The `index`th spec of a `Decl::Gen`.
    Spec(DeclId, u32),
    /// A statement.
    Stmt(StmtId),
    /// An expression or type.
    Expr(ExprId),
    /// A field list.
    FieldList(FieldListId),
    /// The `index`th field of a field list.
    Field(FieldListId, u32),
}

/// What a walk calls. Both methods have defaults, so implement only what you need.
pub trait Visitor {
    /// Called before a node's children; return `false` to skip them (`leave` is still called).
    fn enter(&mut self, file: &File, node: Node, parent: Option<Node>) -> bool {
        let _ = (file, node, parent);
        true
    }

    /// Called after a node's children.
    fn leave(&mut self, file: &File, node: Node, parent: Option<Node>) {
        let _ = (file, node, parent);
    }

    /// Called for every identifier occurrence that is not an expression of its own (names
    /// in declarations, fields, parameters, selectors, labels, imports), with the node it
    /// belongs to, in source order among that node's children.
    fn name(&mut self, file: &File, name: Ident, owner: Node) {
        let _ = (file, name, owner);
    }
}

/// Walks every top-level declaration of `file` in order.
pub fn walk(file: &File, visitor: &mut impl Visitor) {
    for &d in &file.decls {
        walk_node(file, Node::Decl(d), visitor);
    }
}

enum Item {
    Enter(Node, Option<Node>),
    Leave(Node, Option<Node>),
    Name(Ident, Node),
}

/// Walks the subtree under `root`.
pub fn walk_node(file: &File, root: Node, visitor: &mut impl Visitor) {
    let mut stack = vec![Item::Enter(root, None)];
    let mut kids: Vec<Child> = Vec::new();
    while let Some(item) = stack.pop() {
        match item {
            Item::Enter(node, parent) => {
                let descend = visitor.enter(file, node, parent);
                stack.push(Item::Leave(node, parent));
                if descend {
                    kids.clear();
                    children(file, node, &mut kids);
                    for child in kids.drain(..).rev() {
                        stack.push(match child {
                            Child::Node(n) => Item::Enter(n, Some(node)),
                            Child::Name(name) => Item::Name(name, node),
                        });
                    }
                }
            }
            Item::Leave(node, parent) => visitor.leave(file, node, parent),
            Item::Name(name, owner) => visitor.name(file, name, owner),
        }
    }
}

/// A child of a node: another node, or a bare name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    /// A node.
    Node(Node),
    /// An identifier that is not an expression node.
    Name(Ident),
}

/// Appends the children of `node` to `out`, in source order.
pub fn children(file: &File, node: Node, out: &mut Vec<Child>) {
    let e = |id: ExprId| Child::Node(Node::Expr(id));
    let s = |id: StmtId| Child::Node(Node::Stmt(id));
    let fl = |id: FieldListId| Child::Node(Node::FieldList(id));
    match node {
        Node::Decl(d) => match file.decl(d) {
            Decl::Gen { specs, .. } => {
                out.extend((0..specs.len() as u32).map(|i| Child::Node(Node::Spec(d, i))))
            }
            Decl::Func {
                recv,
                name,
                typ,
                body,
                ..
            } => {
                out.extend(recv.map(fl));
                out.push(Child::Name(*name));
                // The signature's parts, without a separate FuncType node for declarations.
                if let Expr::FuncType {
                    type_params,
                    params,
                    results,
                    ..
                } = file.expr(*typ)
                {
                    out.extend(type_params.map(fl));
                    out.push(fl(*params));
                    out.extend(results.map(fl));
                }
                out.extend(body.map(s));
            }
        },
        Node::Spec(d, i) => {
            let Decl::Gen { specs, .. } = file.decl(d) else {
                return;
            };
            match &specs[i as usize] {
                Spec::Import { name, path, .. } => {
                    out.extend(name.map(Child::Name));
                    out.push(e(*path));
                }
                Spec::Value {
                    names, typ, values, ..
                } => {
                    out.extend(names.iter().map(|n| Child::Name(*n)));
                    out.extend(typ.map(e));
                    out.extend(file.list(*values).iter().map(|v| e(*v)));
                }
                Spec::Type {
                    name,
                    type_params,
                    typ,
                    ..
                } => {
                    out.push(Child::Name(*name));
                    out.extend(type_params.map(fl));
                    out.push(e(*typ));
                }
            }
        }
        Node::FieldList(l) => out
            .extend((0..file.fields(l).list.len() as u32).map(|i| Child::Node(Node::Field(l, i)))),
        Node::Field(l, i) => {
            let f = &file.fields(l).list[i as usize];
            out.extend(f.names.iter().map(|n| Child::Name(*n)));
            out.push(e(f.typ));
            out.extend(f.tag.map(e));
        }
        Node::Expr(x) => match file.expr(x) {
            Expr::Ident(_) | Expr::BasicLit { .. } | Expr::Bad(_) => {}
            Expr::CompositeLit { typ, elts, .. } => {
                out.extend(typ.map(e));
                out.extend(file.list(*elts).iter().map(|v| e(*v)));
            }
            Expr::FuncLit { typ, body } => {
                out.push(e(*typ));
                out.push(s(*body));
            }
            Expr::Paren { x, .. } | Expr::Star { x, .. } | Expr::Unary { x, .. } => out.push(e(*x)),
            Expr::Selector { x, sel } => {
                out.push(e(*x));
                out.push(Child::Name(*sel));
            }
            Expr::Index { x, index, .. } => {
                out.push(e(*x));
                out.push(e(*index));
            }
            Expr::IndexList { x, indices, .. } => {
                out.push(e(*x));
                out.extend(file.list(*indices).iter().map(|v| e(*v)));
            }
            Expr::Slice {
                x, low, high, max, ..
            } => {
                out.push(e(*x));
                out.extend([low, high, max].into_iter().flatten().map(|v| e(*v)));
            }
            Expr::TypeAssert { x, typ, .. } => {
                out.push(e(*x));
                out.extend(typ.map(e));
            }
            Expr::Call { fun, args, .. } => {
                out.push(e(*fun));
                out.extend(file.list(*args).iter().map(|v| e(*v)));
            }
            Expr::Binary { x, y, .. } => {
                out.push(e(*x));
                out.push(e(*y));
            }
            Expr::KeyValue { key, value, .. } => {
                out.push(e(*key));
                out.push(e(*value));
            }
            Expr::ArrayType { len, elt, .. } => {
                out.extend(len.map(e));
                out.push(e(*elt));
            }
            Expr::Ellipsis { elt, .. } => out.extend(elt.map(e)),
            Expr::StructType { fields, .. } => out.push(fl(*fields)),
            Expr::FuncType {
                type_params,
                params,
                results,
                ..
            } => {
                out.extend(type_params.map(fl));
                out.push(fl(*params));
                out.extend(results.map(fl));
            }
            Expr::InterfaceType { methods, .. } => out.push(fl(*methods)),
            Expr::MapType { key, value, .. } => {
                out.push(e(*key));
                out.push(e(*value));
            }
            Expr::ChanType { value, .. } => out.push(e(*value)),
        },
        Node::Stmt(st) => match file.stmt(st) {
            Stmt::Decl(d) => out.push(Child::Node(Node::Decl(*d))),
            Stmt::Empty { .. } | Stmt::Bad(_) => {}
            Stmt::Labeled { label, stmt, .. } => {
                out.push(Child::Name(*label));
                out.push(s(*stmt));
            }
            Stmt::Expr(x) => out.push(e(*x)),
            Stmt::Send { chan, value, .. } => {
                out.push(e(*chan));
                out.push(e(*value));
            }
            Stmt::IncDec { x, .. } => out.push(e(*x)),
            Stmt::Assign { lhs, rhs, .. } => {
                out.extend(file.list(*lhs).iter().map(|v| e(*v)));
                out.extend(file.list(*rhs).iter().map(|v| e(*v)));
            }
            Stmt::Go { call, .. } | Stmt::Defer { call, .. } => out.push(e(*call)),
            Stmt::Return { results, .. } => out.extend(file.list(*results).iter().map(|v| e(*v))),
            Stmt::Branch { label, .. } => out.extend(label.map(Child::Name)),
            Stmt::Block { list, .. } => out.extend(file.stmts_of(*list).iter().map(|v| s(*v))),
            Stmt::If {
                init,
                cond,
                body,
                els,
                ..
            } => {
                out.extend(init.map(s));
                out.push(e(*cond));
                out.push(s(*body));
                out.extend(els.map(s));
            }
            Stmt::CaseClause { list, body, .. } => {
                out.extend(list.iter().flat_map(|l| file.list(*l)).map(|v| e(*v)));
                out.extend(file.stmts_of(*body).iter().map(|v| s(*v)));
            }
            Stmt::Switch {
                init, tag, body, ..
            } => {
                out.extend(init.map(s));
                out.extend(tag.map(e));
                out.push(s(*body));
            }
            Stmt::TypeSwitch {
                init, assign, body, ..
            } => {
                out.extend(init.map(s));
                out.push(s(*assign));
                out.push(s(*body));
            }
            Stmt::CommClause { comm, body, .. } => {
                out.extend(comm.map(s));
                out.extend(file.stmts_of(*body).iter().map(|v| s(*v)));
            }
            Stmt::Select { body, .. } => out.push(s(*body)),
            Stmt::For {
                init,
                cond,
                post,
                body,
                ..
            } => {
                out.extend(init.map(s));
                out.extend(cond.map(e));
                out.extend(post.map(s));
                out.push(s(*body));
            }
            Stmt::Range {
                key,
                value,
                x,
                body,
                ..
            } => {
                out.extend(key.map(e));
                out.extend(value.map(e));
                out.push(e(*x));
                out.push(s(*body));
            }
        },
    }
}

/// Every identifier of the file, in source order: the package name, names in declarations,
/// and identifier expressions.
pub fn identifiers(file: &File) -> Vec<Ident> {
    struct Collect(Vec<Ident>);
    impl Visitor for Collect {
        fn enter(&mut self, file: &File, node: Node, _: Option<Node>) -> bool {
            if let Node::Expr(x) = node
                && let Expr::Ident(id) = file.expr(x)
            {
                self.0.push(*id);
            }
            true
        }
        fn name(&mut self, _: &File, name: Ident, _: Node) {
            self.0.push(name);
        }
    }
    let mut c = Collect(vec![file.package_name]);
    walk(file, &mut c);
    c.0.sort_by_key(|s| s.pos);
    c.0
}

/// The number of identifiers and an FNV-1a 64 digest of `"<offset> <name>\n"` for each, in
/// source order: compared with go/ast's by the conformance test (`tools/goparse -idents`).
pub fn identifier_digest(file: &File) -> (usize, u64) {
    let ids = identifiers(file);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for id in &ids {
        for b in format!("{} {}\n", id.pos.0, file.text(*id)).bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (ids.len(), hash)
}
