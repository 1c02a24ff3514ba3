//! The run record: `.sluice/runs/<run-id>/run.json` and `logs/<step>.log`, written with
//! temporary files and renames so that a crash never leaves half a record. It is written
//! whatever happened: failures, timeouts and cancellations included.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::exec::RunReport;

/// Writes the record under `state_dir` and returns the path of `run.json`.
pub fn write(state_dir: &Path, report: &RunReport) -> std::io::Result<PathBuf> {
    let dir = state_dir.join("runs").join(&report.run_id);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    for step in &report.steps {
        let mut text = String::new();
        for line in &step.log {
            text.push_str(&format!(
                "[+{}ms] {}: {}\n",
                line.at_ms,
                line.level.name(),
                line.message
            ));
        }
        if let Some(error) = &step.error {
            text.push_str(&format!("{}: {error}\n", step.status.name()));
        }
        write_atomic(&logs.join(format!("{}.log", step.id)), text.as_bytes())?;
    }
    let path = dir.join("run.json");
    write_atomic_with(&path, |out| {
        serde_json::to_writer_pretty(out, report).map_err(std::io::Error::other)
    })?;
    Ok(path)
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// Writes what `write` produces to `path` through a temporary file in the same directory,
/// buffered (a record with many findings is tens of megabytes: it is not built in memory).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(tmp, path)
}
