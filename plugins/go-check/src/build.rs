//! Build constraints, as `go build` applies them: `//go:build` lines and `_GOOS`/`_GOARCH`
//! file-name suffixes, evaluated for one target (linux/amd64 unless configured).

/// Operating systems `go tool dist list` knows (Go 1.19 to 1.22).
const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// Architectures `go tool dist list` knows.
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

const UNIX: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "linux",
    "netbsd",
    "openbsd",
    "solaris",
];

/// The target files are selected for.
#[derive(Debug, Clone)]
pub struct Target {
    /// `GOOS`.
    pub goos: String,
    /// `GOARCH`.
    pub goarch: String,
    /// Extra tags (`-tags`).
    pub tags: Vec<String>,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            goos: "linux".into(),
            goarch: "amd64".into(),
            tags: Vec::new(),
        }
    }
}

impl Target {
    fn has(&self, tag: &str) -> bool {
        if tag == self.goos || tag == self.goarch || tag == "gc" || tag == "cgo" {
            return true;
        }
        if tag == "unix" {
            return UNIX.contains(&self.goos.as_str());
        }
        if let Some(minor) = tag.strip_prefix("go1.") {
            // Release tags: every go1.N up to the newest this front end parses.
            return minor.parse::<u32>().is_ok_and(|m| m <= 22);
        }
        self.tags.iter().any(|t| t == tag)
    }

    /// Whether a file name is for this target (`x_linux.go`, `x_amd64_test.go`, ...).
    pub fn matches_name(&self, name: &str) -> bool {
        let stem = name.strip_suffix(".go").unwrap_or(name);
        let stem = stem.strip_suffix("_test").unwrap_or(stem);
        let parts: Vec<&str> = stem.split('_').collect();
        if parts.len() < 2 {
            return true;
        }
        let last = parts[parts.len() - 1];
        let prev = (parts.len() >= 3).then(|| parts[parts.len() - 2]);
        if let Some(os) = prev
            && KNOWN_OS.contains(&os)
            && KNOWN_ARCH.contains(&last)
        {
            return self.has(os) && self.has(last);
        }
        if KNOWN_OS.contains(&last) || KNOWN_ARCH.contains(&last) {
            return self.has(last);
        }
        true
    }

    /// Whether a file's `//go:build` line (if any, before the package clause) is satisfied.
    pub fn matches_source(&self, src: &[u8]) -> bool {
        match go_build_line(src) {
            Some(expr) => Expr::new(expr).eval(self).unwrap_or(true),
            None => true,
        }
    }
}

/// The expression of the `//go:build` line in the file's header, if any.
fn go_build_line(src: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(&src[..src.len().min(64 * 1024)])
        .unwrap_or_else(|e| std::str::from_utf8(&src[..e.valid_up_to()]).expect("valid prefix"));
    let mut in_block = false;
    for line in text.lines() {
        let line = line.trim();
        if in_block {
            if line.contains("*/") {
                in_block = false;
            }
            continue;
        }
        if let Some(expr) = line.strip_prefix("//go:build") {
            return Some(expr.trim());
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if line.starts_with("/*") {
            in_block = !line.contains("*/");
            continue;
        }
        return None; // The package clause or anything else ends the header.
    }
    None
}

/// A tiny recursive-descent evaluator for `||`, `&&`, `!`, parentheses and tags.
struct Expr<'a> {
    rest: &'a str,
    depth: u32,
}

impl<'a> Expr<'a> {
    fn new(text: &'a str) -> Self {
        Expr {
            rest: text,
            depth: 0,
        }
    }

    fn eval(&mut self, t: &Target) -> Option<bool> {
        let v = self.or(t)?;
        self.skip();
        self.rest.is_empty().then_some(v)
    }

    fn skip(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip();
        match self.rest.strip_prefix(s) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn or(&mut self, t: &Target) -> Option<bool> {
        let mut v = self.and(t)?;
        while self.eat("||") {
            v |= self.and(t)?;
        }
        Some(v)
    }

    fn and(&mut self, t: &Target) -> Option<bool> {
        let mut v = self.not(t)?;
        while self.eat("&&") {
            v &= self.not(t)?;
        }
        Some(v)
    }

    fn not(&mut self, t: &Target) -> Option<bool> {
        self.depth += 1;
        if self.depth > 100 {
            return None;
        }
        let v = if self.eat("!") {
            !self.not(t)?
        } else if self.eat("(") {
            let v = self.or(t)?;
            self.eat(")").then_some(v)?
        } else {
            self.skip();
            let end = self
                .rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(self.rest.len());
            if end == 0 {
                return None;
            }
            let tag = &self.rest[..end];
            self.rest = &self.rest[end..];
            t.has(tag)
        };
        self.depth -= 1;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let t = Target::default();
        assert!(t.matches_name("a.go"));
        assert!(t.matches_name("a_linux.go"));
        assert!(t.matches_name("a_linux_amd64_test.go"));
        assert!(!t.matches_name("a_windows.go"));
        assert!(!t.matches_name("a_arm64.go"));
        assert!(!t.matches_name("a_linux_arm64.go"));
        assert!(t.matches_name("sys_unix.go"), "unix is not a GOOS suffix");
    }

    #[test]
    fn expressions() {
        let t = Target::default();
        let ok = |s: &str| t.matches_source(format!("{s}\n\npackage p\n").as_bytes());
        assert!(ok("//go:build linux"));
        assert!(ok("//go:build unix && !windows"));
        assert!(!ok("//go:build ignore"));
        assert!(ok("//go:build (darwin || linux) && go1.18"));
        assert!(!ok("// Copyright\n\n//go:build windows"));
        assert!(
            ok("package p\n//go:build windows"),
            "after the package clause it is a comment"
        );
    }
}
