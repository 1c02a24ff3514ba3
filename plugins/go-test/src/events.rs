//! `go test -json` events (`go doc test2json`) folded into packages and tests, and what a
//! pipeline wants from them: findings at positions, JUnit XML.

use std::fmt::Write as _;

use serde::Deserialize;

use crate::cover::esc;

/// The most output kept per test, and per package (what is beyond is counted, not kept).
pub const MAX_OUTPUT: usize = 64 << 10;

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "Package", default)]
    package: String,
    #[serde(rename = "Test")]
    test: Option<String>,
    #[serde(rename = "Elapsed")]
    elapsed: Option<f64>,
    #[serde(rename = "Output")]
    output: Option<String>,
    /// Go 1.24+: `build-output` and `build-fail` events name the package here.
    #[serde(rename = "ImportPath")]
    import_path: Option<String>,
}

/// How a test or package ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Still running (no end event seen).
    Running,
    /// `pass`.
    Pass,
    /// `fail`.
    Fail,
    /// `skip`.
    Skip,
}

/// Text kept up to [`MAX_OUTPUT`] bytes.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// What was kept.
    pub text: String,
    /// Bytes beyond it.
    pub cut: usize,
}

impl Output {
    fn push(&mut self, s: &str) {
        if self.text.len() + s.len() <= MAX_OUTPUT {
            self.text.push_str(s);
        } else {
            self.cut += s.len();
        }
    }
}

/// One test (or subtest, named `TestX/case`).
#[derive(Debug, Clone)]
pub struct Test {
    /// Its name.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// Seconds.
    pub elapsed: f64,
    /// What it printed.
    pub output: Output,
}

/// One package.
#[derive(Debug, Clone)]
pub struct Package {
    /// Its import path.
    pub name: String,
    /// How it ended.
    pub status: Status,
    /// Seconds.
    pub elapsed: f64,
    /// What it printed outside of tests (and build output, Go 1.24+).
    pub output: Output,
    /// Its tests, in the order they started.
    pub tests: Vec<Test>,
}

impl Package {
    /// Whether it failed before running tests (`[build failed]`, `[setup failed]`).
    pub fn build_failed(&self) -> bool {
        self.status == Status::Fail
            && (self.output.text.contains("[build failed]")
                || self.output.text.contains("[setup failed]"))
    }
}

/// Every event of a run, folded.
#[derive(Debug, Default)]
pub struct Run {
    /// Packages, in the order they appeared.
    pub packages: Vec<Package>,
    /// Lines of stdout that were not events.
    pub other: Output,
}

impl Run {
    /// Folds one line of `go test -json` output. Returns the package's name when the line
    /// ended a package.
    pub fn push(&mut self, line: &str) -> Option<String> {
        let Ok(event) = serde_json::from_str::<Event>(line) else {
            self.other.push(line);
            self.other.push("\n");
            // Before Go 1.24 a package that does not build has no events, only this line.
            if let Some(rest) = line.strip_prefix("FAIL\t")
                && (rest.ends_with("[build failed]") || rest.ends_with("[setup failed]"))
            {
                let name = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if !self.packages.iter().any(|p| p.name == name) {
                    let mut output = Output::default();
                    output.push(line);
                    output.push("\n");
                    self.packages.push(Package {
                        name: name.clone(),
                        status: Status::Fail,
                        elapsed: 0.0,
                        output,
                        tests: Vec::new(),
                    });
                    return Some(name);
                }
            }
            return None;
        };
        let name = if event.package.is_empty() {
            event.import_path.clone().unwrap_or_default()
        } else {
            event.package.clone()
        };
        let i = match self.packages.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                self.packages.push(Package {
                    name: name.clone(),
                    status: Status::Running,
                    elapsed: 0.0,
                    output: Output::default(),
                    tests: Vec::new(),
                });
                self.packages.len() - 1
            }
        };
        let pkg = &mut self.packages[i];
        let end = match event.action.as_str() {
            "pass" => Some(Status::Pass),
            "fail" | "build-fail" => Some(Status::Fail),
            "skip" => Some(Status::Skip),
            _ => None,
        };
        match &event.test {
            Some(test) => {
                let t = match pkg.tests.iter().position(|t| &t.name == test) {
                    Some(t) => t,
                    None => {
                        pkg.tests.push(Test {
                            name: test.clone(),
                            status: Status::Running,
                            elapsed: 0.0,
                            output: Output::default(),
                        });
                        pkg.tests.len() - 1
                    }
                };
                let t = &mut pkg.tests[t];
                if let Some(out) = &event.output {
                    t.output.push(out);
                }
                if let Some(status) = end {
                    t.status = status;
                    t.elapsed = event.elapsed.unwrap_or(0.0);
                }
                None
            }
            None => {
                if let Some(out) = &event.output {
                    pkg.output.push(out);
                }
                match (end, event.action.as_str()) {
                    (Some(status), a) if a != "build-fail" => {
                        pkg.status = status;
                        pkg.elapsed = event.elapsed.unwrap_or(0.0);
                        Some(name)
                    }
                    _ => None,
                }
            }
        }
    }

    /// Counts of tests that passed, failed and were skipped (subtests included).
    pub fn counts(&self) -> (u64, u64, u64) {
        let mut c = (0, 0, 0);
        for t in self.packages.iter().flat_map(|p| &p.tests) {
            match t.status {
                Status::Pass => c.0 += 1,
                Status::Fail => c.1 += 1,
                Status::Skip => c.2 += 1,
                Status::Running => {}
            }
        }
        c
    }

    /// JUnit XML: a `testsuite` per package, a `testcase` per test with its time, a
    /// `failure` (message and output) or `skipped`, and its output; a package that failed to
    /// build is a suite with one `error`.
    pub fn junit(&self, timestamp: &str) -> String {
        let (passed, failed, skipped) = self.counts();
        let errors = self.packages.iter().filter(|p| p.build_failed()).count();
        let total_time: f64 = self.packages.iter().map(|p| p.elapsed).sum();
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<testsuites name=\"go test\" tests=\"{}\" failures=\"{failed}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total_time:.3}\">",
            passed + failed + skipped + errors as u64
        );
        for (id, p) in self.packages.iter().enumerate() {
            let count = |s: Status| p.tests.iter().filter(|t| t.status == s).count();
            let build = p.build_failed();
            let tests = p.tests.len() + usize::from(build);
            let _ = writeln!(
                x,
                "  <testsuite name=\"{}\" id=\"{id}\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{timestamp}\">",
                esc(&p.name),
                count(Status::Fail),
                usize::from(build),
                count(Status::Skip),
                p.elapsed
            );
            if build {
                let _ = writeln!(
                    x,
                    "    <testcase name=\"[build]\" classname=\"{}\" time=\"0.000\">\n      <error message=\"the package did not build\" type=\"build\">{}</error>\n    </testcase>",
                    esc(&p.name),
                    esc(&p.output.text)
                );
            }
            for t in &p.tests {
                let _ = write!(
                    x,
                    "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\">",
                    esc(&t.name),
                    esc(&p.name),
                    t.elapsed
                );
                match t.status {
                    Status::Fail | Status::Running => {
                        let message = failure_message(&t.output.text)
                            .unwrap_or_else(|| format!("{} failed", t.name));
                        let _ = write!(
                            x,
                            "\n      <failure message=\"{}\" type=\"failure\">{}</failure>",
                            esc(&message),
                            esc(&t.output.text)
                        );
                    }
                    Status::Skip => {
                        let why = skip_message(&t.output.text).unwrap_or_default();
                        let _ = write!(x, "\n      <skipped message=\"{}\"/>", esc(&why));
                    }
                    Status::Pass => {}
                }
                if !t.output.text.is_empty() && t.status == Status::Pass {
                    let _ = write!(
                        x,
                        "\n      <system-out>{}</system-out>",
                        esc(&t.output.text)
                    );
                }
                if t.status == Status::Pass {
                    x.push_str("</testcase>\n");
                } else {
                    x.push_str("\n    </testcase>\n");
                }
            }
            x.push_str("  </testsuite>\n");
        }
        x.push_str("</testsuites>\n");
        x
    }
}

/// A `file.go:line: message` the testing package printed: (file, line, message).
pub fn located(line: &str) -> Option<(&str, u32, &str)> {
    let t = line.trim_start();
    let (file, rest) = t.split_once(".go:")?;
    if file.is_empty() || file.contains(' ') {
        return None;
    }
    let (num, message) = rest.split_once(':')?;
    let line_no: u32 = num.parse().ok()?;
    Some((&t[..file.len() + 3], line_no, message.trim()))
}

/// The first `file.go:N: message` of a failed test's output.
pub fn failure_message(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let (file, line, message) = located(l)?;
        Some(format!("{file}:{line}: {message}"))
    })
}

fn skip_message(output: &str) -> Option<String> {
    failure_message(output)
}

/// One `WARNING: DATA RACE` report: its frames, `(function, file, line)`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Race {
    /// Frames of every goroutine stack in the report, in order.
    pub frames: Vec<(String, String, u32)>,
}

/// The data race reports in some output.
pub fn races(output: &str) -> Vec<Race> {
    let mut out = Vec::new();
    let mut current: Option<Race> = None;
    let mut function = String::new();
    for line in output.lines() {
        if line.contains("WARNING: DATA RACE") {
            current = Some(Race { frames: Vec::new() });
            continue;
        }
        let Some(race) = current.as_mut() else {
            continue;
        };
        if line.starts_with("==================") {
            out.push(current.take().expect("some"));
            continue;
        }
        let t = line.trim();
        // A frame is a function line followed by `      /path/file.go:12 +0x1c`.
        if let Some((file, rest)) = t.split_once(".go:")
            && t.starts_with('/')
        {
            let num: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = num.parse() {
                race.frames
                    .push((function.clone(), format!("{file}.go"), n));
            }
        } else {
            function = t.to_string();
        }
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_events_into_packages_and_tests() {
        let mut run = Run::default();
        let lines = [
            r#"{"Action":"run","Package":"m/a","Test":"TestOK"}"#,
            r#"{"Action":"output","Package":"m/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}"#,
            r#"{"Action":"pass","Package":"m/a","Test":"TestOK","Elapsed":0.01}"#,
            r#"{"Action":"run","Package":"m/a","Test":"TestBad"}"#,
            r#"{"Action":"output","Package":"m/a","Test":"TestBad","Output":"    a_test.go:12: got 1, want 2\n"}"#,
            r#"{"Action":"fail","Package":"m/a","Test":"TestBad","Elapsed":0.02}"#,
            r#"{"Action":"skip","Package":"m/a","Test":"TestSkip","Elapsed":0}"#,
            r#"{"Action":"output","Package":"m/a","Output":"FAIL\n"}"#,
            r#"{"Action":"fail","Package":"m/a","Elapsed":0.5}"#,
            r#"{"Action":"output","Package":"m/b","Output":"FAIL\tm/b [build failed]\n"}"#,
            r#"{"Action":"fail","Package":"m/b","Elapsed":0}"#,
            "not json",
            "FAIL\tm/c [build failed]",
        ];
        let ended: Vec<Option<String>> = lines.iter().map(|l| run.push(l)).collect();
        assert_eq!(ended[8].as_deref(), Some("m/a"));
        assert_eq!(ended[10].as_deref(), Some("m/b"));
        assert_eq!(run.counts(), (1, 1, 1));
        assert!(run.packages[1].build_failed());
        assert_eq!(run.other.text, "not json\nFAIL\tm/c [build failed]\n");
        assert_eq!(ended[12].as_deref(), Some("m/c"));
        assert!(run.packages[2].build_failed());
        let junit = run.junit("2026-01-01T00:00:00");
        assert!(
            junit.contains("<failure message=\"a_test.go:12: got 1, want 2\""),
            "{junit}"
        );
        assert!(
            junit.contains("tests=\"5\" failures=\"1\" errors=\"2\" skipped=\"1\""),
            "{junit}"
        );
        assert!(
            junit.contains("<error message=\"the package did not build\""),
            "{junit}"
        );
    }

    #[test]
    fn finds_race_frames() {
        let out = "==================\nWARNING: DATA RACE\nWrite at 0x00c by goroutine 8:\n  m/r.(*C).Inc()\n      /workspace/r/r.go:10 +0x44\n  m/r.TestRace.func1()\n      /workspace/r/r_test.go:12 +0x2e\n\nPrevious write at 0x00c by goroutine 7:\n  m/r.(*C).Inc()\n      /workspace/r/r.go:10 +0x44\n==================\n";
        let r = races(out);
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].frames[0],
            (
                "m/r.(*C).Inc()".to_string(),
                "/workspace/r/r.go".to_string(),
                10
            )
        );
        assert_eq!(
            located("    x_test.go:7: boom: bad"),
            Some(("x_test.go", 7, "boom: bad"))
        );
        assert_eq!(located("--- FAIL: TestX (0.00s)"), None);
    }
}
