//! Go cover profiles: the total `go tool cover -func` prints, and Cobertura XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A block of a cover profile: file, start line and column, end line and column.
type BlockKey = (String, u32, u32, u32, u32);

/// One block of a cover profile: `file:startLine.startCol,endLine.endCol numStmt count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The file, as an import path plus file name (`example.com/m/pkg/x.go`).
    pub file: String,
    /// First line.
    pub start_line: u32,
    /// First column.
    pub start_col: u32,
    /// Last line.
    pub end_line: u32,
    /// Last column.
    pub end_col: u32,
    /// Statements in the block.
    pub statements: u64,
    /// Times it ran (merged over duplicates: the largest).
    pub count: u64,
}

/// A parsed profile.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// `set`, `count` or `atomic`.
    pub mode: String,
    /// Blocks, merged (a block reported by several test binaries appears once), in order.
    pub blocks: Vec<Block>,
}

impl Profile {
    /// Parses a profile as `go test -coverprofile` writes it.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let mut lines = text.lines();
        let mode = lines
            .next()
            .and_then(|l| l.strip_prefix("mode: "))
            .ok_or("a cover profile starts with `mode: `")?
            .trim()
            .to_string();
        let mut merged: BTreeMap<BlockKey, (u64, u64)> = BTreeMap::new();
        for (n, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = || format!("line {} of the cover profile is malformed: {line}", n + 2);
            let (file, rest) = line.rsplit_once(':').ok_or_else(bad)?;
            let mut parts = rest.split(' ');
            let range = parts.next().ok_or_else(bad)?;
            let statements: u64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let count: u64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let (start, end) = range.split_once(',').ok_or_else(bad)?;
            let pos = |p: &str| -> Option<(u32, u32)> {
                let (l, c) = p.split_once('.')?;
                Some((l.parse().ok()?, c.parse().ok()?))
            };
            let (sl, sc) = pos(start).ok_or_else(bad)?;
            let (el, ec) = pos(end).ok_or_else(bad)?;
            let entry = merged
                .entry((file.to_string(), sl, sc, el, ec))
                .or_insert((statements, 0));
            entry.1 = entry.1.max(count);
        }
        Ok(Profile {
            mode,
            blocks: merged
                .into_iter()
                .map(|((file, sl, sc, el, ec), (statements, count))| Block {
                    file,
                    start_line: sl,
                    start_col: sc,
                    end_line: el,
                    end_col: ec,
                    statements,
                    count,
                })
                .collect(),
        })
    }

    /// Covered and total statements.
    pub fn statements(&self) -> (u64, u64) {
        self.blocks.iter().fold((0, 0), |(c, t), b| {
            (
                c + if b.count > 0 { b.statements } else { 0 },
                t + b.statements,
            )
        })
    }

    /// Total statement coverage in percent, as `go tool cover -func` computes it (0 when
    /// there are no statements).
    pub fn percent(&self) -> f64 {
        let (covered, total) = self.statements();
        if total == 0 {
            0.0
        } else {
            covered as f64 * 100.0 / total as f64
        }
    }

    /// Cobertura XML (the DTD's `coverage-04`), one package per Go package and one class per
    /// file. Totals count statements, so the report's `line-rate` equals the coverage Go
    /// reports; each file's `<line>` entries carry the largest count of the blocks on it.
    /// `source` is the directory file names are relative to; `files` maps a profile file to
    /// its path relative to `source`.
    pub fn cobertura(
        &self,
        source: &str,
        files: &dyn Fn(&str) -> String,
        timestamp: u64,
    ) -> String {
        let mut packages: BTreeMap<String, BTreeMap<String, Vec<&Block>>> = BTreeMap::new();
        for b in &self.blocks {
            let (pkg, _) = b.file.rsplit_once('/').unwrap_or(("", &b.file));
            packages
                .entry(pkg.to_string())
                .or_default()
                .entry(b.file.clone())
                .or_default()
                .push(b);
        }
        let rate = |blocks: &mut dyn Iterator<Item = &&Block>| {
            let (c, t) = blocks.fold((0u64, 0u64), |(c, t), b| {
                (
                    c + if b.count > 0 { b.statements } else { 0 },
                    t + b.statements,
                )
            });
            (c, t, if t == 0 { 1.0 } else { c as f64 / t as f64 })
        };
        let (covered, total) = self.statements();
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(
            "<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n",
        );
        let _ = writeln!(
            x,
            "<coverage line-rate=\"{}\" branch-rate=\"0\" lines-covered=\"{covered}\" lines-valid=\"{total}\" branches-covered=\"0\" branches-valid=\"0\" complexity=\"0\" version=\"sluice-go-test\" timestamp=\"{timestamp}\">",
            if total == 0 {
                1.0
            } else {
                covered as f64 / total as f64
            }
        );
        let _ = writeln!(
            x,
            "  <sources>\n    <source>{}</source>\n  </sources>",
            esc(source)
        );
        x.push_str("  <packages>\n");
        for (pkg, classes) in &packages {
            let (_, _, prate) = rate(&mut classes.values().flatten());
            let _ = writeln!(
                x,
                "    <package name=\"{}\" line-rate=\"{prate}\" branch-rate=\"0\" complexity=\"0\">\n      <classes>",
                esc(pkg)
            );
            for (file, blocks) in classes {
                let (_, _, crate_) = rate(&mut blocks.iter());
                let name = file.rsplit('/').next().unwrap_or(file);
                let _ = writeln!(
                    x,
                    "        <class name=\"{}\" filename=\"{}\" line-rate=\"{crate_}\" branch-rate=\"0\" complexity=\"0\">\n          <methods/>\n          <lines>",
                    esc(name),
                    esc(&files(file))
                );
                let mut lines: BTreeMap<u32, u64> = BTreeMap::new();
                for b in blocks {
                    for l in b.start_line..=b.end_line {
                        let hits = lines.entry(l).or_insert(0);
                        *hits = (*hits).max(b.count);
                    }
                }
                for (line, hits) in lines {
                    let _ = writeln!(x, "            <line number=\"{line}\" hits=\"{hits}\"/>");
                }
                x.push_str("          </lines>\n        </class>\n");
            }
            x.push_str("      </classes>\n    </package>\n");
        }
        x.push_str("  </packages>\n</coverage>\n");
        x
    }
}

/// Escapes text for XML attributes and content.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "mode: set\n\
        example.com/m/a.go:3.14,5.2 1 1\n\
        example.com/m/a.go:7.14,9.2 2 0\n\
        example.com/m/b/b.go:3.14,5.2 1 0\n\
        example.com/m/b/b.go:3.14,5.2 1 1\n";

    #[test]
    fn totals_merge_duplicate_blocks_like_go_tool_cover() {
        let p = Profile::parse(PROFILE).unwrap();
        assert_eq!(p.mode, "set");
        assert_eq!(p.blocks.len(), 3);
        assert_eq!(p.statements(), (2, 4));
        assert!((p.percent() - 50.0).abs() < 1e-9);
        assert!(Profile::parse("nope").is_err());
        assert!(Profile::parse("mode: set\nx.go:1.1 1").is_err());
    }

    #[test]
    fn cobertura_totals_are_statements() {
        let p = Profile::parse(PROFILE).unwrap();
        let xml = p.cobertura(
            "/src",
            &|f| f.trim_start_matches("example.com/m/").into(),
            7,
        );
        assert!(xml.contains("line-rate=\"0.5\""), "{xml}");
        assert!(
            xml.contains("lines-covered=\"2\" lines-valid=\"4\""),
            "{xml}"
        );
        assert!(xml.contains("filename=\"b/b.go\""), "{xml}");
        assert!(xml.contains("<line number=\"4\" hits=\"1\"/>"), "{xml}");
        assert_eq!(esc("a<b&\"c\u{1}"), "a&lt;b&amp;&quot;c\\x01");
    }
}
