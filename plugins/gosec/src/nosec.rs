//! `#nosec` annotations, as gosec reads them: `// #nosec`, `// #nosec G101 G102`,
//! `// #nosec G101 -- justification`, gosec's directive `//gosec:disable G101 -- justification`
//! (no space after `//`), and `//nolint:gosec`. An annotation in a comment that
//! belongs to a statement, declaration, spec or field (see `go_syntax::comments`) covers
//! that whole node; one on the line of a finding covers the finding.

use go_syntax::File;
use go_syntax::comments::{comment_map, extent};
use go_syntax::token::Pos;

/// One annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// The rules it names (empty: all rules).
    pub rules: Vec<String>,
    /// The text after ` -- `.
    pub justification: String,
    /// The annotation as written, from `#nosec` (or `nolint:gosec`) to the justification.
    pub text: String,
}

impl Annotation {
    /// Whether it suppresses `rule`.
    pub fn covers(&self, rule: &str) -> bool {
        self.rules.is_empty() || self.rules.iter().any(|r| r == rule)
    }
}

/// Parses one comment (with its `//` or `/* */`).
pub fn parse(comment: &str) -> Option<Annotation> {
    let body = comment.strip_prefix("//").or_else(|| {
        comment
            .strip_prefix("/*")
            .and_then(|c| c.strip_suffix("*/"))
    })?;
    if let Some(i) = body.find("nolint:") {
        let list = body[i + 7..].split_whitespace().next().unwrap_or_default();
        if list.split(',').any(|l| l == "gosec") {
            return Some(Annotation {
                rules: Vec::new(),
                justification: String::new(),
                text: body[i..].trim().to_string(),
            });
        }
    }
    let (i, after) = match body.strip_prefix("gosec:disable") {
        // A directive: `//gosec:disable`, then nothing or a space.
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => (0, rest),
        _ => {
            let i = body.find("#nosec")?;
            (i, &body[i + 6..])
        }
    };
    // `#nosec` must end there or be followed by white space (not `#nosecure`).
    if after.chars().next().is_some_and(|c| !c.is_whitespace()) {
        return None;
    }
    let (rules_part, justification) = match after.find("--") {
        Some(j) => (&after[..j], after[j + 2..].trim()),
        None => (after, ""),
    };
    let rules = rules_part
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| {
            w.len() == 4 && w.starts_with('G') && w[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .map(str::to_string)
        .collect();
    Some(Annotation {
        rules,
        justification: justification.to_string(),
        text: body[i..].trim().to_string(),
    })
}

/// The annotations of a file and the ranges they cover.
#[derive(Debug, Default)]
pub struct Suppressions {
    ranges: Vec<(Pos, Pos, Annotation)>,
    lines: Vec<(u32, Annotation)>,
}

impl Suppressions {
    /// Reads a file's annotations (cheaply nothing when it has none).
    pub fn of(file: &File) -> Suppressions {
        let mut s = Suppressions::default();
        if !file.src.contains("#nosec")
            && !file.src.contains("nolint:")
            && !file.src.contains("//gosec:disable")
        {
            return s;
        }
        for g in &file.comments {
            for c in &g.list {
                if let Some(a) = parse(file.text(*c)) {
                    s.lines.push((file.position(c.pos).line, a));
                }
            }
        }
        if s.lines.is_empty() {
            return s;
        }
        let map = comment_map(file);
        for node in map.nodes() {
            for g in map.comments(node) {
                for c in &file.comment_group(*g).list {
                    if let Some(a) = parse(file.text(*c))
                        && let Some((start, end)) = extent(file, node)
                    {
                        s.ranges.push((start, end, a));
                    }
                }
            }
        }
        s
    }

    /// The annotation suppressing `rule` at `pos` (on `line`), if any.
    pub fn find(&self, rule: &str, pos: Pos, line: u32) -> Option<&Annotation> {
        self.lines
            .iter()
            .find(|(l, a)| *l == line && a.covers(rule))
            .map(|(_, a)| a)
            .or_else(|| {
                self.ranges
                    .iter()
                    .filter(|(s, e, a)| *s <= pos && pos < *e && a.covers(rule))
                    .map(|(_, _, a)| a)
                    .next()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = parse("// #nosec").unwrap();
        assert!(a.covers("G101") && a.justification.is_empty());
        let a = parse("// #nosec G101 G102 -- the key is a test fixture").unwrap();
        assert_eq!(a.rules, ["G101", "G102"]);
        assert_eq!(a.justification, "the key is a test fixture");
        assert!(!a.covers("G104"));
        let a = parse("/* #nosec G404 */").unwrap();
        assert_eq!(a.rules, ["G404"]);
        assert!(parse("//nolint:errcheck,gosec").unwrap().covers("G304"));
        assert!(parse("// #nosecure").is_none());
        let a = parse("//gosec:disable G112 -- not exposed").unwrap();
        assert_eq!(a.rules, ["G112"]);
        assert_eq!(a.justification, "not exposed");
        assert_eq!(a.text, "gosec:disable G112 -- not exposed");
        assert!(parse("//gosec:disable").unwrap().covers("G404"));
        assert!(parse("// gosec:disable G112").is_none());
        assert!(parse("//gosec:disabled G112").is_none());
        assert!(parse("// nothing here").is_none());
    }
}
