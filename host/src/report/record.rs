//! The run record: `.sluice/runs/<run-id>/run.json` and `logs/<step>.log`, written with
//! temporary files and renames so that a crash never leaves half a record. It is written
//! whatever happened: failures, timeouts and cancellations included.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::exec::RunReport;
use crate::sandbox::secrets::{Masked, MaskingWriter};

/// Writes the record under `state_dir` and returns the path of `run.json`. Both go through
/// the report's masker: the logs as a stream, `run.json` value by value (keys and numbers
/// included).
pub fn write(state_dir: &Path, report: &RunReport) -> std::io::Result<PathBuf> {
    let dir = state_dir.join("runs").join(&report.run_id);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    for step in &report.steps {
        write_atomic_with(&logs.join(format!("{}.log", step.id)), |out| {
            let mut out = MaskingWriter::new(&report.masker, out);
            for line in &step.log {
                writeln!(
                    out,
                    "[+{}ms] {}: {}",
                    line.at_ms,
                    line.level.name(),
                    line.message
                )?;
            }
            if let Some(error) = &step.error {
                writeln!(out, "{}: {error}", step.status.name())?;
            }
            out.finish().map(|_| ())
        })?;
    }
    let path = dir.join("run.json");
    write_atomic_with(&path, |out| {
        serde_json::to_writer_pretty(out, &Masked(report, &report.masker))
            .map_err(std::io::Error::other)
    })?;
    Ok(path)
}

/// Writes what `write` produces to `path` through a temporary file in the same directory,
/// buffered (a record with many findings is tens of megabytes: it is not built in memory).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = crate::cache::tmp_name(path);
    let written = (|| {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    })();
    match written {
        Ok(()) => std::fs::rename(&tmp, path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
