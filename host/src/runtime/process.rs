//! The `sluice:step/process` interface: granted programs, started confined
//! ([`crate::sandbox::exec`]), their output read as it comes, logged or written to a file.

use std::sync::{Arc, Mutex};

use wasmtime::component::Resource;

use super::bindings::sluice::step::process::{self, Chunk, Command, ExitStatus, Output, PipeName};
use super::host::{LogLevel, StepLog, StepState};
use crate::sandbox::exec::{self, Running, Which};

/// A started program, as the guest holds it.
#[derive(Debug)]
pub struct ChildHandle {
    running: Running,
}

impl process::Host for StepState {
    fn start(&mut self, cmd: Command) -> wasmtime::Result<Result<Resource<ChildHandle>, String>> {
        self.check_deadline()?;
        let Some(exec) = self.exec.clone() else {
            let shown = super::shown_name(&cmd.program);
            let message = format!(
                "denied: program `{shown}` is not granted to this step; to allow it add `exec = [\"{shown}\"]` to the step's `allow` table"
            );
            self.log.lock().expect("log lock").denied(&message);
            return Ok(Err(message));
        };
        let output = |o: Output, state: &StepState| -> Result<exec::Output, String> {
            Ok(match o {
                Output::Log => exec::Output::Log,
                Output::Pipe => exec::Output::Pipe,
                Output::Discard => exec::Output::Discard,
                Output::File(path) => {
                    exec::Output::File(crate::sandbox::fs::open_write(state.mounts(), &path)?)
                }
            })
        };
        let (log_out, log_err) = (
            matches!(cmd.stdout, Output::Log),
            matches!(cmd.stderr, Output::Log),
        );
        let start = (|| -> Result<exec::Start, String> {
            Ok(exec::Start {
                program: cmd.program.clone(),
                args: cmd.args,
                cwd: cmd
                    .cwd
                    .unwrap_or_else(|| crate::sandbox::fs::WORKSPACE.to_string()),
                env: cmd.env,
                stdin: cmd.stdin,
                stdout: output(cmd.stdout, self)?,
                stderr: output(cmd.stderr, self)?,
            })
        })();
        let mut running = match start.and_then(|s| exec.start(s)) {
            Ok(r) => r,
            Err(message) => {
                if message.starts_with("denied:") {
                    self.log.lock().expect("log lock").denied(&message);
                }
                return Ok(Err(message));
            }
        };
        if log_out && let Some(fd) = running.stdout.take() {
            drain_to_log(fd, self.log.clone(), LogLevel::Stdout);
        }
        if log_err && let Some(fd) = running.stderr.take() {
            drain_to_log(fd, self.log.clone(), LogLevel::Stderr);
        }
        Ok(Ok(self.table.push(ChildHandle { running })?))
    }
}

/// Copies a child's output into the step's log, line by line, from a thread that ends when
/// every holder of the pipe's other end is gone (the program and what it started).
fn drain_to_log(fd: std::os::fd::OwnedFd, log: Arc<Mutex<StepLog>>, level: LogLevel) {
    let spawned = std::thread::Builder::new()
        .name("sluice-child-log".into())
        .spawn(move || {
            let mut file = std::fs::File::from(fd);
            let mut line: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 1 << 16];
            let flush = |line: &mut Vec<u8>| {
                let text = String::from_utf8_lossy(line);
                let text = text.strip_suffix('\n').unwrap_or(&text);
                log.lock().expect("log lock").push(level, text);
                line.clear();
            };
            loop {
                match std::io::Read::read(&mut file, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        for &b in &buf[..n] {
                            line.push(b);
                            if b == b'\n' || line.len() >= super::host::MAX_LINE_BYTES {
                                flush(&mut line);
                            }
                        }
                    }
                }
            }
            if !line.is_empty() {
                flush(&mut line);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start a log thread: {e}");
    }
}

impl process::HostChild for StepState {
    fn read(
        &mut self,
        child: Resource<ChildHandle>,
    ) -> wasmtime::Result<Result<Option<Chunk>, String>> {
        self.check_deadline()?;
        let deadline = self.deadline.clone();
        let handle = self.table.get_mut(&child)?;
        let result = handle.running.read(&deadline);
        if result.is_err() {
            self.check_deadline()?;
        }
        Ok(result.map(|chunk| {
            chunk.map(|(which, data)| Chunk {
                source: match which {
                    Which::Stdout => PipeName::Stdout,
                    Which::Stderr => PipeName::Stderr,
                },
                data,
            })
        }))
    }

    fn wait(
        &mut self,
        child: Resource<ChildHandle>,
    ) -> wasmtime::Result<Result<ExitStatus, String>> {
        self.check_deadline()?;
        let deadline = self.deadline.clone();
        let handle = self.table.get_mut(&child)?;
        let result = handle.running.wait(&deadline);
        if result.is_err() {
            handle.running.kill();
            self.check_deadline()?;
        }
        let exit = match result {
            Ok(exit) => exit,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(limit) = &exit.limit {
            self.push_log(
                LogLevel::Warn,
                &format!("a program of this step hit a limit: {limit}"),
            );
        }
        Ok(Ok(ExitStatus {
            code: exit.code,
            signal: exit.signal,
            wall_ms: exit.wall.as_millis() as u64,
            cpu_ms: exit.cpu.as_millis() as u64,
            peak_rss: exit.peak_rss,
            limit: exit.limit,
        }))
    }

    fn kill(&mut self, child: Resource<ChildHandle>) -> wasmtime::Result<()> {
        let handle = self.table.get_mut(&child)?;
        handle.running.kill();
        Ok(())
    }

    fn drop(&mut self, child: Resource<ChildHandle>) -> wasmtime::Result<()> {
        // Dropping the handle kills what is still running and reaps it.
        self.table.delete(child)?;
        Ok(())
    }
}
