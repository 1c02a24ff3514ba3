//! Go tokens and positions, after `go/token`.

use std::fmt;

/// A byte offset into a file's source. Cheap to store in every node; turn it into a line and
/// column with [`LineIndex::position`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos(pub u32);

impl Pos {
    /// The offset as `usize`.
    pub fn offset(self) -> usize {
        self.0 as usize
    }
}

/// A resolved position: byte offset, 1-based line, 1-based column counted in bytes (as
/// `go/token` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Byte offset.
    pub offset: u32,
    /// 1-based line.
    pub line: u32,
    /// 1-based byte column.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The start offsets of a file's lines.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    /// Indexes `src`.
    pub fn new(src: &[u8]) -> Self {
        let mut starts = Vec::with_capacity(src.len() / 32 + 1);
        starts.push(0);
        crate::bytes::each(src, b'\n', |i| {
            // As go/token: a line "starting" at the end of the file is not a line, so the
            // end of a file ending in a newline is on its last line.
            if i + 1 < src.len() {
                starts.push(i as u32 + 1);
            }
        });
        LineIndex { starts }
    }

    /// Where 1-based `line` starts, if the file has that line.
    pub fn line_start(&self, line: u32) -> Option<Pos> {
        let i = (line as usize).checked_sub(1)?;
        self.starts.get(i).map(|&s| Pos(s))
    }

    /// The line and column of `pos`.
    pub fn position(&self, pos: Pos) -> Position {
        let line = match self.starts.binary_search(&pos.0) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        Position {
            offset: pos.0,
            line: line as u32 + 1,
            column: pos.0 - self.starts[line] + 1,
        }
    }

    /// The number of lines.
    pub fn lines(&self) -> usize {
        self.starts.len()
    }
}

macro_rules! tokens {
    ($($variant:ident => $text:expr),* $(,)?) => {
        /// A Go token.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Token {
            $($variant),*
        }

        impl Token {
            /// How the token is written (or its class, for literals).
            pub fn text(self) -> &'static str {
                match self {
                    $(Token::$variant => $text),*
                }
            }
        }
    };
}

tokens! {
    Illegal => "ILLEGAL",
    Eof => "EOF",
    Comment => "COMMENT",
    Ident => "IDENT",
    Int => "INT",
    Float => "FLOAT",
    Imag => "IMAG",
    Char => "CHAR",
    String => "STRING",
    Add => "+",
    Sub => "-",
    Mul => "*",
    Quo => "/",
    Rem => "%",
    And => "&",
    Or => "|",
    Xor => "^",
    Shl => "<<",
    Shr => ">>",
    AndNot => "&^",
    AddAssign => "+=",
    SubAssign => "-=",
    MulAssign => "*=",
    QuoAssign => "/=",
    RemAssign => "%=",
    AndAssign => "&=",
    OrAssign => "|=",
    XorAssign => "^=",
    ShlAssign => "<<=",
    ShrAssign => ">>=",
    AndNotAssign => "&^=",
    LAnd => "&&",
    LOr => "||",
    Arrow => "<-",
    Inc => "++",
    Dec => "--",
    Eql => "==",
    Lss => "<",
    Gtr => ">",
    Assign => "=",
    Not => "!",
    Neq => "!=",
    Leq => "<=",
    Geq => ">=",
    Define => ":=",
    Ellipsis => "...",
    LParen => "(",
    LBrack => "[",
    LBrace => "{",
    Comma => ",",
    Period => ".",
    RParen => ")",
    RBrack => "]",
    RBrace => "}",
    Semicolon => ";",
    Colon => ":",
    Tilde => "~",
    Break => "break",
    Case => "case",
    Chan => "chan",
    Const => "const",
    Continue => "continue",
    Default => "default",
    Defer => "defer",
    Else => "else",
    Fallthrough => "fallthrough",
    For => "for",
    Func => "func",
    Go => "go",
    Goto => "goto",
    If => "if",
    Import => "import",
    Interface => "interface",
    Map => "map",
    Package => "package",
    Range => "range",
    Return => "return",
    Select => "select",
    Struct => "struct",
    Switch => "switch",
    Type => "type",
    Var => "var",
}

impl Token {
    /// The keyword spelled `ident`, if it is one.
    pub fn keyword(ident: &[u8]) -> Option<Token> {
        // Keywords are 2 to 11 bytes of lower-case letters.
        if ident.len() < 2 || ident.len() > 11 || !ident[0].is_ascii_lowercase() {
            return None;
        }
        Some(match ident {
            b"break" => Token::Break,
            b"case" => Token::Case,
            b"chan" => Token::Chan,
            b"const" => Token::Const,
            b"continue" => Token::Continue,
            b"default" => Token::Default,
            b"defer" => Token::Defer,
            b"else" => Token::Else,
            b"fallthrough" => Token::Fallthrough,
            b"for" => Token::For,
            b"func" => Token::Func,
            b"go" => Token::Go,
            b"goto" => Token::Goto,
            b"if" => Token::If,
            b"import" => Token::Import,
            b"interface" => Token::Interface,
            b"map" => Token::Map,
            b"package" => Token::Package,
            b"range" => Token::Range,
            b"return" => Token::Return,
            b"select" => Token::Select,
            b"struct" => Token::Struct,
            b"switch" => Token::Switch,
            b"type" => Token::Type,
            b"var" => Token::Var,
            _ => return None,
        })
    }

    /// Binary operator precedence (5 highest), 0 for non-operators.
    pub fn precedence(self) -> u8 {
        match self {
            Token::LOr => 1,
            Token::LAnd => 2,
            Token::Eql | Token::Neq | Token::Lss | Token::Leq | Token::Gtr | Token::Geq => 3,
            Token::Add | Token::Sub | Token::Or | Token::Xor => 4,
            Token::Mul
            | Token::Quo
            | Token::Rem
            | Token::Shl
            | Token::Shr
            | Token::And
            | Token::AndNot => 5,
            _ => 0,
        }
    }

    /// Whether it is an assignment operator (`=`, `+=`, ..., `:=`).
    pub fn is_assign(self) -> bool {
        matches!(
            self,
            Token::Assign
                | Token::Define
                | Token::AddAssign
                | Token::SubAssign
                | Token::MulAssign
                | Token::QuoAssign
                | Token::RemAssign
                | Token::AndAssign
                | Token::OrAssign
                | Token::XorAssign
                | Token::ShlAssign
                | Token::ShrAssign
                | Token::AndNotAssign
        )
    }

    /// Whether it is a literal class (`INT`, `STRING`, ...).
    pub fn is_literal(self) -> bool {
        matches!(
            self,
            Token::Int | Token::Float | Token::Imag | Token::Char | Token::String
        )
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_bytes_from_one() {
        let idx = LineIndex::new(b"ab\ncd\n\nx");
        let trailing = LineIndex::new(b"ab\n");
        assert_eq!(
            trailing.position(Pos(3)),
            Position {
                offset: 3,
                line: 1,
                column: 4
            }
        );
        assert_eq!(
            idx.position(Pos(0)),
            Position {
                offset: 0,
                line: 1,
                column: 1
            }
        );
        assert_eq!(
            idx.position(Pos(4)),
            Position {
                offset: 4,
                line: 2,
                column: 2
            }
        );
        assert_eq!(
            idx.position(Pos(6)),
            Position {
                offset: 6,
                line: 3,
                column: 1
            }
        );
        assert_eq!(
            idx.position(Pos(7)),
            Position {
                offset: 7,
                line: 4,
                column: 1
            }
        );
    }

    #[test]
    fn keywords() {
        assert_eq!(Token::keyword(b"fallthrough"), Some(Token::Fallthrough));
        assert_eq!(Token::keyword(b"func"), Some(Token::Func));
        assert_eq!(Token::keyword(b"Func"), None);
        assert_eq!(Token::keyword(b"any"), None);
    }
}
