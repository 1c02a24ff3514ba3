//! Programs the pipeline grants a step (`allow.exec = ["go"]`), started confined.
//!
//! A started program sees what the step sees and no more — the step's grants at the same
//! guest paths ([`WORKSPACE`](crate::WORKSPACE)`/...`, `/inputs/`, `/outputs/`), `/usr`
//! read-only, a private `/tmp` (its `HOME` and `TMPDIR`), and [`CACHE`], a directory that
//! persists between runs of this step only (point tool caches such as `GOCACHE` there). It
//! has no network; every process it starts dies when the step ends; its environment holds
//! only a minimal `PATH`, `HOME`, `TMPDIR`, the step's `env` and what [`Command::env`] sets.
//! A plugin asks for a program in [`PluginInfo::wants`](crate::PluginInfo) as `exec:<name>`.
//!
//! ```
//! use sluice_sdk::process::{Command, Stdio};
//!
//! let cmd = Command::new("go")
//!     .args(["test", "-json", "./..."])
//!     .cwd("/workspace")
//!     .env("GOCACHE", "/cache/go-build")
//!     .stdout(Stdio::Pipe);
//! assert_eq!(cmd.get_program(), "go");
//! assert_eq!(cmd.get_args(), ["test", "-json", "./..."]);
//!
//! // Inside a step: read `go test -json` events as they come, then wait.
//! fn run(cmd: &Command) -> Result<i32, String> {
//!     let child = cmd.spawn()?;
//!     for line in child.lines() {
//!         let (_stream, line) = line?;
//!         sluice_sdk::progress(0, 0, &line);
//!     }
//!     let status = child.wait()?;
//!     Ok(status.code.unwrap_or(-1))
//! }
//! # let _ = run;
//! ```

use crate::bindings::sluice::step::process as wit;

pub use wit::{Chunk, ExitStatus, Output as Stdio, PipeName};

/// Where a step's programs see the step's persistent cache directory.
pub const CACHE: &str = "/cache";

/// A program to start, built like `std::process::Command`.
#[derive(Debug, Clone)]
pub struct Command {
    program: String,
    args: Vec<String>,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    stdout: Stdio,
    stderr: Stdio,
}

impl Command {
    /// A granted program, by the name granted (`go`) or its absolute path. Its stdout and
    /// stderr go to the step's log unless set otherwise.
    pub fn new(program: impl Into<String>) -> Self {
        Command {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            stdin: None,
            stdout: Stdio::Log,
            stderr: Stdio::Log,
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the working directory (a guest path; `/workspace` by default).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an environment variable (over the step's `env`).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Bytes for standard input (empty by default).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Where standard output goes.
    pub fn stdout(mut self, to: Stdio) -> Self {
        self.stdout = to;
        self
    }

    /// Where standard error goes.
    pub fn stderr(mut self, to: Stdio) -> Self {
        self.stderr = to;
        self
    }

    /// The program.
    pub fn get_program(&self) -> &str {
        &self.program
    }

    /// The arguments.
    pub fn get_args(&self) -> &[String] {
        &self.args
    }

    fn to_wit(&self) -> wit::Command {
        wit::Command {
            program: self.program.clone(),
            args: self.args.clone(),
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            stdin: self.stdin.clone(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
        }
    }

    /// Starts it.
    pub fn spawn(&self) -> Result<Child, String> {
        #[cfg(target_arch = "wasm32")]
        return wit::start(&self.to_wit()).map(|inner| Child {
            inner,
            pending: Default::default(),
        });
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = self.to_wit();
            Err(format!(
                "cannot start `{}`: only inside a step",
                self.program
            ))
        }
    }

    /// Starts it and waits for it to end.
    pub fn status(&self) -> Result<ExitStatus, String> {
        self.spawn()?.wait()
    }

    /// Starts it with stdout and stderr piped, collects both, and waits.
    pub fn output(&self) -> Result<Collected, String> {
        self.clone()
            .stdout(Stdio::Pipe)
            .stderr(Stdio::Pipe)
            .spawn()?
            .collect()
    }
}

/// What [`Command::output`] and [`Child::collect`] gathered.
#[derive(Debug, Default)]
pub struct Collected {
    /// How it ended.
    pub status: Option<ExitStatus>,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

/// A started program. Dropping it kills the program and everything it started.
#[derive(Debug)]
pub struct Child {
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    inner: wit::Child,
    pending: std::cell::RefCell<[Vec<u8>; 2]>,
}

impl Child {
    /// The next chunk of piped output; `None` once every piped stream is closed.
    pub fn read(&self) -> Result<Option<Chunk>, String> {
        self.inner.read()
    }

    /// Reads every piped stream to its end (after what [`Child::lines`] has buffered), then
    /// waits: what [`Command::output`] does with a child started earlier.
    pub fn collect(self) -> Result<Collected, String> {
        let [stdout, stderr] = self.pending.take();
        let mut out = Collected {
            status: None,
            stdout,
            stderr,
        };
        while let Some(chunk) = self.read()? {
            match chunk.source {
                PipeName::Stdout => out.stdout.extend_from_slice(&chunk.data),
                PipeName::Stderr => out.stderr.extend_from_slice(&chunk.data),
            }
        }
        out.status = Some(self.wait()?);
        Ok(out)
    }

    /// Waits for the program to end.
    pub fn wait(&self) -> Result<ExitStatus, String> {
        self.inner.wait()
    }

    /// Kills the program and everything it started.
    pub fn kill(&self) {
        self.inner.kill()
    }

    /// Piped output, line by line (without the newline), as it comes.
    pub fn lines(&self) -> Lines<'_> {
        Lines { child: self }
    }
}

/// Iterator over a child's piped output lines, see [`Child::lines`].
#[derive(Debug)]
pub struct Lines<'a> {
    child: &'a Child,
}

impl Iterator for Lines<'_> {
    type Item = Result<(PipeName, String), String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            {
                let mut pending = self.child.pending.borrow_mut();
                for (i, buf) in pending.iter_mut().enumerate() {
                    if let Some(end) = buf.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=end).collect();
                        let text = String::from_utf8_lossy(&line[..end]).into_owned();
                        return Some(Ok((stream(i), text)));
                    }
                }
            }
            match self.child.read() {
                Ok(Some(chunk)) => {
                    let i = match chunk.source {
                        PipeName::Stdout => 0,
                        PipeName::Stderr => 1,
                    };
                    self.child.pending.borrow_mut()[i].extend_from_slice(&chunk.data);
                }
                Ok(None) => {
                    // The streams ended: what is left is a last line without a newline.
                    let mut pending = self.child.pending.borrow_mut();
                    for (i, buf) in pending.iter_mut().enumerate() {
                        if !buf.is_empty() {
                            let text = String::from_utf8_lossy(buf).into_owned();
                            buf.clear();
                            return Some(Ok((stream(i), text)));
                        }
                    }
                    return None;
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

fn stream(i: usize) -> PipeName {
    if i == 0 {
        PipeName::Stdout
    } else {
        PipeName::Stderr
    }
}
