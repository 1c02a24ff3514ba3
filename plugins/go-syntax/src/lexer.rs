//! The Go lexer, after `go/scanner`: automatic semicolon insertion, every literal form, the
//! same validity rules (digit separators, escapes, legacy octal, hex floats) and comments as
//! tokens.

use crate::token::{Pos, Token};

/// One token: its kind and the byte range of its text. An automatically inserted semicolon
/// has an empty range (its text is a newline or the end of the file in Go's terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tok {
    /// The kind.
    pub tok: Token,
    /// Where it starts.
    pub pos: Pos,
    /// Where it ends (exclusive).
    pub end: u32,
}

/// A lexical error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// Where.
    pub pos: Pos,
    /// What, in go/scanner's words.
    pub message: String,
}

/// Scans a source file.
pub struct Lexer<'a> {
    src: &'a [u8],
    i: usize,
    insert_semi: bool,
    /// Errors so far, in order.
    pub errors: Vec<LexError>,
}

/// Checks what go/scanner checks on every character: UTF-8, NUL, and byte order marks past the
/// start. Returns the first problem.
pub fn check_encoding(src: &[u8]) -> Option<LexError> {
    let mut first: Option<LexError> = None;
    let mut note = |offset: usize, message: &str| {
        if first.as_ref().is_none_or(|e| (offset as u32) < e.pos.0) {
            first = Some(LexError {
                pos: Pos(offset as u32),
                message: message.to_string(),
            });
        }
    };
    if let Err(e) = std::str::from_utf8(src) {
        note(e.valid_up_to(), "illegal UTF-8 encoding");
    }
    if let Some(i) = crate::bytes::find(src, 0) {
        note(i, "illegal character NUL");
    }
    let mut from = 1;
    while let Some(i) = src
        .get(from..)
        .and_then(|rest| crate::bytes::find(rest, 0xEF))
    {
        let at = from + i;
        if src[at..].starts_with(&[0xEF, 0xBB, 0xBF]) {
            note(at, "illegal byte order mark");
            break;
        }
        from = at + 1;
    }
    first
}

/// 1 for the ASCII bytes that continue an identifier: letters, digits, `_`.
static IDENT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' {
            t[b] = 1;
        }
        b += 1;
    }
    t
};

fn lower(b: u8) -> u8 {
    b | 0x20
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn lit_name(prefix: u8) -> &'static str {
    match prefix {
        b'x' => "hexadecimal literal",
        b'o' | b'0' => "octal literal",
        b'b' => "binary literal",
        _ => "decimal literal",
    }
}

/// The index of the first misplaced `_` in a number literal, as go/scanner's `invalidSep`.
fn invalid_sep(x: &[u8]) -> Option<usize> {
    let mut x1 = b' ';
    let mut d = b'.';
    let mut i = 0;
    if x.len() >= 2 && x[0] == b'0' {
        x1 = lower(x[1]);
        if matches!(x1, b'x' | b'o' | b'b') {
            d = b'0';
            i = 2;
        }
    }
    while i < x.len() {
        let p = d;
        d = x[i];
        if d == b'_' {
            if p != b'0' {
                return Some(i);
            }
        } else if d.is_ascii_digit() || (x1 == b'x' && is_hex(d)) {
            d = b'0';
        } else {
            if p == b'_' {
                return Some(i - 1);
            }
            d = b'.';
        }
        i += 1;
    }
    if d == b'_' { Some(x.len() - 1) } else { None }
}

impl<'a> Lexer<'a> {
    /// A lexer over `src`, skipping a leading byte order mark.
    pub fn new(src: &'a [u8]) -> Self {
        let i = if src.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            0
        };
        Lexer {
            src,
            i,
            insert_semi: false,
            errors: Vec::new(),
        }
    }

    fn error(&mut self, at: usize, message: impl Into<String>) {
        self.errors.push(LexError {
            pos: Pos(at as u32),
            message: message.into(),
        });
    }

    #[inline]
    fn peek(&self, k: usize) -> u8 {
        self.src.get(self.i + k).copied().unwrap_or(0)
    }

    #[inline]
    fn at_end(&self) -> bool {
        self.i >= self.src.len()
    }

    /// The character at `i` (source already validated as UTF-8), and its length.
    fn char_at(&self, i: usize) -> (char, usize) {
        let b = self.src[i];
        if b < 0x80 {
            return (b as char, 1);
        }
        let len = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let end = (i + len).min(self.src.len());
        match std::str::from_utf8(&self.src[i..end])
            .ok()
            .and_then(|s| s.chars().next())
        {
            Some(c) => (c, c.len_utf8()),
            None => (char::REPLACEMENT_CHARACTER, 1),
        }
    }

    /// Whether the rest of the line after a comment start holds only comments (go/scanner's
    /// `findLineEnd`): then a semicolon is due before the comment.
    fn find_line_end(&self) -> bool {
        let src = self.src;
        let mut i = self.i;
        loop {
            if i + 1 >= src.len() {
                return true;
            }
            if src[i] == b'/' && src[i + 1] == b'/' {
                return true;
            }
            if src[i] == b'/' && src[i + 1] == b'*' {
                let body = i + 2;
                match crate::bytes::find_comment_end(src, body) {
                    Some(close) => {
                        if crate::bytes::find(&src[body..close], b'\n').is_some() {
                            return true;
                        }
                        i = close + 2;
                    }
                    None => return true,
                }
                while i < src.len() && matches!(src[i], b' ' | b'\t' | b'\r') {
                    i += 1;
                }
                if i >= src.len() || src[i] == b'\n' {
                    return true;
                }
                if src[i] != b'/' {
                    return false;
                }
                continue;
            }
            return false;
        }
    }

    /// The next token.
    #[inline(always)]
    pub fn next_token(&mut self) -> Tok {
        while !self.at_end() {
            match self.src[self.i] {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' if !self.insert_semi => self.i += 1,
                _ => break,
            }
        }
        let start = self.i;
        if self.at_end() {
            if self.insert_semi {
                self.insert_semi = false;
                return Tok {
                    tok: Token::Semicolon,
                    pos: Pos(start as u32),
                    end: start as u32,
                };
            }
            return Tok {
                tok: Token::Eof,
                pos: Pos(start as u32),
                end: start as u32,
            };
        }
        let c = self.src[self.i];
        if c == b'\n' {
            self.i += 1;
            self.insert_semi = false;
            return Tok {
                tok: Token::Semicolon,
                pos: Pos(start as u32),
                end: start as u32,
            };
        }
        if c == b'/' && (self.peek(1) == b'/' || self.peek(1) == b'*') {
            if self.insert_semi && self.find_line_end() {
                self.insert_semi = false;
                return Tok {
                    tok: Token::Semicolon,
                    pos: Pos(start as u32),
                    end: start as u32,
                };
            }
            self.scan_comment();
            return Tok {
                tok: Token::Comment,
                pos: Pos(start as u32),
                end: self.i as u32,
            };
        }
        let (tok, semi) = self.scan_token(c);
        self.insert_semi = semi;
        Tok {
            tok,
            pos: Pos(start as u32),
            end: self.i as u32,
        }
    }

    fn scan_comment(&mut self) {
        let start = self.i;
        if self.peek(1) == b'/' {
            self.i = match crate::bytes::find(&self.src[self.i..], b'\n') {
                Some(n) => self.i + n,
                None => self.src.len(),
            };
            // go/scanner strips a trailing carriage return from the text; the range keeps it.
        } else {
            match crate::bytes::find_comment_end(self.src, self.i + 2) {
                Some(close) => self.i = close + 2,
                None => {
                    self.i = self.src.len();
                    self.error(start, "comment not terminated");
                }
            }
        }
    }

    #[inline(always)]
    fn scan_token(&mut self, c: u8) -> (Token, bool) {
        let start = self.i;
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            if c >= 0x80 {
                let (ch, _) = self.char_at(self.i);
                if !ch.is_alphabetic() {
                    let len = ch.len_utf8();
                    self.i += len;
                    self.error(
                        start,
                        format!("invalid character U+{:04X} '{ch}'", ch as u32),
                    );
                    return (Token::Illegal, self.insert_semi);
                }
            }
            self.scan_ident();
            return match Token::keyword(&self.src[start..self.i]) {
                Some(kw) => (
                    kw,
                    matches!(
                        kw,
                        Token::Break | Token::Continue | Token::Fallthrough | Token::Return
                    ),
                ),
                None => (Token::Ident, true),
            };
        }
        if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) {
            return (self.scan_number(), true);
        }
        self.i += 1;
        let next = self.peek(0);
        let after = self.peek(1);
        let (tok, extra) = match c {
            b'"' => {
                self.scan_string();
                return (Token::String, true);
            }
            b'`' => {
                self.scan_raw_string();
                return (Token::String, true);
            }
            b'\'' => {
                self.scan_rune();
                return (Token::Char, true);
            }
            b'(' => (Token::LParen, 0),
            b'[' => (Token::LBrack, 0),
            b'{' => (Token::LBrace, 0),
            b')' => return (Token::RParen, true),
            b']' => return (Token::RBrack, true),
            b'}' => return (Token::RBrace, true),
            b',' => (Token::Comma, 0),
            b';' => (Token::Semicolon, 0),
            b'~' => (Token::Tilde, 0),
            b'.' if next == b'.' && after == b'.' => (Token::Ellipsis, 2),
            b'.' => (Token::Period, 0),
            b':' if next == b'=' => (Token::Define, 1),
            b':' => (Token::Colon, 0),
            b'+' if next == b'+' => {
                self.i += 1;
                return (Token::Inc, true);
            }
            b'+' if next == b'=' => (Token::AddAssign, 1),
            b'+' => (Token::Add, 0),
            b'-' if next == b'-' => {
                self.i += 1;
                return (Token::Dec, true);
            }
            b'-' if next == b'=' => (Token::SubAssign, 1),
            b'-' => (Token::Sub, 0),
            b'*' if next == b'=' => (Token::MulAssign, 1),
            b'*' => (Token::Mul, 0),
            b'/' if next == b'=' => (Token::QuoAssign, 1),
            b'/' => (Token::Quo, 0),
            b'%' if next == b'=' => (Token::RemAssign, 1),
            b'%' => (Token::Rem, 0),
            b'^' if next == b'=' => (Token::XorAssign, 1),
            b'^' => (Token::Xor, 0),
            b'<' => match next {
                b'-' => (Token::Arrow, 1),
                b'<' if after == b'=' => (Token::ShlAssign, 2),
                b'<' => (Token::Shl, 1),
                b'=' => (Token::Leq, 1),
                _ => (Token::Lss, 0),
            },
            b'>' => match next {
                b'>' if after == b'=' => (Token::ShrAssign, 2),
                b'>' => (Token::Shr, 1),
                b'=' => (Token::Geq, 1),
                _ => (Token::Gtr, 0),
            },
            b'=' if next == b'=' => (Token::Eql, 1),
            b'=' => (Token::Assign, 0),
            b'!' if next == b'=' => (Token::Neq, 1),
            b'!' => (Token::Not, 0),
            b'&' => match next {
                b'^' if after == b'=' => (Token::AndNotAssign, 2),
                b'^' => (Token::AndNot, 1),
                b'=' => (Token::AndAssign, 1),
                b'&' => (Token::LAnd, 1),
                _ => (Token::And, 0),
            },
            b'|' => match next {
                b'=' => (Token::OrAssign, 1),
                b'|' => (Token::LOr, 1),
                _ => (Token::Or, 0),
            },
            other => {
                let msg = if other == 0 {
                    "illegal character NUL".to_string()
                } else {
                    format!("illegal character U+{:04X} '{}'", other, other as char)
                };
                self.error(start, msg);
                return (Token::Illegal, self.insert_semi);
            }
        };
        self.i += extra;
        (tok, false)
    }

    #[inline]
    fn scan_ident(&mut self) {
        let src = self.src;
        let mut i = self.i;
        // Four ASCII identifier bytes per iteration (each iteration costs an interruption
        // check in a wasm guest); the tail and non-ASCII letters go one by one.
        while i + 4 <= src.len()
            && IDENT[src[i] as usize]
                & IDENT[src[i + 1] as usize]
                & IDENT[src[i + 2] as usize]
                & IDENT[src[i + 3] as usize]
                != 0
        {
            i += 4;
        }
        self.i = i;
        while !self.at_end() {
            let b = self.src[self.i];
            if IDENT[b as usize] != 0 {
                self.i += 1;
            } else if b >= 0x80 {
                let (ch, len) = self.char_at(self.i);
                if ch.is_alphanumeric() {
                    self.i += len;
                } else {
                    break;
                }
            } else {
                break;
            }
        }
    }

    /// Scans digits of `base` (and `_`); returns bit 0 set if a digit was seen, bit 1 if a `_`.
    fn digits(&mut self, base: u32, invalid: &mut Option<usize>) -> u8 {
        let mut digsep = 0;
        if base <= 10 {
            let max = b'0' + base as u8;
            while !self.at_end() {
                let b = self.src[self.i];
                let ds = if b == b'_' {
                    2
                } else if b.is_ascii_digit() {
                    if b >= max && invalid.is_none() {
                        *invalid = Some(self.i);
                    }
                    1
                } else {
                    break;
                };
                digsep |= ds;
                self.i += 1;
            }
        } else {
            while !self.at_end() {
                let b = self.src[self.i];
                let ds = if b == b'_' {
                    2
                } else if is_hex(b) {
                    1
                } else {
                    break;
                };
                digsep |= ds;
                self.i += 1;
            }
        }
        digsep
    }

    fn scan_number(&mut self) -> Token {
        let start = self.i;
        let mut tok = Token::Int;
        let mut base = 10;
        let mut prefix = 0u8;
        let mut digsep = 0u8;
        let mut invalid: Option<usize> = None;
        if self.peek(0) != b'.' {
            if self.peek(0) == b'0' {
                self.i += 1;
                match lower(self.peek(0)) {
                    b'x' => {
                        self.i += 1;
                        base = 16;
                        prefix = b'x';
                    }
                    b'o' => {
                        self.i += 1;
                        base = 8;
                        prefix = b'o';
                    }
                    b'b' => {
                        self.i += 1;
                        base = 2;
                        prefix = b'b';
                    }
                    _ => {
                        base = 8;
                        prefix = b'0';
                        digsep = 1;
                    }
                }
            }
            digsep |= self.digits(base, &mut invalid);
        }
        if self.peek(0) == b'.' {
            tok = Token::Float;
            if prefix == b'o' || prefix == b'b' {
                self.error(
                    self.i,
                    format!("invalid radix point in {}", lit_name(prefix)),
                );
            }
            self.i += 1;
            digsep |= self.digits(base, &mut invalid);
        }
        if digsep & 1 == 0 {
            self.error(self.i, format!("{} has no digits", lit_name(prefix)));
        }
        let e = lower(self.peek(0));
        if e == b'e' || e == b'p' {
            if e == b'e' && prefix != 0 && prefix != b'0' {
                self.error(
                    self.i,
                    format!(
                        "'{}' exponent requires decimal mantissa",
                        self.peek(0) as char
                    ),
                );
            } else if e == b'p' && prefix != b'x' {
                self.error(
                    self.i,
                    format!(
                        "'{}' exponent requires hexadecimal mantissa",
                        self.peek(0) as char
                    ),
                );
            }
            self.i += 1;
            tok = Token::Float;
            if self.peek(0) == b'+' || self.peek(0) == b'-' {
                self.i += 1;
            }
            let ds = self.digits(10, &mut None);
            digsep |= ds;
            if ds & 1 == 0 {
                self.error(self.i, "exponent has no digits");
            }
        } else if prefix == b'x' && tok == Token::Float {
            self.error(self.i, "hexadecimal mantissa requires a 'p' exponent");
        }
        if self.peek(0) == b'i' {
            tok = Token::Imag;
            self.i += 1;
        }
        if tok == Token::Int
            && let Some(at) = invalid
        {
            let d = self.src[at] as char;
            self.error(at, format!("invalid digit '{d}' in {}", lit_name(prefix)));
        }
        if digsep & 2 != 0
            && let Some(i) = invalid_sep(&self.src[start..self.i])
        {
            self.error(start + i, "'_' must separate successive digits");
        }
        tok
    }

    /// Scans an escape after `\`; reports problems as go/scanner does.
    fn scan_escape(&mut self, quote: u8) -> bool {
        let at = self.i;
        let (n, base, max): (usize, u32, u32) = match self.peek(0) {
            b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'\\' => {
                self.i += 1;
                return true;
            }
            q if q == quote && !self.at_end() => {
                self.i += 1;
                return true;
            }
            b'0'..=b'7' => (3, 8, 255),
            b'x' => {
                self.i += 1;
                (2, 16, 255)
            }
            b'u' => {
                self.i += 1;
                (4, 16, 0x10FFFF)
            }
            b'U' => {
                self.i += 1;
                (8, 16, 0x10FFFF)
            }
            _ => {
                let msg = if self.at_end() {
                    "escape sequence not terminated"
                } else {
                    "unknown escape sequence"
                };
                self.error(at, msg);
                return false;
            }
        };
        let mut x: u32 = 0;
        for _ in 0..n {
            if self.at_end() {
                self.error(self.i, "escape sequence not terminated");
                return false;
            }
            let b = self.src[self.i];
            let d = (b as char).to_digit(16).unwrap_or(16);
            if d >= base {
                let (ch, _) = self.char_at(self.i);
                let msg = if b == b'\n' || b == quote {
                    format!("illegal character U+{:04X} in escape sequence", ch as u32)
                } else {
                    format!(
                        "illegal character U+{:04X} '{ch}' in escape sequence",
                        ch as u32
                    )
                };
                self.error(self.i, msg);
                return false;
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            self.i += 1;
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            self.error(at, "escape sequence is invalid Unicode code point");
            return false;
        }
        true
    }

    fn scan_string(&mut self) {
        let start = self.i - 1;
        loop {
            if self.at_end() || self.src[self.i] == b'\n' {
                self.error(start, "string literal not terminated");
                return;
            }
            let b = self.src[self.i];
            self.i += 1;
            match b {
                b'"' => return,
                b'\\' => {
                    self.scan_escape(b'"');
                }
                _ => {}
            }
        }
    }

    fn scan_raw_string(&mut self) {
        let start = self.i - 1;
        match crate::bytes::find(&self.src[self.i..], b'`') {
            Some(n) => self.i += n + 1,
            None => {
                self.i = self.src.len();
                self.error(start, "raw string literal not terminated");
            }
        }
    }

    fn scan_rune(&mut self) {
        let start = self.i - 1;
        let mut valid = true;
        let mut n = 0;
        loop {
            if self.at_end() || self.src[self.i] == b'\n' {
                if valid {
                    self.error(start, "rune literal not terminated");
                    valid = false;
                }
                break;
            }
            let (ch, len) = self.char_at(self.i);
            self.i += len;
            if ch == '\'' {
                break;
            }
            n += 1;
            if ch == '\\' && !self.scan_escape(b'\'') {
                valid = false;
            }
        }
        if valid && n != 1 {
            self.error(start, "illegal rune literal");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(src: &str) -> (Vec<(Token, String)>, Vec<String>) {
        let mut l = Lexer::new(src.as_bytes());
        let mut out = Vec::new();
        loop {
            let t = l.next_token();
            if t.tok == Token::Eof {
                break;
            }
            let text = if t.tok == Token::Semicolon && t.end == t.pos.0 {
                "\\n".to_string()
            } else {
                src[t.pos.offset()..t.end as usize].to_string()
            };
            out.push((t.tok, text));
        }
        (
            out,
            l.errors
                .into_iter()
                .map(|e| format!("{}: {}", e.pos.0, e.message))
                .collect(),
        )
    }

    fn toks(src: &str) -> Vec<Token> {
        let (t, e) = lex(src);
        assert!(e.is_empty(), "{src:?}: {e:?}");
        t.into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn semicolons_are_inserted_at_line_ends() {
        use Token::*;
        assert_eq!(
            toks("x\ny++\nreturn\n}\n"),
            [
                Ident, Semicolon, Ident, Inc, Semicolon, Return, Semicolon, RBrace, Semicolon
            ]
        );
        assert_eq!(toks("a + \nb"), [Ident, Add, Ident, Semicolon]);
        assert_eq!(toks("f(\n)"), [Ident, LParen, RParen, Semicolon]);
        // Before a comment ending the line, not before one that does not.
        assert_eq!(
            toks("x // c\ny"),
            [Ident, Semicolon, Comment, Ident, Semicolon]
        );
        assert_eq!(toks("x /* c */ y"), [Ident, Comment, Ident, Semicolon]);
        assert_eq!(
            toks("x /* c\n */ y"),
            [Ident, Semicolon, Comment, Ident, Semicolon]
        );
        assert_eq!(
            toks("x /* a */ /* b */\ny"),
            [Ident, Semicolon, Comment, Comment, Ident, Semicolon]
        );
        assert_eq!(
            toks("func g() { defer f() }"),
            [
                Func, Ident, LParen, RParen, LBrace, Defer, Ident, LParen, RParen, RBrace,
                Semicolon
            ]
        );
    }

    #[test]
    fn number_literals() {
        for (src, tok) in [
            ("0", Token::Int),
            ("0x_1F", Token::Int),
            ("0o17", Token::Int),
            ("0b1010", Token::Int),
            ("017", Token::Int),
            ("1_000_000", Token::Int),
            ("09.5", Token::Float),
            ("1e10", Token::Float),
            (".5", Token::Float),
            ("1.", Token::Float),
            ("0x1p-2", Token::Float),
            ("0x1.8p1", Token::Float),
            ("0X.8P0", Token::Float),
            ("1i", Token::Imag),
            ("0x1p3i", Token::Imag),
            ("089i", Token::Imag),
        ] {
            let (t, e) = lex(src);
            assert!(e.is_empty(), "{src}: {e:?}");
            assert_eq!(t[0], (tok, src.to_string()), "{src}");
        }
    }

    #[test]
    fn invalid_numbers_are_reported_like_go() {
        for (src, msg) in [
            ("08", "invalid digit '8' in octal literal"),
            ("0b102", "invalid digit '2' in binary literal"),
            ("0x", "hexadecimal literal has no digits"),
            ("0x1.5", "hexadecimal mantissa requires a 'p' exponent"),
            ("1p3", "'p' exponent requires hexadecimal mantissa"),
            ("0b1e3", "'e' exponent requires decimal mantissa"),
            ("1__0", "'_' must separate successive digits"),
            ("1_", "'_' must separate successive digits"),
            ("0_x1", "'_' must separate successive digits"),
            ("1e", "exponent has no digits"),
            ("0o1.2", "invalid radix point in octal literal"),
        ] {
            let (_, e) = lex(src);
            assert!(e.iter().any(|m| m.ends_with(msg)), "{src}: {e:?}");
        }
    }

    #[test]
    fn strings_runes_and_escapes() {
        let (t, e) = lex(r#""a\n\x41\u00e9\U0001F600\101" `raw
line` 'x' '\'' '\u00e9' 'é'"#);
        assert!(e.is_empty(), "{e:?}");
        let kinds: Vec<Token> = t.iter().map(|t| t.0).collect();
        assert_eq!(
            kinds,
            [
                Token::String,
                Token::String,
                Token::Char,
                Token::Char,
                Token::Char,
                Token::Char,
                Token::Semicolon
            ]
        );
        for (src, msg) in [
            ("\"abc", "string literal not terminated"),
            ("\"a\nb\"", "string literal not terminated"),
            ("`abc", "raw string literal not terminated"),
            ("'ab'", "illegal rune literal"),
            ("''", "illegal rune literal"),
            ("'a", "rune literal not terminated"),
            (r#""\q""#, "unknown escape sequence"),
            (
                r#""\uD800""#,
                "escape sequence is invalid Unicode code point",
            ),
            (r#""\400""#, "escape sequence is invalid Unicode code point"),
            (r#""\x4""#, "illegal character U+0022 in escape sequence"),
            ("/* x", "comment not terminated"),
            ("a @ b", "illegal character U+0040 '@'"),
        ] {
            let (_, e) = lex(src);
            assert!(e.iter().any(|m| m.ends_with(msg)), "{src}: {e:?}");
        }
    }

    #[test]
    fn unicode_identifiers_and_encoding_checks() {
        assert_eq!(
            toks("héllo 世界"),
            [Token::Ident, Token::Ident, Token::Semicolon]
        );
        assert_eq!(check_encoding(b"ok").map(|e| e.message), None);
        assert_eq!(
            check_encoding(b"a\xffb").map(|e| (e.pos.0, e.message)),
            Some((1, "illegal UTF-8 encoding".into()))
        );
        assert_eq!(
            check_encoding(b"a\0b").map(|e| e.message),
            Some("illegal character NUL".into())
        );
        assert_eq!(
            check_encoding("\u{feff}x\u{feff}".as_bytes()).map(|e| (e.pos.0, e.message)),
            Some((4, "illegal byte order mark".into()))
        );
        assert_eq!(
            toks("\u{feff}package p"),
            [Token::Package, Token::Ident, Token::Semicolon]
        );
    }

    #[test]
    fn operators_take_the_longest_match() {
        use Token::*;
        assert_eq!(
            toks("&^= &^ && &= <<= << <- <= ... . := :"),
            [
                AndNotAssign,
                AndNot,
                LAnd,
                AndAssign,
                ShlAssign,
                Shl,
                Arrow,
                Leq,
                Ellipsis,
                Period,
                Define,
                Colon
            ]
        );
    }
}
