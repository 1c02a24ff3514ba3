//! Step-provided text made safe for a terminal.
//!
//! Everything a step says (log lines, progress, finding messages and paths, summaries,
//! errors, and what `describe()` returns) reaches the console through here: control
//! characters are shown escaped (`\e[2J`, `\r`, `\x07`, `\u{9b}`), so a step can neither
//! drive the terminal (clear it, set the clipboard with OSC 52, plant OSC 8 links) nor reorder
//! text with bidirectional overrides; and a line break inside a value is shown as `\n`, or,
//! for log messages, continues on a line marked as a continuation, so a step cannot print a
//! line that looks like one of sluice's own.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must be shown escaped.
fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\t'
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` on one line, with every control character (line breaks included) escaped.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// The lines of a multi-line step message, each cleaned: the first follows `first`, the
/// others follow `next` (a prefix marking them as continuations).
pub fn lines(first: &str, next: &str, text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(next);
        } else {
            out.push_str(first);
        }
        out.push_str(&clean(line.strip_suffix('\r').unwrap_or(line)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_drives_a_terminal() {
        assert_eq!(clean("plain\ttext é"), "plain\ttext é");
        assert_eq!(clean("\u{1b}[2Jcleared"), "\\e[2Jcleared");
        assert_eq!(
            clean("\u{1b}]52;c;aGk=\u{7}"),
            "\\e]52;c;aGk=\\x07",
            "OSC 52 clipboard write"
        );
        assert_eq!(
            clean("a\r\nb\u{9b}c\u{202e}d"),
            "a\\r\\nb\\u{9b}c\\u{202e}d"
        );
    }

    #[test]
    fn continuation_lines_are_marked() {
        assert_eq!(
            lines("[s] info: ", "[s]   | ", "one\n[deploy] passed in 3ms"),
            "[s] info: one\n[s]   | [deploy] passed in 3ms"
        );
    }
}
