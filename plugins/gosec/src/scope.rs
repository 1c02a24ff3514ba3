//! What a name stands for at a point of a walk, from syntax alone: enough for gosec's
//! "can this value be resolved to constants?" questions.
//!
//! gosec asks go/types and go/ast's object resolution. Here the checker keeps a stack of
//! scopes while it walks a file in source order (function parameters, blocks, `:=`, local
//! `var`/`const`, range and type-switch variables) over the package's top-level declarations.
//! A name declared with `:=` or `var` is bound after its statement, as in Go.

use std::collections::HashMap;

use go_check::Package;
use go_syntax::ast::*;
use go_syntax::token::Token;

/// Where a variable gets its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Def {
    /// The `index`th name of `lhs := rhs` (or `=` at package level never happens).
    Assign { stmt: StmtId, index: usize },
    /// The `index`th name of the `spec`th spec of a `var` declaration.
    Spec {
        decl: DeclId,
        spec: u32,
        index: usize,
    },
}

/// What a name is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// A constant of file `file`, with its value expression when it has one.
    Const { file: usize, value: Option<ExprId> },
    /// A variable declared with a value (or none) in file `file`.
    Var {
        file: usize,
        def: Def,
        /// Declared at package level.
        package: bool,
    },
    /// A parameter, result or receiver of the enclosing function.
    Param,
    /// A variable whose value the syntax does not give: range and type-switch variables.
    Opaque,
    /// A function.
    Func,
    /// A type.
    Type,
}

impl Binding {
    /// Whether this is a variable (gosec's `*types.Var`).
    pub fn is_var(self) -> bool {
        matches!(self, Binding::Var { .. } | Binding::Param | Binding::Opaque)
    }
}

/// The package's top-level names.
pub fn package_bindings(pkg: &Package) -> HashMap<&str, Binding> {
    let mut out = HashMap::new();
    for (i, file) in pkg.files.iter().enumerate() {
        for &d in &file.decls {
            match file.decl(d) {
                Decl::Func {
                    recv: None, name, ..
                } => {
                    out.insert(file.text(*name), Binding::Func);
                }
                Decl::Func { .. } => {}
                Decl::Gen { tok, specs, .. } => {
                    for (s, spec) in specs.iter().enumerate() {
                        spec_bindings(file, i, d, s as u32, *tok, spec, true, |name, b| {
                            out.insert(name, b);
                        });
                    }
                }
            }
        }
    }
    out
}

/// The names a spec declares, with their bindings, handed to `each`.
#[allow(clippy::too_many_arguments)]
pub fn spec_bindings<'f>(
    file: &'f File,
    index: usize,
    decl: DeclId,
    spec: u32,
    tok: Token,
    s: &Spec,
    package: bool,
    mut each: impl FnMut(&'f str, Binding),
) {
    match s {
        Spec::Value { names, values, .. } => {
            let values = file.list(*values);
            for (k, n) in names.iter().enumerate() {
                let b = if tok == Token::Const {
                    Binding::Const {
                        file: index,
                        value: values.get(k).copied(),
                    }
                } else {
                    Binding::Var {
                        file: index,
                        def: Def::Spec {
                            decl,
                            spec,
                            index: k,
                        },
                        package,
                    }
                };
                each(file.text(*n), b);
            }
        }
        Spec::Type { name, .. } => each(file.text(*name), Binding::Type),
        Spec::Import { .. } => {}
    }
}

/// What `name` means in nested scopes (innermost last, later declarations last in each).
pub fn innermost<T: Copy>(scopes: &[Vec<(&str, T)>], name: &str) -> Option<T> {
    scopes
        .iter()
        .rev()
        .flat_map(|s| s.iter().rev())
        .find(|(n, _)| *n == name)
        .map(|&(_, b)| b)
}

/// The local scopes of a walk, innermost last.
#[derive(Default)]
pub struct Scopes<'a> {
    stack: Vec<Vec<(&'a str, Binding)>>,
    /// Per enclosing function, every local declared so far, in or out of scope: what a name
    /// used out of its scope (a loop variable named from after the loop, as a later scan of
    /// the function does) most likely meant.
    history: Vec<Vec<(&'a str, Binding)>>,
}

impl<'a> Scopes<'a> {
    /// Opens a scope.
    pub fn push(&mut self) {
        self.stack.push(Vec::new());
    }

    /// Closes the innermost scope.
    pub fn pop(&mut self) {
        self.stack.pop();
    }

    /// Opens a function's scope.
    pub fn push_function(&mut self) {
        self.push();
        self.history.push(Vec::new());
    }

    /// Closes a function's scope.
    pub fn pop_function(&mut self) {
        self.pop();
        self.history.pop();
    }

    /// The latest local of that name the enclosing functions declared, in scope or not.
    pub fn lookup_declared(&self, name: &str) -> Option<Binding> {
        innermost(&self.history, name)
    }

    /// Declares `name` in the innermost scope (ignored outside any: package level is known
    /// beforehand).
    pub fn declare(&mut self, name: &'a str, b: Binding) {
        if name == "_" {
            return;
        }
        if let Some(s) = self.stack.last_mut() {
            s.push((name, b));
        }
        if let Some(h) = self.history.last_mut() {
            h.push((name, b));
        }
    }

    /// The innermost local binding of `name`.
    pub fn lookup(&self, name: &str) -> Option<Binding> {
        innermost(&self.stack, name)
    }

    /// Whether no function is being walked.
    pub fn at_package_level(&self) -> bool {
        self.stack.is_empty()
    }
}

pub use go_syntax::resolve::opens_scope;

/// The names a `:=` statement defines (in scope after it), with their positions on its left.
pub fn defined_names(file: &File, stmt: &Stmt) -> Vec<(usize, Ident)> {
    match stmt {
        Stmt::Assign {
            lhs,
            tok: Token::Define,
            ..
        } => file
            .list(*lhs)
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match file.expr(*l) {
                Expr::Ident(id) => Some((i, *id)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}
