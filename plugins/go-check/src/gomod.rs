//! A `go.mod` / `go.sum` reader following the syntax of Go's `golang.org/x/mod/modfile`:
//! whitespace-separated tokens, `//` comments, quoted ("...") and raw (`...`) strings, and
//! `verb ( ... )` blocks. Positions are 1-based lines and byte columns.

use std::collections::HashSet;

/// A line Go would reject.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based line.
    pub line: u32,
    /// 1-based byte column.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// A `require` directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Require {
    /// Module path.
    pub path: String,
    /// Version, e.g. `v1.2.3`.
    pub version: String,
    /// Marked `// indirect`.
    pub indirect: bool,
    /// Position of the module path.
    pub line: u32,
    /// Column of the module path.
    pub column: u32,
    /// Column of the last byte of the version.
    pub end_column: u32,
}

/// A `replace` directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Replace {
    /// The replaced module.
    pub old_path: String,
    /// The replaced version, if only one version is replaced.
    pub old_version: Option<String>,
    /// The replacement: a module path or a local directory.
    pub new_path: String,
    /// The replacement version (absent for a local directory).
    pub new_version: Option<String>,
    /// Position of the directive (the line's first token).
    pub line: u32,
    /// Column of the directive.
    pub column: u32,
}

impl Replace {
    /// Whether the replacement is a directory on disk.
    pub fn is_local(&self) -> bool {
        is_local_path(&self.new_path)
    }
}

/// What a `go.mod` says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GoMod {
    /// The `module` path.
    pub module: Option<String>,
    /// The `go` version.
    pub go: Option<String>,
    /// `require` directives in file order.
    pub requires: Vec<Require>,
    /// `replace` directives in file order.
    pub replaces: Vec<Replace>,
    /// Lines Go would reject.
    pub problems: Vec<Problem>,
}

/// What a `go.sum` holds.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GoSum {
    entries: HashSet<(String, String)>,
    /// Malformed lines.
    pub problems: Vec<Problem>,
}

impl GoSum {
    /// Whether `go.sum` has a line for the module at this version (its content or its go.mod).
    pub fn has(&self, path: &str, version: &str) -> bool {
        self.entries
            .contains(&(path.to_string(), version.to_string()))
            || self
                .entries
                .contains(&(path.to_string(), format!("{version}/go.mod")))
    }
}

fn is_local_path(path: &str) -> bool {
    path.starts_with("./")
        || path.starts_with("../")
        || path.starts_with('/')
        || path == "."
        || path == ".."
        || path.as_bytes().get(1) == Some(&b':')
}

#[derive(Debug)]
struct Token {
    text: String,
    column: u32,
}

/// Splits one line into tokens and reports whether it carries an `// indirect` comment.
fn tokenize(line: &str, line_no: u32) -> Result<(Vec<Token>, bool), Problem> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut indirect = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b' ' || c == b'\t' || c == b'\r' {
            i += 1;
            continue;
        }
        let column = i as u32 + 1;
        if line[i..].starts_with("//") {
            let comment = line[i + 2..].trim();
            indirect = comment == "indirect" || comment.starts_with("indirect;");
            break;
        }
        if c == b'(' || c == b')' {
            tokens.push(Token {
                text: (c as char).to_string(),
                column,
            });
            i += 1;
            continue;
        }
        if c == b'"' || c == b'`' {
            let quote = c;
            let mut j = i + 1;
            let mut text = String::new();
            let mut closed = false;
            while j < bytes.len() {
                let d = bytes[j];
                if d == quote {
                    closed = true;
                    j += 1;
                    break;
                }
                if quote == b'"' && d == b'\\' && j + 1 < bytes.len() {
                    text.push(bytes[j + 1] as char);
                    j += 2;
                    continue;
                }
                let ch_len = line[j..].chars().next().map_or(1, char::len_utf8);
                text.push_str(&line[j..j + ch_len]);
                j += ch_len;
            }
            if !closed {
                return Err(Problem {
                    line: line_no,
                    column,
                    message: "unterminated quoted string".into(),
                });
            }
            tokens.push(Token { text, column });
            i = j;
            continue;
        }
        let start = i;
        while i < bytes.len()
            && !matches!(bytes[i], b' ' | b'\t' | b'\r' | b'(' | b')' | b'"' | b'`')
        {
            if line[i..].starts_with("//") {
                break;
            }
            i += 1;
        }
        tokens.push(Token {
            text: line[start..i].to_string(),
            column,
        });
    }
    Ok((tokens, indirect))
}

fn is_go_version(v: &str) -> bool {
    let (numbers, suffix) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => v.split_at(i),
        None => (v, ""),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p.len() == 1 || !p.starts_with('0'))
    };
    (2..=3).contains(&parts.len())
        && parts.iter().all(numeric)
        && !parts[0].starts_with('0')
        && (suffix.is_empty()
            || (suffix
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .bytes()
                .all(|b| b.is_ascii_lowercase())
                && suffix.ends_with(|c: char| c.is_ascii_digit())))
}

/// Parses a `go.mod`. Never fails: problems are collected with their positions.
pub fn parse_go_mod(src: &str) -> GoMod {
    let mut out = GoMod::default();
    let mut block: Option<(String, u32, u32)> = None;
    for (index, line) in src.lines().enumerate() {
        let line_no = index as u32 + 1;
        let (tokens, indirect) = match tokenize(line, line_no) {
            Ok(t) => t,
            Err(problem) => {
                out.problems.push(problem);
                continue;
            }
        };
        if tokens.is_empty() {
            continue;
        }
        if let Some((verb, _, _)) = &block {
            if tokens.len() == 1 && tokens[0].text == ")" {
                block = None;
                continue;
            }
            let verb = verb.clone();
            directive(
                &mut out,
                &verb,
                tokens[0].column,
                &tokens,
                indirect,
                line_no,
            );
            continue;
        }
        let verb = tokens[0].text.clone();
        if tokens.len() == 2 && tokens[1].text == "(" {
            block = Some((verb, line_no, tokens[0].column));
            continue;
        }
        directive(
            &mut out,
            &verb,
            tokens[0].column,
            &tokens[1..],
            indirect,
            line_no,
        );
    }
    if let Some((verb, line, column)) = block {
        out.problems.push(Problem {
            line,
            column,
            message: format!("unclosed `{verb} (` block: add a line with `)`"),
        });
    }
    out
}

fn directive(out: &mut GoMod, verb: &str, column: u32, args: &[Token], indirect: bool, line: u32) {
    let mut problem = |message: String| {
        out.problems.push(Problem {
            line,
            column,
            message,
        })
    };
    match verb {
        "module" => match args {
            [path] => out.module = Some(path.text.clone()),
            _ => problem("usage: module module/path".into()),
        },
        "go" => match args {
            [v] if is_go_version(&v.text) => out.go = Some(v.text.clone()),
            [v] => problem(format!(
                "invalid go version '{}': must match format 1.23.0",
                v.text
            )),
            _ => problem("usage: go 1.23".into()),
        },
        "require" | "exclude" => match args {
            [path, version] if version.text.starts_with('v') => {
                if verb == "require" {
                    out.requires.push(Require {
                        path: path.text.clone(),
                        version: version.text.clone(),
                        indirect,
                        line,
                        column: path.column,
                        end_column: version.column + version.text.len() as u32 - 1,
                    });
                }
            }
            [_, version] => problem(format!(
                "invalid version {:?}: must start with v",
                version.text
            )),
            _ => problem(format!("usage: {verb} module/path v1.2.3")),
        },
        "replace" => {
            let arrow = args.iter().position(|t| t.text == "=>");
            let parsed = match (arrow, args) {
                (Some(1), [old, _, new]) => Some((old, None, new, None)),
                (Some(1), [old, _, new, nv]) => Some((old, None, new, Some(nv))),
                (Some(2), [old, ov, _, new]) => Some((old, Some(ov), new, None)),
                (Some(2), [old, ov, _, new, nv]) => Some((old, Some(ov), new, Some(nv))),
                _ => None,
            };
            match parsed {
                None => problem("usage: replace module/path [v1.2.3] => other/module v1.4 or => ../local/directory".into()),
                Some((_, _, new, None)) if !is_local_path(&new.text) => problem(
                    "replacement module without version must be directory path (rooted or starting with ./ or ../)".into(),
                ),
                Some((old, ov, new, nv)) => out.replaces.push(Replace {
                    old_path: old.text.clone(),
                    old_version: ov.map(|t| t.text.clone()),
                    new_path: new.text.clone(),
                    new_version: nv.map(|t| t.text.clone()),
                    line,
                    column,
                }),
            }
        }
        "toolchain" | "godebug" | "retract" | "tool" | "ignore" => {
            if args.is_empty() {
                problem(format!("usage: {verb} requires an argument"));
            }
        }
        other => problem(format!("unknown directive: {other}")),
    }
}

/// Parses a `go.sum`.
pub fn parse_go_sum(src: &str) -> GoSum {
    let mut sum = GoSum::default();
    for (index, line) in src.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            [path, version, hash] if version.starts_with('v') && hash.contains(':') => {
                sum.entries.insert((path.to_string(), version.to_string()));
            }
            _ => sum.problems.push(Problem {
                line: index as u32 + 1,
                column: 1,
                message: "malformed go.sum line: want `<module> <version>[/go.mod] <hash>`".into(),
            }),
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_directives_blocks_comments_and_quotes() {
        let m = parse_go_mod(
            "// leading comment\nmodule \"example.com/quoted\" // trailing\ngo 1.22.1\ntoolchain go1.22.2\nrequire (\n\ta.com/b v1.0.0\n\tc.com/d v0.1.0 // indirect\n)\nreplace a.com/b v1.0.0 => b.com/b v1.1.0\nexclude x.com/y v0.0.1\nretract [v1.0.0, v1.0.5]\n",
        );
        assert_eq!(m.problems, vec![]);
        assert_eq!(m.module.as_deref(), Some("example.com/quoted"));
        assert_eq!(m.go.as_deref(), Some("1.22.1"));
        assert_eq!(m.requires.len(), 2);
        assert!(!m.requires[0].indirect && m.requires[1].indirect);
        assert_eq!(
            (
                m.requires[1].line,
                m.requires[1].column,
                m.requires[1].end_column
            ),
            (7, 2, 15)
        );
        assert_eq!(m.replaces[0].old_version.as_deref(), Some("v1.0.0"));
        assert!(!m.replaces[0].is_local());
    }

    #[test]
    fn reports_every_malformed_line() {
        let m = parse_go_mod(
            "module\ngo one\nrequire a.com/b 1.0\nreplace a.com/b => c.com/d\nrequire (\n\tz.com/z v1.0.0\n",
        );
        let messages: Vec<_> = m
            .problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            vec![
                (1, "usage: module module/path"),
                (2, "invalid go version 'one': must match format 1.23.0"),
                (3, "invalid version \"1.0\": must start with v"),
                (
                    4,
                    "replacement module without version must be directory path (rooted or starting with ./ or ../)"
                ),
                (5, "unclosed `require (` block: add a line with `)`"),
            ]
        );
    }

    #[test]
    fn go_versions() {
        for ok in ["1.21", "1.21.0", "1.22rc1", "1.9"] {
            assert!(is_go_version(ok), "{ok}");
        }
        for bad in ["1", "v1.21", "1.021", "01.2", "1.2.3.4", "1.2rc", ""] {
            assert!(!is_go_version(bad), "{bad}");
        }
    }

    #[test]
    fn unterminated_strings_are_reported_not_panicked_on() {
        let m = parse_go_mod("module \"abc\n");
        assert_eq!(m.problems[0].message, "unterminated quoted string");
        assert_eq!((m.problems[0].line, m.problems[0].column), (1, 8));
    }

    #[test]
    fn go_sum_lines() {
        let s = parse_go_sum("a.com/b v1.0.0 h1:x=\na.com/c v1.0.0/go.mod h1:y=\n\nnonsense\n");
        assert!(s.has("a.com/b", "v1.0.0"));
        assert!(s.has("a.com/c", "v1.0.0"));
        assert!(!s.has("a.com/d", "v1.0.0"));
        assert_eq!(s.problems.len(), 1);
        assert_eq!(s.problems[0].line, 4);
    }
}
