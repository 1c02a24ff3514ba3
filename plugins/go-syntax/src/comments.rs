//! Which node each comment group belongs to, after go/ast's `CommentMap`: a group on the same
//! line as the end of a node belongs to that node (a trailing comment), else a group followed
//! on the next line by a node belongs to it (a leading comment), else the group belongs to
//! the innermost node enclosing it. Only "statement-like" nodes own comments: declarations,
//! specs, statements and fields, which is where annotations such as `// #nosec` are written.

use std::collections::HashMap;

use crate::ast::{CommentGroupId, File};
use crate::token::Pos;
use crate::walk::{Node, Visitor, walk};

/// Comment groups by owning node.
#[derive(Debug, Clone, Default)]
pub struct CommentMap {
    by_node: HashMap<Node, Vec<CommentGroupId>>,
}

impl CommentMap {
    /// The comment groups that belong to `node`, in source order.
    pub fn comments(&self, node: Node) -> &[CommentGroupId] {
        self.by_node.get(&node).map_or(&[], Vec::as_slice)
    }

    /// The nodes that own at least one comment group.
    pub fn nodes(&self) -> impl Iterator<Item = Node> + '_ {
        self.by_node.keys().copied()
    }
}

/// A node's extent and depth, for matching comments to nodes.
struct Extent {
    node: Node,
    start: Pos,
    end: Pos,
    depth: usize,
}

struct Collect {
    extents: Vec<Extent>,
    depth: usize,
}

fn owns_comments(node: Node) -> bool {
    matches!(
        node,
        Node::Decl(_) | Node::Spec(..) | Node::Stmt(_) | Node::Field(..)
    )
}

/// Where a declaration, spec, statement or field starts and ends (end exclusive, looking into
/// compound statements' last part); `None` for other nodes.
pub fn extent(file: &File, node: Node) -> Option<(Pos, Pos)> {
    use crate::ast::{Decl, Spec};
    Some(match node {
        Node::Stmt(s) => (file.stmt_pos(s), stmt_end(file, s)),
        Node::Decl(d) => match file.decl(d) {
            Decl::Gen {
                pos, rparen, specs, ..
            } => {
                let end = match (rparen, specs.last()) {
                    (Some(r), _) => Pos(r.0 + 1),
                    (None, Some(_)) => spec_end(file, d, specs.len() - 1),
                    (None, None) => *pos,
                };
                (*pos, end)
            }
            Decl::Func { pos, body, typ, .. } => (
                *pos,
                body.map_or_else(|| file.expr_end(*typ), |b| file.stmt_end(b)),
            ),
        },
        Node::Spec(d, i) => {
            let Decl::Gen { specs, .. } = file.decl(d) else {
                return None;
            };
            let start = match &specs[i as usize] {
                Spec::Import { name: Some(n), .. } => n.pos,
                Spec::Import { path, .. } => file.expr_pos(*path),
                Spec::Value { names, .. } => names[0].pos,
                Spec::Type { name, .. } => name.pos,
            };
            (start, spec_end(file, d, i as usize))
        }
        Node::Field(l, i) => {
            let f = &file.fields(l).list[i as usize];
            let start = f
                .names
                .first()
                .map_or_else(|| file.expr_pos(f.typ), |n| n.pos);
            (
                start,
                f.tag
                    .map_or_else(|| file.expr_end(f.typ), |t| file.expr_end(t)),
            )
        }
        _ => return None,
    })
}

fn spec_end(file: &File, d: crate::ast::DeclId, i: usize) -> Pos {
    use crate::ast::{Decl, Spec};
    let Decl::Gen { specs, .. } = file.decl(d) else {
        return Pos(0);
    };
    match &specs[i] {
        Spec::Import { path, .. } => file.expr_end(*path),
        Spec::Value {
            names, typ, values, ..
        } => file
            .list(*values)
            .last()
            .or(typ.as_ref())
            .map_or(Pos(names.last().map_or(0, |n| n.end)), |x| {
                file.expr_end(*x)
            }),
        Spec::Type { typ, .. } => file.expr_end(*typ),
    }
}

/// Where a statement ends, looking into compound statements' last part.
fn stmt_end(file: &File, s: crate::ast::StmtId) -> Pos {
    use crate::ast::Stmt;
    match file.stmt(s) {
        Stmt::Expr(x) | Stmt::Send { value: x, .. } => file.expr_end(*x),
        Stmt::IncDec { tok_pos, .. } => Pos(tok_pos.0 + 2),
        Stmt::Assign { rhs, tok_pos, .. } => file
            .list(*rhs)
            .last()
            .map_or(*tok_pos, |x| file.expr_end(*x)),
        Stmt::Go { call, .. } | Stmt::Defer { call, .. } => file.expr_end(*call),
        Stmt::Return { pos, results } => file
            .list(*results)
            .last()
            .map_or(Pos(pos.0 + 6), |x| file.expr_end(*x)),
        Stmt::Branch { pos, label, tok } => {
            label.map_or(Pos(pos.0 + tok.text().len() as u32), |l| Pos(l.end))
        }
        Stmt::Labeled { stmt, .. } => stmt_end(file, *stmt),
        Stmt::If { body, els, .. } => {
            els.map_or_else(|| file.stmt_end(*body), |e| stmt_end(file, e))
        }
        Stmt::Switch { body, .. }
        | Stmt::TypeSwitch { body, .. }
        | Stmt::Select { body, .. }
        | Stmt::For { body, .. }
        | Stmt::Range { body, .. } => file.stmt_end(*body),
        Stmt::CaseClause { body, colon, .. } | Stmt::CommClause { body, colon, .. } => file
            .stmts_of(*body)
            .last()
            .map_or(Pos(colon.0 + 1), |b| stmt_end(file, *b)),
        Stmt::Decl(d) => extent(file, Node::Decl(*d)).map_or(Pos(0), |e| e.1),
        _ => file.stmt_end(s),
    }
}

impl Visitor for Collect {
    fn enter(&mut self, file: &File, node: Node, _: Option<Node>) -> bool {
        if owns_comments(node)
            && let Some((start, end)) = extent(file, node)
        {
            self.extents.push(Extent {
                node,
                start,
                end,
                depth: self.depth,
            });
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self, _: &File, _: Node, _: Option<Node>) {
        self.depth -= 1;
    }
}

/// Builds the comment map of a file, in O(n log n) for n nodes and comment groups.
pub fn comment_map(file: &File) -> CommentMap {
    let mut collect = Collect {
        extents: Vec::new(),
        depth: 0,
    };
    walk(file, &mut collect);
    let mut by_start = collect.extents;
    by_start.sort_by_key(|e| (e.start, e.depth));
    let mut by_end: Vec<usize> = (0..by_start.len()).collect();
    by_end.sort_by_key(|&i| by_start[i].end);
    let line = |p: Pos| file.position(p).line;
    let mut map = CommentMap::default();
    // Nodes that started before the current group and may still enclose it, innermost last.
    let mut open: Vec<usize> = Vec::new();
    let mut next = 0;
    for (g, group) in file.comments.iter().enumerate() {
        let (Some(first), Some(last)) = (group.list.first(), group.list.last()) else {
            continue;
        };
        let (start, end) = (first.pos, Pos(last.end));
        let (start_line, end_line) = (line(start), line(end));

        // A trailing comment: the deepest node ending on the group's first line, before it.
        let ended = by_end.partition_point(|&i| by_start[i].end <= start);
        let trailing = by_end[..ended]
            .iter()
            .rev()
            .take_while(|&&i| line(by_start[i].end) == start_line)
            .max_by_key(|&&i| by_start[i].depth)
            .copied();

        // A leading comment: the outermost node starting right after the group.
        let after = by_start.partition_point(|e| e.start < end);
        let leading = by_start
            .get(after)
            .filter(|e| line(e.start) <= end_line + 1)
            .map(|_| after);

        // Otherwise the innermost node around it.
        while next < by_start.len() && by_start[next].start <= start {
            open.push(next);
            next += 1;
        }
        while open.last().is_some_and(|&i| by_start[i].end < end) {
            open.pop();
        }
        let enclosing = open.last().copied();

        if let Some(owner) = trailing.or(leading).or(enclosing) {
            map.by_node
                .entry(by_start[owner].node)
                .or_default()
                .push(CommentGroupId(g as u32));
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Stmt;
    use crate::parse_file;

    #[test]
    fn trailing_leading_and_enclosed_comments() {
        let src = "package p\n\n// F is documented.\nfunc F() {\n\t// about x\n\tx := 1 // #nosec G101\n\tif x > 0 {\n\t\t// inside the if\n\t}\n}\n";
        let file = parse_file("t.go", src.as_bytes()).unwrap();
        let map = comment_map(&file);
        let owner_of = |text: &str| {
            map.nodes()
                .find(|n| {
                    map.comments(*n).iter().any(|g| {
                        file.comment_text(*g).contains(text)
                            || file.text(file.comment_group(*g).list[0]).contains(text)
                    })
                })
                .unwrap_or_else(|| panic!("no owner for {text}"))
        };
        assert!(matches!(owner_of("F is documented"), Node::Decl(_)));
        let Node::Stmt(about) = owner_of("about x") else {
            panic!()
        };
        assert!(matches!(file.stmt(about), Stmt::Assign { .. }));
        assert_eq!(
            owner_of("#nosec"),
            Node::Stmt(about),
            "a trailing comment belongs to its statement"
        );
        let Node::Stmt(inside) = owner_of("inside the if") else {
            panic!()
        };
        assert!(
            matches!(file.stmt(inside), Stmt::Block { .. }),
            "{:?}",
            file.stmt(inside)
        );
    }
}
