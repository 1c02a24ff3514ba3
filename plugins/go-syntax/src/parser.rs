//! The Go parser: recursive descent after `go/parser` (Go 1.19 to 1.22 syntax, generics
//! included). It stops at the first error, which is reported as go/parser words it.

use std::fmt;

use crate::ast::*;
use crate::lexer::{Lexer, check_encoding};
use crate::token::{LineIndex, Pos, Position, Token};

/// The deepest nesting of expressions and statements accepted. go/parser allows 100,000; real
/// code stays far below 1,000, and a recursive-descent parser must bound its stack use on
/// hostile input (this holds in a 1 MiB wasm stack).
pub const MAX_NESTING: u32 = 1_000;

/// Why a file was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file name.
    pub file: String,
    /// Where.
    pub position: Position,
    /// What, as go/parser says it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.position.line, self.position.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

type PResult<T> = Result<T, (Pos, String)>;

/// Parses a Go source file. `src` may be any bytes: invalid UTF-8 is an error, never a panic.
pub fn parse_file(name: &str, src: &[u8]) -> Result<File, ParseError> {
    let lines = LineIndex::new(src);
    let fail = |pos: Pos, message: String, lines: &LineIndex| ParseError {
        file: name.to_string(),
        position: lines.position(pos),
        message,
    };
    if let Some(e) = check_encoding(src) {
        return Err(fail(e.pos, e.message, &lines));
    }
    let text = std::str::from_utf8(src).expect("checked above");
    let mut p = Parser::new(text, lines);
    let result = p.parse_file();
    match result {
        Ok(()) => {
            let mut file = p.file;
            file.name = name.to_string();
            file.src = text.to_string();
            file.lines = p.lines;
            Ok(file)
        }
        Err((pos, message)) => Err(fail(pos, message, &p.lines)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SimpleMode {
    Basic,
    LabelOk,
    RangeOk,
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    lines: LineIndex,
    tok: Token,
    pos: Pos,
    end: u32,
    file: File,
    expr_lev: i32,
    in_rhs: bool,
    nest: u32,
    /// Elements of the expression lists being parsed (see `commit`).
    scratch: Vec<ExprId>,
    /// Elements of the statement lists being parsed (see `commit_stmts`).
    scratch_stmts: Vec<StmtId>,
    lead_comment: Option<CommentGroupId>,
    line_comment: Option<CommentGroupId>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, lines: LineIndex) -> Self {
        let mut p = Parser {
            src,
            lexer: Lexer::new(src.as_bytes()),
            lines,
            tok: Token::Eof,
            pos: Pos(0),
            end: 0,
            file: File {
                // Sized from the Go standard library: about one expression per 10.7 bytes of
                // source, one statement per 55, one field list per 390. Growing arenas by
                // doubling costs copies, and allocation is dear inside a wasm guest.
                exprs: Vec::with_capacity(src.len() / 10 + 16),
                stmts: Vec::with_capacity(src.len() / 48 + 8),
                field_lists: Vec::with_capacity(src.len() / 350 + 4),
                expr_lists: Vec::with_capacity(src.len() / 16 + 16),
                stmt_lists: Vec::with_capacity(src.len() / 48 + 8),
                ..File::default()
            },
            expr_lev: 0,
            in_rhs: false,
            nest: 0,
            scratch: Vec::with_capacity(64),
            scratch_stmts: Vec::with_capacity(64),
            lead_comment: None,
            line_comment: None,
        };
        p.next0();
        p.after_next(None);
        p
    }

    // ----- tokens and comments -----

    #[inline]
    fn next0(&mut self) {
        let t = self.lexer.next_token();
        self.tok = t.tok;
        self.pos = t.pos;
        self.end = t.end;
    }

    fn line(&self, pos: Pos) -> u32 {
        self.lines.position(pos).line
    }

    #[inline]
    fn next(&mut self) {
        let prev = self.pos;
        self.next0();
        self.after_next(Some(prev));
    }

    /// Groups comments like go/parser: a group on the previous token's line followed by a
    /// token on another line is a line comment; a group ending on the line before the next
    /// token is a lead (doc) comment.
    #[inline]
    fn after_next(&mut self, prev: Option<Pos>) {
        self.lead_comment = None;
        self.line_comment = None;
        if self.tok == Token::Comment {
            self.group_comments(prev);
        }
    }

    #[cold]
    #[inline(never)]
    fn group_comments(&mut self, prev: Option<Pos>) {
        let mut comment = None;
        let mut endline;
        if let Some(prev) = prev
            && self.line(self.pos) == self.line(prev)
        {
            let (c, e) = self.consume_comment_group(0);
            comment = Some(c);
            endline = e;
            if self.line(self.pos) != endline || self.tok == Token::Eof {
                self.line_comment = comment;
            }
        }
        endline = u32::MAX;
        while self.tok == Token::Comment {
            let (c, e) = self.consume_comment_group(1);
            comment = Some(c);
            endline = e;
        }
        if endline != u32::MAX && endline + 1 == self.line(self.pos) {
            self.lead_comment = comment;
        }
    }

    fn consume_comment_group(&mut self, n: u32) -> (CommentGroupId, u32) {
        let mut list = Vec::new();
        let mut endline = self.line(self.pos);
        while self.tok == Token::Comment && self.line(self.pos) <= endline + n {
            let span = Span {
                pos: self.pos,
                end: self.end,
            };
            endline = self.line(self.pos);
            let text = &self.src.as_bytes()[self.pos.offset()..self.end as usize];
            if text.get(1) == Some(&b'*') {
                endline += text.iter().filter(|&&b| b == b'\n').count() as u32;
            }
            list.push(span);
            self.next0();
        }
        let id = CommentGroupId(self.file.comments.len() as u32);
        self.file.comments.push(CommentGroup { list });
        (id, endline)
    }

    fn lex_error(&self) -> Option<(Pos, String)> {
        self.lexer
            .errors
            .first()
            .map(|e| (e.pos, e.message.clone()))
    }

    #[inline]
    fn is_implicit_semi(&self) -> bool {
        self.tok == Token::Semicolon && self.end == self.pos.0
    }

    #[inline]
    fn lit(&self) -> &'a str {
        &self.src[self.pos.offset()..self.end as usize]
    }

    fn error<T>(&self, pos: Pos, message: impl Into<String>) -> PResult<T> {
        // A lexical error before this point is the real first error.
        if let Some((lpos, lmsg)) = self.lex_error()
            && (lpos <= pos || self.tok == Token::Illegal)
        {
            return Err((lpos, lmsg));
        }
        Err((pos, message.into()))
    }

    fn error_expected<T>(&self, pos: Pos, what: &str) -> PResult<T> {
        let mut msg = format!("expected {what}");
        if pos == self.pos {
            if self.is_implicit_semi() {
                msg.push_str(", found newline");
            } else if self.tok.is_literal() {
                msg.push_str(&format!(", found {}", self.lit()));
            } else if self.tok == Token::Eof {
                msg.push_str(", found 'EOF'");
            } else {
                msg.push_str(&format!(", found '{}'", self.tok.text()));
            }
        }
        self.error(pos, msg)
    }

    #[inline]
    fn expect(&mut self, tok: Token) -> PResult<Pos> {
        let pos = self.pos;
        if self.tok != tok {
            return self.error_expected(pos, &format!("'{}'", tok.text()));
        }
        self.next();
        Ok(pos)
    }

    fn expect_closing(&mut self, tok: Token, context: &str) -> PResult<Pos> {
        if self.tok != tok && self.is_implicit_semi() {
            return self.error(self.pos, format!("missing ',' before newline in {context}"));
        }
        self.expect(tok)
    }

    fn expect_semi(&mut self) -> PResult<()> {
        if self.tok != Token::RParen && self.tok != Token::RBrace {
            match self.tok {
                Token::Semicolon => self.next(),
                _ => return self.error_expected(self.pos, "';'"),
            }
        }
        Ok(())
    }

    fn at_comma(&self, context: &str, follow: Token) -> PResult<bool> {
        if self.tok == Token::Comma {
            return Ok(true);
        }
        if self.tok != follow {
            let mut msg = "missing ','".to_string();
            if self.is_implicit_semi() {
                msg.push_str(" before newline");
            }
            return self.error(self.pos, format!("{msg} in {context}"));
        }
        Ok(false)
    }

    #[inline]
    fn enter(&mut self) -> PResult<()> {
        self.nest += 1;
        if self.nest > MAX_NESTING {
            return self.error(self.pos, "exceeded max nesting depth");
        }
        Ok(())
    }

    /// Runs `parse` one nesting level deeper, within `MAX_NESTING`.
    #[inline]
    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.enter()?;
        let r = parse(self);
        self.leave();
        r
    }

    #[inline]
    fn leave(&mut self) {
        self.nest -= 1;
    }

    // ----- arenas -----

    #[inline]
    fn expr(&mut self, e: Expr) -> ExprId {
        self.file.exprs.push(e);
        ExprId(self.file.exprs.len() as u32 - 1)
    }

    #[inline]
    fn stmt(&mut self, s: Stmt) -> StmtId {
        self.file.stmts.push(s);
        StmtId(self.file.stmts.len() as u32 - 1)
    }

    fn field_list(
        &mut self,
        opening: Option<Pos>,
        list: Vec<Field>,
        closing: Option<Pos>,
    ) -> FieldListId {
        self.file.field_lists.push(FieldList {
            opening,
            list,
            closing,
        });
        FieldListId(self.file.field_lists.len() as u32 - 1)
    }

    #[inline]
    fn get(&self, id: ExprId) -> &Expr {
        &self.file.exprs[id.index()]
    }

    /// Moves the scratch elements pushed since `mark` into the list pool. Nested lists are
    /// committed before their parent pushes its next element, so the stack discipline holds.
    #[inline]
    fn commit(&mut self, mark: usize) -> ExprList {
        let start = self.file.expr_lists.len() as u32;
        let len = (self.scratch.len() - mark) as u32;
        self.file.expr_lists.extend(self.scratch.drain(mark..));
        ExprList { start, len }
    }

    /// As `commit`, for statements.
    #[inline]
    fn commit_stmts(&mut self, mark: usize) -> StmtList {
        let start = self.file.stmt_lists.len() as u32;
        let len = (self.scratch_stmts.len() - mark) as u32;
        self.file
            .stmt_lists
            .extend(self.scratch_stmts.drain(mark..));
        StmtList { start, len }
    }

    fn list_of(&mut self, items: &[ExprId]) -> ExprList {
        let start = self.file.expr_lists.len() as u32;
        self.file.expr_lists.extend_from_slice(items);
        ExprList {
            start,
            len: items.len() as u32,
        }
    }

    #[inline]
    fn item(&self, list: ExprList, i: usize) -> ExprId {
        self.file.expr_lists[list.start as usize + i]
    }

    #[inline]
    fn unparen(&self, mut x: ExprId) -> ExprId {
        while let Expr::Paren { x: inner, .. } = self.get(x) {
            x = *inner;
        }
        x
    }

    fn expr_pos(&self, x: ExprId) -> Pos {
        self.file.expr_pos(x)
    }

    // ----- file and declarations -----

    fn parse_file(&mut self) -> PResult<()> {
        if let Some(e) = self.lex_error().filter(|_| self.tok == Token::Illegal) {
            return Err(e);
        }
        self.file.doc = self.lead_comment;
        self.file.package = self.expect(Token::Package)?;
        self.file.package_name = self.parse_ident()?;
        self.expect_semi()?;
        while self.tok == Token::Import {
            let d = self.parse_gen_decl(Token::Import)?;
            self.file.decls.push(d);
        }
        while self.tok != Token::Eof {
            let d = self.parse_decl()?;
            self.file.decls.push(d);
        }
        if let Some(e) = self.lex_error() {
            return Err(e);
        }
        Ok(())
    }

    #[inline]
    fn parse_ident(&mut self) -> PResult<Ident> {
        let pos = self.pos;
        if self.tok == Token::Ident {
            let end = self.end;
            self.next();
            Ok(Span { pos, end })
        } else {
            self.expect(Token::Ident)?;
            unreachable!("expect fails on a non-identifier")
        }
    }

    fn parse_ident_list(&mut self) -> PResult<Vec<Ident>> {
        let mut list = vec![self.parse_ident()?];
        while self.tok == Token::Comma {
            self.next();
            list.push(self.parse_ident()?);
        }
        Ok(list)
    }

    fn parse_decl(&mut self) -> PResult<DeclId> {
        match self.tok {
            Token::Const | Token::Var | Token::Type => self.parse_gen_decl(self.tok),
            Token::Func => self.parse_func_decl(),
            _ => self.error_expected(self.pos, "declaration"),
        }
    }

    fn parse_gen_decl(&mut self, keyword: Token) -> PResult<DeclId> {
        let doc = self.lead_comment;
        let pos = self.expect(keyword)?;
        let mut specs = Vec::new();
        let (mut lparen, mut rparen) = (None, None);
        if self.tok == Token::LParen {
            lparen = Some(self.pos);
            self.next();
            let mut iota = 0;
            while self.tok != Token::RParen && self.tok != Token::Eof {
                let doc = self.lead_comment;
                specs.push(self.parse_spec(doc, keyword, iota)?);
                iota += 1;
            }
            rparen = Some(self.expect(Token::RParen)?);
            self.expect_semi()?;
        } else {
            specs.push(self.parse_spec(None, keyword, 0)?);
        }
        self.file.decl_arena.push(Decl::Gen {
            doc,
            pos,
            tok: keyword,
            lparen,
            specs,
            rparen,
        });
        Ok(DeclId(self.file.decl_arena.len() as u32 - 1))
    }

    fn parse_spec(
        &mut self,
        doc: Option<CommentGroupId>,
        keyword: Token,
        iota: usize,
    ) -> PResult<Spec> {
        match keyword {
            Token::Import => self.parse_import_spec(doc),
            Token::Type => self.parse_type_spec(doc),
            _ => self.parse_value_spec(doc, keyword, iota),
        }
    }

    fn parse_import_spec(&mut self, doc: Option<CommentGroupId>) -> PResult<Spec> {
        let spec_pos = self.pos;
        let name = match self.tok {
            Token::Ident => Some(self.parse_ident()?),
            Token::Period => {
                let span = Span {
                    pos: self.pos,
                    end: self.end,
                };
                self.next();
                Some(span)
            }
            _ => None,
        };
        let pos = self.pos;
        if self.tok != Token::String {
            self.expect(Token::String)?;
        }
        let lit = self.lit();
        let path = unquote(lit);
        if !path.as_deref().is_some_and(is_valid_import) {
            return self.error(pos, format!("invalid import path: {lit}"));
        }
        let path_expr = self.expr(Expr::BasicLit {
            span: Span { pos, end: self.end },
            kind: Token::String,
        });
        self.next();
        self.expect_semi()?;
        let comment = self.line_comment;
        self.file.imports.push(Import {
            name: name.map(|n| self.src[n.pos.offset()..n.end as usize].to_string()),
            path: path.unwrap_or_default(),
            pos: spec_pos,
        });
        Ok(Spec::Import {
            doc,
            name,
            path: path_expr,
            comment,
        })
    }

    fn parse_value_spec(
        &mut self,
        doc: Option<CommentGroupId>,
        keyword: Token,
        iota: usize,
    ) -> PResult<Spec> {
        let pos = self.pos;
        let names = self.parse_ident_list()?;
        let typ = self.try_ident_or_type()?;
        let mut values = ExprList::default();
        if self.tok == Token::Assign {
            self.next();
            values = self.parse_list(true)?;
        }
        self.expect_semi()?;
        if keyword == Token::Var && typ.is_none() && values.is_empty() {
            return self.error(pos, "missing variable type or initialization");
        }
        // Only a constant after the first of a group may omit its values (repeating the
        // previous ones), and only if it has no type.
        if keyword == Token::Const && values.is_empty() && (iota == 0 || typ.is_some()) {
            return self.error(pos, "missing constant value");
        }
        Ok(Spec::Value {
            doc,
            names,
            typ,
            values,
            comment: self.line_comment,
        })
    }

    fn parse_type_spec(&mut self, doc: Option<CommentGroupId>) -> PResult<Spec> {
        let name = self.parse_ident()?;
        let mut type_params = None;
        let mut assign = None;
        let typ;
        if self.tok == Token::LBrack {
            let lbrack = self.pos;
            self.next();
            if self.tok == Token::Ident {
                // An array type `[N]E` or a type parameter list `[P C]`: parse an expression and
                // look at its shape, as go/parser does.
                let ident = self.parse_ident()?;
                let mut x = self.expr(Expr::Ident(ident));
                if self.tok != Token::LBrack {
                    self.expr_lev += 1;
                    let lhs = self.parse_primary_expr(Some(x))?;
                    x = self.parse_binary_expr(Some(lhs), 1, false)?;
                    self.expr_lev -= 1;
                }
                let (pname, ptype) = self.extract_name(x, self.tok == Token::Comma);
                match pname {
                    Some(pname) if ptype.is_some() || self.tok != Token::RBrack => {
                        let list = self.parse_parameter_list(Some(pname), ptype, Token::RBrack)?;
                        let closing = self.expect(Token::RBrack)?;
                        type_params = Some(self.field_list(Some(lbrack), list, Some(closing)));
                        if self.tok == Token::Assign {
                            assign = Some(self.pos);
                            self.next();
                        }
                        typ = self.parse_type()?;
                    }
                    _ => typ = self.parse_array_type(lbrack, Some(x))?,
                }
            } else {
                typ = self.parse_array_type(lbrack, None)?;
            }
        } else {
            if self.tok == Token::Assign {
                assign = Some(self.pos);
                self.next();
            }
            typ = self.parse_type()?;
        }
        self.expect_semi()?;
        Ok(Spec::Type {
            doc,
            name,
            type_params,
            assign,
            typ,
            comment: self.line_comment,
        })
    }

    /// go/parser's `extractName`: splits `x` into a type parameter name and its constraint.
    fn extract_name(&mut self, x: ExprId, force: bool) -> (Option<Ident>, Option<ExprId>) {
        match self.get(x).clone() {
            Expr::Ident(id) => (Some(id), None),
            Expr::Binary {
                x: bx,
                op_pos,
                op: Token::Mul,
                y,
            } => {
                if let Expr::Ident(name) = self.get(bx).clone()
                    && (force || self.is_type_elem(y))
                {
                    let star = self.expr(Expr::Star { star: op_pos, x: y });
                    return (Some(name), Some(star));
                }
                (None, Some(x))
            }
            Expr::Binary {
                x: bx,
                op_pos,
                op: Token::Or,
                y,
            } => {
                let force = force || self.is_type_elem(y);
                if let (Some(name), Some(lhs)) = self.extract_name(bx, force) {
                    let op = self.expr(Expr::Binary {
                        x: lhs,
                        op_pos,
                        op: Token::Or,
                        y,
                    });
                    return (Some(name), Some(op));
                }
                (None, Some(x))
            }
            Expr::Call {
                fun,
                args,
                ellipsis: None,
                ..
            } => {
                if let Expr::Ident(name) = self.get(fun).clone()
                    && args.len() == 1
                    && (force || self.is_type_elem(self.item(args, 0)))
                {
                    return (Some(name), Some(self.item(args, 0)));
                }
                (None, Some(x))
            }
            _ => (None, Some(x)),
        }
    }

    /// Whether `x` can only be a type element (not an ordinary expression).
    fn is_type_elem(&self, x: ExprId) -> bool {
        match self.get(x) {
            Expr::ArrayType { .. }
            | Expr::StructType { .. }
            | Expr::FuncType { .. }
            | Expr::InterfaceType { .. }
            | Expr::MapType { .. }
            | Expr::ChanType { .. } => true,
            Expr::Binary { x, y, .. } => self.is_type_elem(*x) || self.is_type_elem(*y),
            Expr::Unary { op, .. } => *op == Token::Tilde,
            Expr::Paren { x, .. } => self.is_type_elem(*x),
            _ => false,
        }
    }

    fn parse_func_decl(&mut self) -> PResult<DeclId> {
        let doc = self.lead_comment;
        let pos = self.expect(Token::Func)?;
        let mut recv = None;
        if self.tok == Token::LParen {
            let (_, r) = self.parse_parameters(false)?;
            recv = Some(r);
        }
        let name = self.parse_ident()?;
        let (tparams, params) = self.parse_parameters(true)?;
        if recv.is_some()
            && let Some(tp) = tparams
        {
            let opening = self.file.fields(tp).opening.unwrap_or(pos);
            return self.error(opening, "method must have no type parameters");
        }
        let results = self.parse_result()?;
        let typ = self.expr(Expr::FuncType {
            func_pos: Some(pos),
            type_params: tparams,
            params,
            results,
        });
        let mut body = None;
        match self.tok {
            Token::LBrace => {
                body = Some(self.parse_body()?);
                self.expect_semi()?;
            }
            Token::Semicolon => {
                self.next();
                if self.tok == Token::LBrace {
                    return self.error(self.pos, "unexpected semicolon or newline before {");
                }
            }
            _ => self.expect_semi()?,
        }
        self.file.decl_arena.push(Decl::Func {
            doc,
            recv,
            name,
            typ,
            body,
            pos,
        });
        Ok(DeclId(self.file.decl_arena.len() as u32 - 1))
    }

    // ----- types -----

    fn parse_type(&mut self) -> PResult<ExprId> {
        match self.try_ident_or_type()? {
            Some(t) => Ok(t),
            None => self.error_expected(self.pos, "type"),
        }
    }

    fn parse_type_name(&mut self, ident: Option<Ident>) -> PResult<ExprId> {
        let ident = match ident {
            Some(i) => i,
            None => self.parse_ident()?,
        };
        let x = self.expr(Expr::Ident(ident));
        if self.tok == Token::Period {
            self.next();
            let sel = self.parse_ident()?;
            return Ok(self.expr(Expr::Selector { x, sel }));
        }
        Ok(x)
    }

    fn parse_qualified_ident(&mut self, ident: Option<Ident>) -> PResult<ExprId> {
        let typ = self.parse_type_name(ident)?;
        if self.tok == Token::LBrack {
            return self.parse_type_instance(typ);
        }
        Ok(typ)
    }

    fn parse_type_instance(&mut self, typ: ExprId) -> PResult<ExprId> {
        let opening = self.expect(Token::LBrack)?;
        self.expr_lev += 1;
        let mut list = Vec::new();
        while self.tok != Token::RBrack && self.tok != Token::Eof {
            list.push(self.parse_type()?);
            if !self.at_comma("type argument list", Token::RBrack)? {
                break;
            }
            self.next();
        }
        self.expr_lev -= 1;
        let closing = self.expect_closing(Token::RBrack, "type argument list")?;
        if list.is_empty() {
            return self.error_expected(closing, "type argument list");
        }
        Ok(self.pack_index(typ, opening, list, closing))
    }

    fn pack_index(&mut self, x: ExprId, lbrack: Pos, mut list: Vec<ExprId>, rbrack: Pos) -> ExprId {
        if list.len() == 1 {
            let index = list.pop().expect("one");
            self.expr(Expr::Index {
                x,
                lbrack,
                index,
                rbrack,
            })
        } else {
            let indices = self.list_of(&list);
            self.expr(Expr::IndexList {
                x,
                lbrack,
                indices,
                rbrack,
            })
        }
    }

    fn parse_array_type(&mut self, lbrack: Pos, len: Option<ExprId>) -> PResult<ExprId> {
        let mut len = len;
        if len.is_none() {
            self.expr_lev += 1;
            if self.tok == Token::Ellipsis {
                len = Some(self.expr(Expr::Ellipsis {
                    pos: self.pos,
                    elt: None,
                }));
                self.next();
            } else if self.tok != Token::RBrack {
                len = Some(self.parse_rhs()?);
            }
            self.expr_lev -= 1;
        }
        if self.tok == Token::Comma {
            return self.error(self.pos, "unexpected comma; expecting ]");
        }
        self.expect(Token::RBrack)?;
        let elt = self.parse_type()?;
        Ok(self.expr(Expr::ArrayType { lbrack, len, elt }))
    }

    fn parse_array_field_or_type_instance(&mut self, x: Ident) -> PResult<(Option<Ident>, ExprId)> {
        let lbrack = self.expect(Token::LBrack)?;
        let mut args = Vec::new();
        if self.tok != Token::RBrack {
            // Type arguments may be types that are not expressions (`T[struct{}]`).
            self.expr_lev += 1;
            args.push(self.parse_rhs_or_type()?);
            while self.tok == Token::Comma {
                self.next();
                args.push(self.parse_rhs_or_type()?);
            }
            self.expr_lev -= 1;
        }
        let rbrack = self.expect(Token::RBrack)?;
        if args.is_empty() {
            let elt = self.parse_type()?;
            return Ok((
                Some(x),
                self.expr(Expr::ArrayType {
                    lbrack,
                    len: None,
                    elt,
                }),
            ));
        }
        if args.len() == 1
            && let Some(elt) = self.try_ident_or_type()?
        {
            return Ok((
                Some(x),
                self.expr(Expr::ArrayType {
                    lbrack,
                    len: Some(args[0]),
                    elt,
                }),
            ));
        }
        let xid = self.expr(Expr::Ident(x));
        Ok((None, self.pack_index(xid, lbrack, args, rbrack)))
    }

    fn parse_field_decl(&mut self) -> PResult<Field> {
        let doc = self.lead_comment;
        let mut names = Vec::new();
        let typ;
        match self.tok {
            Token::Ident => {
                let name = self.parse_ident()?;
                if matches!(
                    self.tok,
                    Token::Period | Token::String | Token::Semicolon | Token::RBrace
                ) {
                    typ = if self.tok == Token::Period {
                        self.parse_qualified_ident(Some(name))?
                    } else {
                        self.expr(Expr::Ident(name))
                    };
                } else {
                    names.push(name);
                    while self.tok == Token::Comma {
                        self.next();
                        names.push(self.parse_ident()?);
                    }
                    if names.len() == 1 && self.tok == Token::LBrack {
                        let (n, t) = self.parse_array_field_or_type_instance(name)?;
                        if n.is_none() {
                            names.clear();
                        }
                        typ = t;
                    } else {
                        typ = self.parse_type()?;
                    }
                }
            }
            // An embedded type, possibly a pointer or generic (go/parser 1.19 parses any type here).
            _ => typ = self.parse_type()?,
        }
        let mut tag = None;
        if self.tok == Token::String {
            tag = Some(self.expr(Expr::BasicLit {
                span: Span {
                    pos: self.pos,
                    end: self.end,
                },
                kind: Token::String,
            }));
            self.next();
        }
        self.expect_semi()?;
        Ok(Field {
            doc,
            names,
            typ,
            tag,
            comment: self.line_comment,
        })
    }

    fn parse_struct_type(&mut self) -> PResult<ExprId> {
        let pos = self.expect(Token::Struct)?;
        let lbrace = self.expect(Token::LBrace)?;
        let mut list = Vec::new();
        while matches!(self.tok, Token::Ident | Token::Mul | Token::LParen) {
            list.push(self.parse_field_decl()?);
        }
        let rbrace = self.expect(Token::RBrace)?;
        let fields = self.field_list(Some(lbrace), list, Some(rbrace));
        Ok(self.expr(Expr::StructType { pos, fields }))
    }

    fn parse_pointer_type(&mut self) -> PResult<ExprId> {
        let star = self.expect(Token::Mul)?;
        let x = self.parse_type()?;
        Ok(self.expr(Expr::Star { star, x }))
    }

    fn parse_dots_type(&mut self) -> PResult<ExprId> {
        let pos = self.expect(Token::Ellipsis)?;
        let elt = self.parse_type()?;
        Ok(self.expr(Expr::Ellipsis {
            pos,
            elt: Some(elt),
        }))
    }

    /// One parameter: `(name, type)`, either may be absent.
    fn parse_param_decl(
        &mut self,
        name: Option<Ident>,
        type_sets_ok: bool,
    ) -> PResult<(Option<Ident>, Option<ExprId>)> {
        let mut f_name = None;
        let mut f_typ = None;
        if name.is_none() && type_sets_ok && self.tok == Token::Tilde {
            return Ok((None, Some(self.embedded_elem(None)?)));
        }
        if name.is_some() || self.tok == Token::Ident {
            f_name = match name {
                Some(n) => Some(n),
                None => Some(self.parse_ident()?),
            };
            match self.tok {
                Token::Ident
                | Token::Mul
                | Token::Arrow
                | Token::Func
                | Token::Chan
                | Token::Map
                | Token::Struct
                | Token::Interface
                | Token::LParen => {
                    f_typ = Some(self.parse_type()?);
                }
                Token::LBrack => {
                    let (n, t) =
                        self.parse_array_field_or_type_instance(f_name.expect("set above"))?;
                    f_name = n;
                    f_typ = Some(t);
                }
                Token::Ellipsis => {
                    f_typ = Some(self.parse_dots_type()?);
                    return Ok((f_name, f_typ));
                }
                Token::Period => {
                    f_typ = Some(self.parse_qualified_ident(f_name)?);
                    f_name = None;
                }
                Token::Tilde if type_sets_ok => {
                    f_typ = Some(self.embedded_elem(None)?);
                    return Ok((f_name, f_typ));
                }
                Token::Or if type_sets_ok => {
                    let first = self.expr(Expr::Ident(f_name.expect("set above")));
                    f_typ = Some(self.embedded_elem(Some(first))?);
                    return Ok((None, f_typ));
                }
                _ => {}
            }
        } else {
            match self.tok {
                Token::Mul
                | Token::Arrow
                | Token::Func
                | Token::LBrack
                | Token::Chan
                | Token::Map
                | Token::Struct
                | Token::Interface
                | Token::LParen => {
                    f_typ = Some(self.parse_type()?);
                }
                Token::Ellipsis => {
                    f_typ = Some(self.parse_dots_type()?);
                    return Ok((f_name, f_typ));
                }
                _ => return self.error_expected(self.pos, "')'"),
            }
        }
        if type_sets_ok
            && self.tok == Token::Or
            && let Some(t) = f_typ
        {
            f_typ = Some(self.embedded_elem(Some(t))?);
        }
        Ok((f_name, f_typ))
    }

    fn parse_parameter_list(
        &mut self,
        name0: Option<Ident>,
        typ0: Option<ExprId>,
        closing: Token,
    ) -> PResult<Vec<Field>> {
        let tparams = closing == Token::RBrack;
        let type_sets_ok = tparams;
        let pos = name0.map_or(self.pos, |n| n.pos);
        let mut name0 = name0;
        let mut typ0 = typ0;
        let mut list: Vec<(Option<Ident>, Option<ExprId>)> = Vec::new();
        let mut named = 0;
        while name0.is_some() || (self.tok != closing && self.tok != Token::Eof) {
            let par = if let Some(t) = typ0 {
                let t = if type_sets_ok {
                    self.embedded_elem(Some(t))?
                } else {
                    t
                };
                (name0, Some(t))
            } else {
                self.parse_param_decl(name0, type_sets_ok)?
            };
            name0 = None;
            typ0 = None;
            if par.0.is_some() || par.1.is_some() {
                if par.0.is_some() && par.1.is_some() {
                    named += 1;
                }
                list.push(par);
            }
            if !self.at_comma("parameter list", closing)? {
                break;
            }
            self.next();
        }
        if list.is_empty() {
            return Ok(Vec::new());
        }
        if named == 0 {
            for par in &mut list {
                if let Some(name) = par.0.take() {
                    par.1 = Some(self.expr(Expr::Ident(name)));
                }
            }
            if tparams {
                return self.error(pos, "type parameters must be named");
            }
        } else if named != list.len() {
            let mut ok = true;
            let mut typ = None;
            let mut missing = pos;
            for i in (0..list.len()).rev() {
                if let Some(t) = list[i].1 {
                    typ = Some(t);
                    if list[i].0.is_none() {
                        ok = false;
                        missing = self.expr_pos(t);
                    }
                } else if let Some(t) = typ {
                    list[i].1 = Some(t);
                } else {
                    ok = false;
                    missing = list[i].0.expect("a name without a type").pos;
                }
            }
            if !ok {
                if tparams {
                    return self.error(missing, "type parameters must be named");
                }
                return self.error(pos, "mixed named and unnamed parameters");
            }
        }
        let mut fields = Vec::new();
        if named == 0 {
            for (_, t) in list {
                fields.push(Field {
                    doc: None,
                    names: Vec::new(),
                    typ: t.expect("types only"),
                    tag: None,
                    comment: None,
                });
            }
            return Ok(fields);
        }
        let mut names: Vec<Ident> = Vec::new();
        let mut typ: Option<ExprId> = None;
        for (n, t) in list {
            if t != typ {
                if !names.is_empty() {
                    fields.push(Field {
                        doc: None,
                        names: std::mem::take(&mut names),
                        typ: typ.expect("typed"),
                        tag: None,
                        comment: None,
                    });
                }
                typ = t;
            }
            names.push(n.expect("all named"));
        }
        if !names.is_empty() {
            fields.push(Field {
                doc: None,
                names,
                typ: typ.expect("typed"),
                tag: None,
                comment: None,
            });
        }
        Ok(fields)
    }

    fn parse_parameters(
        &mut self,
        accept_tparams: bool,
    ) -> PResult<(Option<FieldListId>, FieldListId)> {
        let mut tparams = None;
        if accept_tparams && self.tok == Token::LBrack {
            let opening = self.pos;
            self.next();
            let list = self.parse_parameter_list(None, None, Token::RBrack)?;
            let rbrack = self.expect(Token::RBrack)?;
            if list.is_empty() {
                return self.error(rbrack, "empty type parameter list");
            }
            tparams = Some(self.field_list(Some(opening), list, Some(rbrack)));
        }
        let opening = self.expect(Token::LParen)?;
        let mut fields = Vec::new();
        if self.tok != Token::RParen {
            fields = self.parse_parameter_list(None, None, Token::RParen)?;
        }
        let rparen = self.expect(Token::RParen)?;
        Ok((
            tparams,
            self.field_list(Some(opening), fields, Some(rparen)),
        ))
    }

    fn parse_result(&mut self) -> PResult<Option<FieldListId>> {
        if self.tok == Token::LParen {
            let (_, results) = self.parse_parameters(false)?;
            return Ok(Some(results));
        }
        if let Some(typ) = self.try_ident_or_type()? {
            let field = Field {
                doc: None,
                names: Vec::new(),
                typ,
                tag: None,
                comment: None,
            };
            return Ok(Some(self.field_list(None, vec![field], None)));
        }
        Ok(None)
    }

    fn parse_func_type(&mut self) -> PResult<ExprId> {
        let pos = self.expect(Token::Func)?;
        let (tparams, params) = self.parse_parameters(true)?;
        if let Some(tp) = tparams {
            let at = self.file.fields(tp).opening.unwrap_or(pos);
            return self.error(at, "function type must have no type parameters");
        }
        let results = self.parse_result()?;
        Ok(self.expr(Expr::FuncType {
            func_pos: Some(pos),
            type_params: None,
            params,
            results,
        }))
    }

    fn parse_method_spec(&mut self) -> PResult<Field> {
        let doc = self.lead_comment;
        let mut names = Vec::new();
        let typ;
        let x = self.parse_type_name(None)?;
        if let Expr::Ident(ident) = *self.get(x) {
            match self.tok {
                Token::LBrack => {
                    let lbrack = self.pos;
                    self.next();
                    self.expr_lev += 1;
                    let first = self.parse_expr()?;
                    self.expr_lev -= 1;
                    if matches!(self.get(first), Expr::Ident(_))
                        && self.tok != Token::Comma
                        && self.tok != Token::RBrack
                    {
                        return self.error(lbrack, "interface method must have no type parameters");
                    }
                    let mut list = vec![first];
                    if self.at_comma("type argument list", Token::RBrack)? {
                        self.expr_lev += 1;
                        self.next();
                        while self.tok != Token::RBrack && self.tok != Token::Eof {
                            list.push(self.parse_type()?);
                            if !self.at_comma("type argument list", Token::RBrack)? {
                                break;
                            }
                            self.next();
                        }
                        self.expr_lev -= 1;
                    }
                    let rbrack = self.expect_closing(Token::RBrack, "type argument list")?;
                    typ = self.pack_index(x, lbrack, list, rbrack);
                }
                Token::LParen => {
                    names.push(ident);
                    let (_, params) = self.parse_parameters(false)?;
                    let results = self.parse_result()?;
                    typ = self.expr(Expr::FuncType {
                        func_pos: None,
                        type_params: None,
                        params,
                        results,
                    });
                }
                _ => typ = x,
            }
        } else {
            typ = if self.tok == Token::LBrack {
                self.parse_type_instance(x)?
            } else {
                x
            };
        }
        Ok(Field {
            doc,
            names,
            typ,
            tag: None,
            comment: None,
        })
    }

    fn embedded_elem(&mut self, x: Option<ExprId>) -> PResult<ExprId> {
        let mut x = match x {
            Some(x) => x,
            None => self.embedded_term()?,
        };
        while self.tok == Token::Or {
            let op_pos = self.pos;
            self.next();
            let y = self.embedded_term()?;
            x = self.expr(Expr::Binary {
                x,
                op_pos,
                op: Token::Or,
                y,
            });
        }
        Ok(x)
    }

    fn embedded_term(&mut self) -> PResult<ExprId> {
        if self.tok == Token::Tilde {
            let op_pos = self.pos;
            self.next();
            let x = self.parse_type()?;
            return Ok(self.expr(Expr::Unary {
                op_pos,
                op: Token::Tilde,
                x,
            }));
        }
        match self.try_ident_or_type()? {
            Some(t) => Ok(t),
            None => self.error_expected(self.pos, "~ term or type"),
        }
    }

    fn parse_interface_type(&mut self) -> PResult<ExprId> {
        let pos = self.expect(Token::Interface)?;
        let lbrace = self.expect(Token::LBrace)?;
        let mut list = Vec::new();
        loop {
            match self.tok {
                Token::Ident => {
                    let mut f = self.parse_method_spec()?;
                    if f.names.is_empty() {
                        f.typ = self.embedded_elem(Some(f.typ))?;
                    }
                    self.expect_semi()?;
                    f.comment = self.line_comment;
                    list.push(f);
                }
                Token::Tilde => {
                    let typ = self.embedded_elem(None)?;
                    self.expect_semi()?;
                    list.push(Field {
                        doc: None,
                        names: Vec::new(),
                        typ,
                        tag: None,
                        comment: self.line_comment,
                    });
                }
                _ => match self.try_ident_or_type()? {
                    Some(t) => {
                        let typ = self.embedded_elem(Some(t))?;
                        self.expect_semi()?;
                        list.push(Field {
                            doc: None,
                            names: Vec::new(),
                            typ,
                            tag: None,
                            comment: self.line_comment,
                        });
                    }
                    None => break,
                },
            }
        }
        let rbrace = self.expect(Token::RBrace)?;
        let methods = self.field_list(Some(lbrace), list, Some(rbrace));
        Ok(self.expr(Expr::InterfaceType { pos, methods }))
    }

    fn parse_map_type(&mut self) -> PResult<ExprId> {
        let pos = self.expect(Token::Map)?;
        self.expect(Token::LBrack)?;
        let key = self.parse_type()?;
        self.expect(Token::RBrack)?;
        let value = self.parse_type()?;
        Ok(self.expr(Expr::MapType { pos, key, value }))
    }

    fn parse_chan_type(&mut self) -> PResult<ExprId> {
        let begin = self.pos;
        let mut dir = ChanDir::Both;
        let mut arrow = None;
        if self.tok == Token::Chan {
            self.next();
            if self.tok == Token::Arrow {
                arrow = Some(self.pos);
                self.next();
                dir = ChanDir::Send;
            }
        } else {
            arrow = Some(self.expect(Token::Arrow)?);
            self.expect(Token::Chan)?;
            dir = ChanDir::Recv;
        }
        let value = self.parse_type()?;
        Ok(self.expr(Expr::ChanType {
            begin,
            arrow,
            dir,
            value,
        }))
    }

    fn try_ident_or_type(&mut self) -> PResult<Option<ExprId>> {
        self.nested(Self::try_ident_or_type_inner)
    }

    #[inline]
    fn try_ident_or_type_inner(&mut self) -> PResult<Option<ExprId>> {
        Ok(Some(match self.tok {
            Token::Ident => {
                let t = self.parse_type_name(None)?;
                if self.tok == Token::LBrack {
                    self.parse_type_instance(t)?
                } else {
                    t
                }
            }
            Token::LBrack => {
                let lbrack = self.expect(Token::LBrack)?;
                self.parse_array_type(lbrack, None)?
            }
            Token::Struct => self.parse_struct_type()?,
            Token::Mul => self.parse_pointer_type()?,
            Token::Func => self.parse_func_type()?,
            Token::Interface => self.parse_interface_type()?,
            Token::Map => self.parse_map_type()?,
            Token::Chan | Token::Arrow => self.parse_chan_type()?,
            Token::LParen => {
                let lparen = self.pos;
                self.next();
                let x = self.parse_type()?;
                let rparen = self.expect(Token::RParen)?;
                self.expr(Expr::Paren { lparen, x, rparen })
            }
            _ => return Ok(None),
        }))
    }

    // ----- blocks and statements -----

    fn parse_stmt_list(&mut self) -> PResult<StmtList> {
        let mark = self.scratch_stmts.len();
        while !matches!(
            self.tok,
            Token::Case | Token::Default | Token::RBrace | Token::Eof
        ) {
            let s = self.parse_stmt()?;
            self.scratch_stmts.push(s);
        }
        Ok(self.commit_stmts(mark))
    }

    fn parse_body(&mut self) -> PResult<StmtId> {
        let lbrace = self.expect(Token::LBrace)?;
        let list = self.parse_stmt_list()?;
        let rbrace = self.expect(Token::RBrace)?;
        Ok(self.stmt(Stmt::Block {
            lbrace,
            list,
            rbrace,
        }))
    }

    fn parse_block_stmt(&mut self) -> PResult<StmtId> {
        self.parse_body()
    }

    fn parse_stmt(&mut self) -> PResult<StmtId> {
        self.nested(Self::parse_stmt_inner)
    }

    #[inline]
    fn parse_stmt_inner(&mut self) -> PResult<StmtId> {
        match self.tok {
            Token::Const | Token::Type | Token::Var => {
                let d = self.parse_gen_decl(self.tok)?;
                Ok(self.stmt(Stmt::Decl(d)))
            }
            Token::Ident
            | Token::Int
            | Token::Float
            | Token::Imag
            | Token::Char
            | Token::String
            | Token::Func
            | Token::LParen
            | Token::LBrack
            | Token::Struct
            | Token::Map
            | Token::Chan
            | Token::Interface
            | Token::Add
            | Token::Sub
            | Token::Mul
            | Token::And
            | Token::Xor
            | Token::Arrow
            | Token::Not => {
                let (s, _) = self.parse_simple_stmt(SimpleMode::LabelOk)?;
                if !matches!(self.file.stmts[s.index()], Stmt::Labeled { .. }) {
                    self.expect_semi()?;
                }
                Ok(s)
            }
            Token::Go | Token::Defer => {
                let tok = self.tok;
                let pos = self.pos;
                self.next();
                let call = self.parse_call_expr(if tok == Token::Go { "go" } else { "defer" })?;
                self.expect_semi()?;
                Ok(self.stmt(if tok == Token::Go {
                    Stmt::Go { pos, call }
                } else {
                    Stmt::Defer { pos, call }
                }))
            }
            Token::Return => {
                let pos = self.pos;
                self.next();
                let mut results = ExprList::default();
                if self.tok != Token::Semicolon && self.tok != Token::RBrace {
                    results = self.parse_list(true)?;
                }
                self.expect_semi()?;
                Ok(self.stmt(Stmt::Return { pos, results }))
            }
            Token::Break | Token::Continue | Token::Goto | Token::Fallthrough => {
                let tok = self.tok;
                let pos = self.pos;
                self.next();
                let mut label = None;
                if tok != Token::Fallthrough && self.tok == Token::Ident {
                    label = Some(self.parse_ident()?);
                }
                self.expect_semi()?;
                Ok(self.stmt(Stmt::Branch { pos, tok, label }))
            }
            Token::LBrace => {
                let s = self.parse_block_stmt()?;
                self.expect_semi()?;
                Ok(s)
            }
            Token::If => self.parse_if_stmt(),
            Token::Switch => self.parse_switch_stmt(),
            Token::Select => self.parse_select_stmt(),
            Token::For => self.parse_for_stmt(),
            Token::Semicolon => {
                let implicit = self.is_implicit_semi();
                let semi = self.pos;
                self.next();
                Ok(self.stmt(Stmt::Empty { semi, implicit }))
            }
            Token::RBrace => Ok(self.stmt(Stmt::Empty {
                semi: self.pos,
                implicit: true,
            })),
            _ => self.error_expected(self.pos, "statement"),
        }
    }

    fn parse_simple_stmt(&mut self, mode: SimpleMode) -> PResult<(StmtId, bool)> {
        let x = self.parse_list(false)?;
        if self.tok.is_assign() {
            let (tok_pos, tok) = (self.pos, self.tok);
            self.next();
            let mut is_range = false;
            let rhs = if mode == SimpleMode::RangeOk
                && self.tok == Token::Range
                && (tok == Token::Define || tok == Token::Assign)
            {
                let pos = self.pos;
                self.next();
                let x = self.parse_rhs()?;
                is_range = true;
                let range = self.expr(Expr::Unary {
                    op_pos: pos,
                    op: Token::Range,
                    x,
                });
                self.list_of(&[range])
            } else {
                self.parse_list(true)?
            };
            if tok == Token::Define {
                self.check_assign_lhs(x)?;
            }
            return Ok((
                self.stmt(Stmt::Assign {
                    lhs: x,
                    tok_pos,
                    tok,
                    rhs,
                }),
                is_range,
            ));
        }
        let x0 = self.item(x, 0);
        if x.len() > 1 {
            return self.error_expected(self.expr_pos(x0), "1 expression");
        }
        match self.tok {
            Token::Colon => {
                let colon = self.pos;
                self.next();
                if let (SimpleMode::LabelOk, Expr::Ident(label)) = (mode, self.get(x0).clone()) {
                    let stmt = self.parse_stmt()?;
                    return Ok((self.stmt(Stmt::Labeled { label, colon, stmt }), false));
                }
                self.error(colon, "illegal label declaration")
            }
            Token::Arrow => {
                let arrow = self.pos;
                self.next();
                let value = self.parse_rhs()?;
                Ok((
                    self.stmt(Stmt::Send {
                        chan: x0,
                        arrow,
                        value,
                    }),
                    false,
                ))
            }
            Token::Inc | Token::Dec => {
                let s = Stmt::IncDec {
                    x: x0,
                    tok_pos: self.pos,
                    tok: self.tok,
                };
                self.next();
                Ok((self.stmt(s), false))
            }
            _ => Ok((self.stmt(Stmt::Expr(x0)), false)),
        }
    }

    fn check_assign_lhs(&self, lhs: ExprList) -> PResult<()> {
        for &x in self.file.list(lhs) {
            if !matches!(self.get(x), Expr::Ident(_)) {
                return self.error_expected(self.expr_pos(x), "identifier on left side of :=");
            }
        }
        Ok(())
    }

    fn parse_call_expr(&mut self, call_type: &str) -> PResult<ExprId> {
        let x = self.parse_rhs_or_type()?;
        if matches!(self.get(x), Expr::Call { .. }) {
            return Ok(x);
        }
        let end = self.file.expr_end(x);
        self.error(
            end,
            format!("function must be invoked in {call_type} statement"),
        )
    }

    fn make_expr(&self, s: Option<StmtId>, want: &str) -> PResult<Option<ExprId>> {
        let Some(s) = s else { return Ok(None) };
        match &self.file.stmts[s.index()] {
            Stmt::Expr(x) => {
                self.check_expr(*x)?;
                Ok(Some(*x))
            }
            other => {
                let found = if matches!(other, Stmt::Assign { .. }) {
                    "assignment"
                } else {
                    "simple statement"
                };
                self.error(self.file.stmt_pos(s), format!("expected {want}, found {found} (missing parentheses around composite literal?)"))
            }
        }
    }

    fn parse_if_header(&mut self) -> PResult<(Option<StmtId>, ExprId)> {
        if self.tok == Token::LBrace {
            return self.error(self.pos, "missing condition in if statement");
        }
        let prev_lev = self.expr_lev;
        self.expr_lev = -1;
        let mut init = None;
        if self.tok != Token::Semicolon {
            if self.tok == Token::Var {
                self.next();
                return self.error(self.pos, "var declaration not allowed in 'IF' initializer");
            }
            init = Some(self.parse_simple_stmt(SimpleMode::Basic)?.0);
        }
        let mut cond_stmt = None;
        let mut semi: Option<(Pos, bool)> = None;
        if self.tok != Token::LBrace {
            if self.tok == Token::Semicolon {
                semi = Some((self.pos, self.is_implicit_semi()));
                self.next();
            } else {
                self.expect(Token::Semicolon)?;
            }
            if self.tok != Token::LBrace {
                cond_stmt = Some(self.parse_simple_stmt(SimpleMode::Basic)?.0);
            }
        } else {
            cond_stmt = init.take();
        }
        let cond = if cond_stmt.is_some() {
            self.make_expr(cond_stmt, "boolean expression")?
        } else {
            match semi {
                Some((pos, true)) => {
                    return self.error(pos, "unexpected newline, expecting { after if clause");
                }
                Some((pos, false)) => return self.error(pos, "missing condition in if statement"),
                None => None,
            }
        };
        self.expr_lev = prev_lev;
        match cond {
            Some(c) => Ok((init, c)),
            None => self.error(self.pos, "missing condition in if statement"),
        }
    }

    fn parse_if_stmt(&mut self) -> PResult<StmtId> {
        self.enter()?;
        let pos = self.expect(Token::If)?;
        let (init, cond) = self.parse_if_header()?;
        let body = self.parse_block_stmt()?;
        let mut els = None;
        if self.tok == Token::Else {
            self.next();
            match self.tok {
                Token::If => els = Some(self.parse_if_stmt()?),
                Token::LBrace => {
                    els = Some(self.parse_block_stmt()?);
                    self.expect_semi()?;
                }
                _ => return self.error_expected(self.pos, "if statement or block"),
            }
        } else {
            self.expect_semi()?;
        }
        self.leave();
        Ok(self.stmt(Stmt::If {
            pos,
            init,
            cond,
            body,
            els,
        }))
    }

    fn parse_case_clause(&mut self, type_switch: bool) -> PResult<StmtId> {
        let pos = self.pos;
        let mut list = None;
        if self.tok == Token::Case {
            self.next();
            list = Some(if type_switch {
                let mark = self.scratch.len();
                let first = self.parse_type()?;
                self.scratch.push(first);
                while self.tok == Token::Comma {
                    self.next();
                    let t = self.parse_type()?;
                    self.scratch.push(t);
                }
                self.commit(mark)
            } else {
                self.parse_list(true)?
            });
        } else {
            self.expect(Token::Default)?;
        }
        let colon = self.expect(Token::Colon)?;
        let body = self.parse_stmt_list()?;
        Ok(self.stmt(Stmt::CaseClause {
            pos,
            list,
            colon,
            body,
        }))
    }

    fn is_type_switch_assert(&self, x: ExprId) -> bool {
        matches!(self.get(x), Expr::TypeAssert { typ: None, .. })
    }

    fn is_type_switch_guard(&self, s: Option<StmtId>) -> PResult<bool> {
        let Some(s) = s else { return Ok(false) };
        match &self.file.stmts[s.index()] {
            Stmt::Expr(x) => Ok(self.is_type_switch_assert(*x)),
            Stmt::Assign {
                lhs,
                tok_pos,
                tok,
                rhs,
            } if lhs.len() == 1
                && rhs.len() == 1
                && self.is_type_switch_assert(self.item(*rhs, 0)) =>
            {
                match tok {
                    Token::Assign => self.error(*tok_pos, "expected ':=', found '='"),
                    Token::Define => Ok(true),
                    _ => Ok(false),
                }
            }
            _ => Ok(false),
        }
    }

    fn parse_switch_stmt(&mut self) -> PResult<StmtId> {
        let pos = self.expect(Token::Switch)?;
        let (mut s1, mut s2) = (None, None);
        if self.tok != Token::LBrace {
            let prev_lev = self.expr_lev;
            self.expr_lev = -1;
            if self.tok != Token::Semicolon {
                s2 = Some(self.parse_simple_stmt(SimpleMode::Basic)?.0);
            }
            if self.tok == Token::Semicolon {
                self.next();
                s1 = s2.take();
                if self.tok != Token::LBrace {
                    s2 = Some(self.parse_simple_stmt(SimpleMode::Basic)?.0);
                }
            }
            self.expr_lev = prev_lev;
        }
        let type_switch = self.is_type_switch_guard(s2)?;
        let lbrace = self.expect(Token::LBrace)?;
        let mark = self.scratch_stmts.len();
        while self.tok == Token::Case || self.tok == Token::Default {
            let clause = self.parse_case_clause(type_switch)?;
            self.scratch_stmts.push(clause);
        }
        let list = self.commit_stmts(mark);
        let rbrace = self.expect(Token::RBrace)?;
        self.expect_semi()?;
        let body = self.stmt(Stmt::Block {
            lbrace,
            list,
            rbrace,
        });
        if type_switch {
            return Ok(self.stmt(Stmt::TypeSwitch {
                pos,
                init: s1,
                assign: s2.expect("a guard"),
                body,
            }));
        }
        let tag = self.make_expr(s2, "switch expression")?;
        Ok(self.stmt(Stmt::Switch {
            pos,
            init: s1,
            tag,
            body,
        }))
    }

    fn parse_comm_clause(&mut self) -> PResult<StmtId> {
        let pos = self.pos;
        let mut comm = None;
        if self.tok == Token::Case {
            self.next();
            let lhs = self.parse_list(false)?;
            if self.tok == Token::Arrow {
                if lhs.len() > 1 {
                    return self.error_expected(self.expr_pos(self.item(lhs, 0)), "1 expression");
                }
                let arrow = self.pos;
                self.next();
                let value = self.parse_rhs()?;
                comm = Some(self.stmt(Stmt::Send {
                    chan: self.item(lhs, 0),
                    arrow,
                    value,
                }));
            } else if self.tok == Token::Assign || self.tok == Token::Define {
                let tok = self.tok;
                if lhs.len() > 2 {
                    return self
                        .error_expected(self.expr_pos(self.item(lhs, 0)), "1 or 2 expressions");
                }
                let tok_pos = self.pos;
                self.next();
                let rhs = self.parse_rhs()?;
                let rhs = self.list_of(&[rhs]);
                if tok == Token::Define {
                    self.check_assign_lhs(lhs)?;
                }
                comm = Some(self.stmt(Stmt::Assign {
                    lhs,
                    tok_pos,
                    tok,
                    rhs,
                }));
            } else {
                if lhs.len() > 1 {
                    return self.error_expected(self.expr_pos(self.item(lhs, 0)), "1 expression");
                }
                comm = Some(self.stmt(Stmt::Expr(self.item(lhs, 0))));
            }
        } else {
            self.expect(Token::Default)?;
        }
        let colon = self.expect(Token::Colon)?;
        let body = self.parse_stmt_list()?;
        Ok(self.stmt(Stmt::CommClause {
            pos,
            comm,
            colon,
            body,
        }))
    }

    fn parse_select_stmt(&mut self) -> PResult<StmtId> {
        let pos = self.expect(Token::Select)?;
        let lbrace = self.expect(Token::LBrace)?;
        let mark = self.scratch_stmts.len();
        while self.tok == Token::Case || self.tok == Token::Default {
            let clause = self.parse_comm_clause()?;
            self.scratch_stmts.push(clause);
        }
        let list = self.commit_stmts(mark);
        let rbrace = self.expect(Token::RBrace)?;
        self.expect_semi()?;
        let body = self.stmt(Stmt::Block {
            lbrace,
            list,
            rbrace,
        });
        Ok(self.stmt(Stmt::Select { pos, body }))
    }

    fn parse_for_stmt(&mut self) -> PResult<StmtId> {
        let pos = self.expect(Token::For)?;
        let (mut s1, mut s2, mut s3) = (None, None, None);
        let mut is_range = false;
        if self.tok != Token::LBrace {
            let prev_lev = self.expr_lev;
            self.expr_lev = -1;
            if self.tok != Token::Semicolon {
                if self.tok == Token::Range {
                    let range_pos = self.pos;
                    self.next();
                    let x = self.parse_rhs()?;
                    let y = self.expr(Expr::Unary {
                        op_pos: range_pos,
                        op: Token::Range,
                        x,
                    });
                    let rhs = self.list_of(&[y]);
                    s2 = Some(self.stmt(Stmt::Assign {
                        lhs: ExprList::default(),
                        tok_pos: range_pos,
                        tok: Token::Illegal,
                        rhs,
                    }));
                    is_range = true;
                } else {
                    let (s, r) = self.parse_simple_stmt(SimpleMode::RangeOk)?;
                    s2 = Some(s);
                    is_range = r;
                }
            }
            if !is_range && self.tok == Token::Semicolon {
                self.next();
                s1 = s2.take();
                if self.tok != Token::Semicolon {
                    s2 = Some(self.parse_simple_stmt(SimpleMode::Basic)?.0);
                }
                self.expect_semi()?;
                if self.tok != Token::LBrace {
                    s3 = Some(self.parse_simple_stmt(SimpleMode::Basic)?.0);
                }
            }
            self.expr_lev = prev_lev;
        }
        let body = self.parse_block_stmt()?;
        self.expect_semi()?;
        if is_range {
            let Stmt::Assign {
                lhs,
                tok_pos,
                tok,
                rhs,
            } = self.file.stmts[s2.expect("range clause").index()].clone()
            else {
                unreachable!("a range clause is an assignment")
            };
            let (key, value) = match lhs.len() {
                0 => (None, None),
                1 => (Some(self.item(lhs, 0)), None),
                2 => (Some(self.item(lhs, 0)), Some(self.item(lhs, 1))),
                _ => {
                    return self.error_expected(
                        self.expr_pos(self.item(lhs, lhs.len() - 1)),
                        "at most 2 expressions",
                    );
                }
            };
            let Expr::Unary {
                op_pos: range_pos,
                x,
                ..
            } = *self.get(self.item(rhs, 0))
            else {
                unreachable!("a range clause's right side is `range x`")
            };
            let has_tok = tok != Token::Illegal;
            return Ok(self.stmt(Stmt::Range {
                pos,
                key,
                value,
                tok_pos: has_tok.then_some(tok_pos),
                tok,
                range_pos,
                x,
                body,
            }));
        }
        let cond = self.make_expr(s2, "boolean or range expression")?;
        Ok(self.stmt(Stmt::For {
            pos,
            init: s1,
            cond,
            post: s3,
            body,
        }))
    }

    // ----- expressions -----

    fn parse_list(&mut self, in_rhs: bool) -> PResult<ExprList> {
        let old = self.in_rhs;
        self.in_rhs = in_rhs;
        let mark = self.scratch.len();
        let first = self.parse_expr()?;
        self.check_expr(first)?;
        self.scratch.push(first);
        while self.tok == Token::Comma {
            self.next();
            let x = self.parse_expr()?;
            self.check_expr(x)?;
            self.scratch.push(x);
        }
        self.in_rhs = old;
        Ok(self.commit(mark))
    }

    fn parse_rhs(&mut self) -> PResult<ExprId> {
        self.parse_rhs_as(false)
    }

    fn parse_rhs_or_type(&mut self) -> PResult<ExprId> {
        self.parse_rhs_as(true)
    }

    /// An expression on a right-hand side; `or_type` also accepts a type (a conversion's or a
    /// builtin's argument).
    fn parse_rhs_as(&mut self, or_type: bool) -> PResult<ExprId> {
        let old = std::mem::replace(&mut self.in_rhs, true);
        let x = self.parse_expr()?;
        if or_type {
            self.check_expr_or_type(x)?;
        } else {
            self.check_expr(x)?;
        }
        self.in_rhs = old;
        Ok(x)
    }

    fn parse_expr(&mut self) -> PResult<ExprId> {
        self.parse_binary_expr(None, 1, true)
    }

    /// `x` must be an expression, not a type.
    fn check_expr(&self, x: ExprId) -> PResult<()> {
        match self.get(self.unparen(x)) {
            Expr::Bad(_)
            | Expr::Ident(_)
            | Expr::BasicLit { .. }
            | Expr::FuncLit { .. }
            | Expr::CompositeLit { .. }
            | Expr::Selector { .. }
            | Expr::Index { .. }
            | Expr::IndexList { .. }
            | Expr::Slice { .. }
            | Expr::TypeAssert { .. }
            | Expr::Call { .. }
            | Expr::Star { .. }
            | Expr::Unary { .. }
            | Expr::Binary { .. } => Ok(()),
            _ => self.error_expected(self.expr_pos(x), "expression"),
        }
    }

    /// `x` must be an expression or a type, not a raw `[...]T`.
    fn check_expr_or_type(&self, x: ExprId) -> PResult<()> {
        if let Expr::ArrayType { len: Some(len), .. } = self.get(self.unparen(x))
            && let Expr::Ellipsis { pos, elt: None } = self.get(*len)
        {
            return self.error(*pos, "expected array length, found '...'");
        }
        Ok(())
    }

    fn parse_binary_expr(&mut self, x: Option<ExprId>, prec1: u8, check: bool) -> PResult<ExprId> {
        self.enter()?;
        let mut x = match x {
            Some(x) => x,
            None => self.parse_unary_expr()?,
        };
        loop {
            let mut op = self.tok;
            if self.in_rhs && op == Token::Assign {
                op = Token::Eql;
            }
            let oprec = op.precedence();
            if oprec < prec1 || oprec == 0 {
                break;
            }
            let op_pos = self.expect(op)?;
            let y = self.parse_binary_expr(None, oprec + 1, check)?;
            if check {
                self.check_expr(x)?;
                self.check_expr(y)?;
            }
            x = self.expr(Expr::Binary { x, op_pos, op, y });
        }
        self.leave();
        Ok(x)
    }

    fn parse_unary_expr(&mut self) -> PResult<ExprId> {
        self.nested(Self::parse_unary_expr_inner)
    }

    #[inline]
    fn parse_unary_expr_inner(&mut self) -> PResult<ExprId> {
        match self.tok {
            Token::Add | Token::Sub | Token::Not | Token::Xor | Token::And | Token::Tilde => {
                let (op_pos, op) = (self.pos, self.tok);
                self.next();
                let x = self.parse_unary_expr()?;
                self.check_expr(x)?;
                Ok(self.expr(Expr::Unary { op_pos, op, x }))
            }
            Token::Arrow => {
                let arrow = self.pos;
                self.next();
                let x = self.parse_unary_expr()?;
                if let Expr::ChanType { .. } = self.get(x) {
                    // `<-chan T`: re-associate the arrow with the channel type(s).
                    let mut arrow = arrow;
                    let mut dir = ChanDir::Send;
                    let mut cur = Some(x);
                    while let Some(c) = cur {
                        if dir != ChanDir::Send {
                            break;
                        }
                        let Expr::ChanType {
                            arrow: a,
                            dir: d,
                            value,
                            ..
                        } = self.get(c).clone()
                        else {
                            break;
                        };
                        if d == ChanDir::Recv {
                            return self.error_expected(a.unwrap_or(arrow), "'chan'");
                        }
                        let new_arrow = a.unwrap_or(arrow);
                        self.file.exprs[c.index()] = Expr::ChanType {
                            begin: arrow,
                            arrow: Some(arrow),
                            dir: ChanDir::Recv,
                            value,
                        };
                        arrow = new_arrow;
                        dir = d;
                        cur = matches!(self.get(value), Expr::ChanType { .. }).then_some(value);
                    }
                    if dir == ChanDir::Send {
                        return self.error_expected(arrow, "channel type");
                    }
                    return Ok(x);
                }
                self.check_expr(x)?;
                Ok(self.expr(Expr::Unary {
                    op_pos: arrow,
                    op: Token::Arrow,
                    x,
                }))
            }
            Token::Mul => {
                let star = self.pos;
                self.next();
                let x = self.parse_unary_expr()?;
                self.check_expr_or_type(x)?;
                Ok(self.expr(Expr::Star { star, x }))
            }
            _ => self.parse_primary_expr(None),
        }
    }

    #[inline]
    fn parse_operand(&mut self) -> PResult<ExprId> {
        match self.tok {
            Token::Ident => {
                let id = self.parse_ident()?;
                Ok(self.expr(Expr::Ident(id)))
            }
            Token::Int | Token::Float | Token::Imag | Token::Char | Token::String => {
                let e = Expr::BasicLit {
                    span: Span {
                        pos: self.pos,
                        end: self.end,
                    },
                    kind: self.tok,
                };
                self.next();
                Ok(self.expr(e))
            }
            Token::LParen => {
                let lparen = self.pos;
                self.next();
                self.expr_lev += 1;
                let x = self.parse_rhs_or_type()?;
                self.expr_lev -= 1;
                let rparen = self.expect(Token::RParen)?;
                Ok(self.expr(Expr::Paren { lparen, x, rparen }))
            }
            Token::Func => {
                let typ = self.parse_func_type()?;
                if self.tok != Token::LBrace {
                    return Ok(typ);
                }
                self.expr_lev += 1;
                let body = self.parse_body()?;
                self.expr_lev -= 1;
                Ok(self.expr(Expr::FuncLit { typ, body }))
            }
            _ => match self.try_ident_or_type()? {
                Some(t) => Ok(t),
                None => self.error_expected(self.pos, "operand"),
            },
        }
    }

    fn parse_primary_expr(&mut self, x: Option<ExprId>) -> PResult<ExprId> {
        let mut x = match x {
            Some(x) => x,
            None => self.parse_operand()?,
        };
        loop {
            match self.tok {
                Token::Period => {
                    self.next();
                    match self.tok {
                        Token::Ident => {
                            self.check_expr_or_type(x)?;
                            let sel = self.parse_ident()?;
                            x = self.expr(Expr::Selector { x, sel });
                        }
                        Token::LParen => {
                            self.check_expr(x)?;
                            let lparen = self.expect(Token::LParen)?;
                            let typ = if self.tok == Token::Type {
                                self.next();
                                None
                            } else {
                                Some(self.parse_type()?)
                            };
                            let rparen = self.expect(Token::RParen)?;
                            x = self.expr(Expr::TypeAssert {
                                x,
                                lparen,
                                typ,
                                rparen,
                            });
                        }
                        _ => return self.error_expected(self.pos, "selector or type assertion"),
                    }
                }
                Token::LBrack => {
                    self.check_expr(x)?;
                    x = self.parse_index_or_slice_or_instance(x)?;
                }
                Token::LParen => {
                    self.check_expr_or_type(x)?;
                    x = self.parse_call_or_conversion(x)?;
                }
                Token::LBrace => {
                    let t = self.unparen(x);
                    let complit_type = match self.get(t) {
                        Expr::Bad(_)
                        | Expr::Ident(_)
                        | Expr::Selector { .. }
                        | Expr::Index { .. }
                        | Expr::IndexList { .. } => {
                            if self.expr_lev < 0 {
                                return Ok(x);
                            }
                            true
                        }
                        Expr::ArrayType { .. } | Expr::StructType { .. } | Expr::MapType { .. } => {
                            true
                        }
                        _ => false,
                    };
                    if !complit_type {
                        return Ok(x);
                    }
                    if t != x {
                        return self.error(
                            self.expr_pos(t),
                            "cannot parenthesize type in composite literal",
                        );
                    }
                    x = self.parse_literal_value(Some(x))?;
                }
                _ => return Ok(x),
            }
        }
    }

    fn parse_index_or_slice_or_instance(&mut self, x: ExprId) -> PResult<ExprId> {
        let lbrack = self.expect(Token::LBrack)?;
        if self.tok == Token::RBrack {
            return self.error_expected(self.pos, "operand");
        }
        self.expr_lev += 1;
        let mut index: [Option<ExprId>; 3] = [None; 3];
        let mut colons = [Pos(0); 2];
        let mut args = Vec::new();
        let mut ncolons = 0;
        if self.tok != Token::Colon {
            index[0] = Some(self.parse_rhs_or_type()?);
        }
        match self.tok {
            Token::Colon => {
                while self.tok == Token::Colon && ncolons < 2 {
                    colons[ncolons] = self.pos;
                    ncolons += 1;
                    self.next();
                    if self.tok != Token::Colon
                        && self.tok != Token::RBrack
                        && self.tok != Token::Eof
                    {
                        index[ncolons] = Some(self.parse_rhs()?);
                    }
                }
            }
            Token::Comma => {
                args.push(index[0].expect("parsed before the comma"));
                while self.tok == Token::Comma {
                    self.next();
                    if self.tok != Token::RBrack && self.tok != Token::Eof {
                        args.push(self.parse_type()?);
                    }
                }
            }
            _ => {}
        }
        self.expr_lev -= 1;
        let rbrack = self.expect(Token::RBrack)?;
        if ncolons > 0 {
            let slice3 = ncolons == 2;
            if slice3 {
                if index[1].is_none() {
                    return self.error(colons[0], "2nd index required in 3-index slice");
                }
                if index[2].is_none() {
                    return self.error(colons[1], "3rd index required in 3-index slice");
                }
            }
            return Ok(self.expr(Expr::Slice {
                x,
                lbrack,
                low: index[0],
                high: index[1],
                max: index[2],
                slice3,
                rbrack,
            }));
        }
        if args.is_empty() {
            let index = index[0].expect("an index");
            return Ok(self.expr(Expr::Index {
                x,
                lbrack,
                index,
                rbrack,
            }));
        }
        Ok(self.pack_index(x, lbrack, args, rbrack))
    }

    fn parse_call_or_conversion(&mut self, fun: ExprId) -> PResult<ExprId> {
        let lparen = self.expect(Token::LParen)?;
        self.expr_lev += 1;
        let mark = self.scratch.len();
        let mut ellipsis = None;
        while self.tok != Token::RParen && self.tok != Token::Eof && ellipsis.is_none() {
            let arg = self.parse_rhs_or_type()?;
            self.scratch.push(arg);
            if self.tok == Token::Ellipsis {
                ellipsis = Some(self.pos);
                self.next();
            }
            if !self.at_comma("argument list", Token::RParen)? {
                break;
            }
            self.next();
        }
        self.expr_lev -= 1;
        let rparen = self.expect_closing(Token::RParen, "argument list")?;
        let args = self.commit(mark);
        Ok(self.expr(Expr::Call {
            fun,
            lparen,
            args,
            ellipsis,
            rparen,
        }))
    }

    fn parse_value(&mut self) -> PResult<ExprId> {
        if self.tok == Token::LBrace {
            return self.parse_literal_value(None);
        }
        let x = self.parse_expr()?;
        self.check_expr(x)?;
        Ok(x)
    }

    fn parse_element(&mut self) -> PResult<ExprId> {
        let x = self.parse_value()?;
        if self.tok == Token::Colon {
            let colon = self.pos;
            self.next();
            let value = self.parse_value()?;
            return Ok(self.expr(Expr::KeyValue {
                key: x,
                colon,
                value,
            }));
        }
        Ok(x)
    }

    fn parse_literal_value(&mut self, typ: Option<ExprId>) -> PResult<ExprId> {
        self.enter()?;
        let lbrace = self.expect(Token::LBrace)?;
        let mark = self.scratch.len();
        self.expr_lev += 1;
        while self.tok != Token::RBrace && self.tok != Token::Eof {
            let elt = self.parse_element()?;
            self.scratch.push(elt);
            if !self.at_comma("composite literal", Token::RBrace)? {
                break;
            }
            self.next();
        }
        self.expr_lev -= 1;
        let rbrace = self.expect_closing(Token::RBrace, "composite literal")?;
        let elts = self.commit(mark);
        self.leave();
        Ok(self.expr(Expr::CompositeLit {
            typ,
            lbrace,
            elts,
            rbrace,
        }))
    }
}

/// The value of a Go string literal (interpreted or raw), if it is well formed.
pub fn unquote(lit: &str) -> Option<String> {
    if let Some(raw) = lit.strip_prefix('`') {
        return Some(raw.strip_suffix('`')?.replace('\r', ""));
    }
    let body = lit.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let (n, radix) = match e {
            '0'..='7' => (3, 8),
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => return None,
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(e);
        }
        while digits.len() < n {
            digits.push(chars.next()?);
        }
        let v = u32::from_str_radix(&digits, radix).ok()?;
        if e == 'x' || radix == 8 {
            // A byte: keep it as the char of that value (paths are ASCII in practice).
            out.push(char::from_u32(v)?);
        } else {
            out.push(char::from_u32(v)?);
        }
    }
    Some(out)
}

/// go/parser's `isValidImport`.
fn is_valid_import(path: &str) -> bool {
    const ILLEGAL: &str = "!\"#$%&'()*,:;<=>?[\\]^{|}`\u{FFFD}";
    !path.is_empty()
        && path.chars().all(|c| {
            !c.is_whitespace() && !c.is_control() && !ILLEGAL.contains(c) && c != '\u{00A0}'
        })
}
