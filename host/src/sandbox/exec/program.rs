//! `allow.exec`: granted programs, resolved once on the host's `PATH` when the pipeline is
//! planned, with the digest that `sluice audit` and the run record show.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A program a step may start, as resolved when the pipeline was planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Program {
    /// The name as granted (`go`, or an absolute path).
    pub name: String,
    /// The file it resolved to (symlinks resolved).
    pub path: PathBuf,
    /// `sha256:<hex>` of that file when it was resolved.
    pub digest: String,
    /// Identity of the file when it was resolved: a program replaced after planning is
    /// refused when a step starts it.
    #[serde(skip)]
    pub(crate) identity: Identity,
}

/// What identifies a file between planning and use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Self {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// Why a granted program cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramError {
    /// Not on `PATH` (or no such absolute path).
    #[error("program `{name}` is not installed on this machine (looked in {searched})")]
    NotFound {
        /// The name as granted.
        name: String,
        /// Where it was looked for.
        searched: String,
    },
    /// A name with a `/` that is not absolute, or an empty name.
    #[error(
        "`{0}` is not a program name: grant a name looked up on PATH (like \"go\") or an absolute path"
    )]
    BadName(String),
    /// Found, but not an executable regular file.
    #[error("`{name}` resolves to {path}, which is not an executable file")]
    NotExecutable {
        /// The name as granted.
        name: String,
        /// What it resolved to.
        path: String,
    },
    /// Could not be read to compute its digest.
    #[error("cannot read program `{name}` ({path}): {error}")]
    Unreadable {
        /// The name as granted.
        name: String,
        /// What it resolved to.
        path: String,
        /// Why.
        error: String,
    },
}

impl ProgramError {
    /// How to fix it, for the diagnostic.
    pub fn help(&self) -> String {
        match self {
            ProgramError::NotFound { name, .. } => match install_hint(name) {
                Some(package) => format!(
                    "install it (on Debian and Ubuntu: `apt-get install {package}`), or grant its absolute path"
                ),
                None => "install it, or grant its absolute path".into(),
            },
            ProgramError::BadName(_) => {
                "write `exec = [\"go\"]` or `exec = [\"/usr/bin/go\"]`".into()
            }
            ProgramError::NotExecutable { .. } | ProgramError::Unreadable { .. } => {
                "grant an executable file".into()
            }
        }
    }
}

/// The Debian package that provides a well-known program.
fn install_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "go" | "gofmt" => "golang-go",
        "gcc" | "cc" => "gcc",
        "git" => "git",
        "podman" => "podman",
        "skopeo" => "skopeo",
        "python3" => "python3",
        "node" => "nodejs",
        "make" => "make",
        "sh" | "dash" => "dash",
        "bash" => "bash",
        "staticcheck" | "go-staticcheck" => "go-staticcheck",
        _ => return None,
    })
}

/// The host's search path for granted programs: `$PATH`, or the usual system directories.
pub fn search_path() -> Vec<PathBuf> {
    match std::env::var_os("PATH") {
        Some(p) if !p.is_empty() => std::env::split_paths(&p).collect(),
        _ => ["/usr/local/bin", "/usr/bin", "/bin"]
            .iter()
            .map(PathBuf::from)
            .collect(),
    }
}

/// Checks the form of a granted program: a bare name or an absolute path.
pub fn check_name(name: &str) -> Result<(), ProgramError> {
    if name.is_empty() || (name.contains('/') && !name.starts_with('/')) || name.contains('\0') {
        return Err(ProgramError::BadName(name.to_string()));
    }
    Ok(())
}

/// Resolves a granted program once: on `search` for a bare name, as is for an absolute path;
/// symlinks resolved; must be an executable regular file; hashed.
pub fn resolve(name: &str, search: &[PathBuf]) -> Result<Program, ProgramError> {
    check_name(name)?;
    let candidates: Vec<PathBuf> = if name.starts_with('/') {
        vec![PathBuf::from(name)]
    } else {
        search
            .iter()
            .filter(|d| d.is_absolute())
            .map(|d| d.join(name))
            .collect()
    };
    let found = candidates.iter().find(|c| {
        std::fs::metadata(c).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    let Some(found) = found else {
        if let Some(c) = candidates.iter().find(|c| c.exists()) {
            return Err(ProgramError::NotExecutable {
                name: name.to_string(),
                path: c.display().to_string(),
            });
        }
        return Err(ProgramError::NotFound {
            name: name.to_string(),
            searched: if name.starts_with('/') {
                name.to_string()
            } else {
                format!(
                    "PATH: {}",
                    search
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(":")
                )
            },
        });
    };
    let unreadable = |path: &Path, e: std::io::Error| ProgramError::Unreadable {
        name: name.to_string(),
        path: path.display().to_string(),
        error: e.to_string(),
    };
    let path = std::fs::canonicalize(found).map_err(|e| unreadable(found, e))?;
    let (digest, identity) = hash(&path).map_err(|e| unreadable(&path, e))?;
    Ok(Program {
        name: name.to_string(),
        path,
        digest,
        identity,
    })
}

/// Where digests of granted programs are remembered between runs (set once by the CLI: the
/// user's cache directory), so that a 15 MB `go` is not read again on every run.
static DIGEST_MEMO: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Remembers program digests in `dir` from now on, keyed by path and `stat` (device, inode,
/// size, mtime, ctime): a file whose `stat` is unchanged is not hashed again, unless it
/// changed less than 2 s before it was hashed (git's "racily clean" rule).
pub fn remember_digests_in(dir: PathBuf) {
    let _ = DIGEST_MEMO.set(dir);
}

fn hash(path: &Path) -> std::io::Result<(String, Identity)> {
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let before = Identity::of(&meta);
    let stamp = format!(
        "{} {} {} {}.{} {}.{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    let memo = DIGEST_MEMO.get().map(|dir| {
        let name = hex::encode(Sha256::digest(path.as_os_str().as_encoded_bytes()));
        dir.join(format!("{}.digest", &name[..32]))
    });
    if let Some(memo) = &memo
        && let Ok(text) = std::fs::read_to_string(memo)
        && let Some((line, digest)) = text.split_once('\n')
        && line == stamp
        && digest.starts_with("sha256:")
        && digest.len() == 71
    {
        return Ok((digest.to_string(), before));
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    let changed = meta.mtime().max(meta.ctime());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if let Some(memo) = memo
        && now - changed > 2
    {
        let _ = std::fs::create_dir_all(memo.parent().expect("has a parent")).and_then(|()| {
            crate::cache::write_atomic(&memo, format!("{stamp}\n{digest}").as_bytes())
        });
    }
    Ok((digest, before))
}

impl Program {
    /// Checks that the file is still the one resolved and hashed at planning.
    pub fn check_unchanged(&self) -> Result<(), String> {
        let now = std::fs::metadata(&self.path).map(|m| Identity::of(&m));
        match now {
            Ok(id) if id == self.identity => Ok(()),
            Ok(_) => Err(format!(
                "program `{}` ({}) changed since the pipeline was planned (its digest was {})",
                self.name,
                self.path.display(),
                self.digest
            )),
            Err(e) => Err(format!(
                "program `{}` ({}) is gone since the pipeline was planned: {e}",
                self.name,
                self.path.display()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_on_the_path_and_refuses_what_is_not_a_program() {
        let search = vec![PathBuf::from("/nonexistent"), PathBuf::from("/bin")];
        let sh = resolve("sh", &search).expect("sh");
        assert!(sh.path.is_absolute() && !sh.path.is_symlink());
        assert!(sh.digest.starts_with("sha256:") && sh.digest.len() == 71);
        sh.check_unchanged().expect("unchanged");
        assert_eq!(resolve("/bin/sh", &search).expect("abs").path, sh.path);
        assert!(matches!(
            resolve("no-such-program-here", &search),
            Err(ProgramError::NotFound { .. })
        ));
        assert!(matches!(
            resolve("bin/sh", &search),
            Err(ProgramError::BadName(_))
        ));
        let plain =
            std::env::temp_dir().join(format!("sluice-not-a-program-{}", std::process::id()));
        std::fs::write(&plain, "data").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = resolve(plain.to_str().unwrap(), &search);
        std::fs::remove_file(&plain).unwrap();
        assert!(
            matches!(refused, Err(ProgramError::NotExecutable { .. })),
            "{refused:?}"
        );
    }
}
