//! Filesystem grants: `allow.read` / `allow.write` entries become WASI preopens under
//! `/workspace/`, artifacts wired into a step appear read-only under `/inputs/<input>/`, and
//! each step has a private writable `/outputs/`.
//!
//! Enforcement is WASI's (cap-std underneath): a preopen cannot be left through `..`,
//! absolute paths or symlinks, and a read-only preopen refuses writes. What this module adds
//! is the mapping, plus the checks WASI cannot do: a grant must exist and must not itself
//! lead outside the workspace through a symlink.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::manifest::{Allow, WorkspacePath};

/// The guest directory under which workspace grants appear.
pub const WORKSPACE: &str = "/workspace";
/// The guest directory holding a step's input artifacts.
pub const INPUTS: &str = "/inputs";
/// The guest directory a step writes its artifacts to.
pub const OUTPUTS: &str = "/outputs";

/// One host directory visible to a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Host directory.
    pub host: PathBuf,
    /// Where the step sees it.
    pub guest: String,
    /// Whether the step may write into it.
    pub writable: bool,
}

/// Why a grant cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// A read grant names something that does not exist.
    #[error("`{path}` does not exist in the workspace")]
    Missing {
        /// The grant as written.
        path: String,
    },
    /// A grant leads out of the workspace through a symlink.
    #[error("`{path}` resolves to {}, outside the workspace (through a symlink)", resolved.display())]
    Escapes {
        /// The grant as written.
        path: String,
        /// Where it leads.
        resolved: PathBuf,
    },
    /// A write grant would reach sluice's own state (compiled code, artifacts, records).
    #[error("`{path}` would let the step write into sluice's own state ({})", protected.display())]
    Protected {
        /// The grant as written.
        path: String,
        /// The protected directory it reaches.
        protected: PathBuf,
    },
    /// An I/O error while preparing the grant.
    #[error("cannot prepare `{path}`: {source}")]
    Io {
        /// The grant as written.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The guest path for a workspace-relative path.
pub fn guest_path(path: &Path) -> String {
    if path == Path::new(".") {
        WORKSPACE.to_string()
    } else {
        format!("{WORKSPACE}/{}", path.display())
    }
}

/// The directories under the workspace's `.sluice/` that no step may write: compiled code the
/// host loads (`cache`), artifacts other steps consume (`store`), run records (`runs`) and other
/// steps' scratch space (`tmp`). Other `.sluice/<name>` directories may be granted, e.g. for a
/// step's own build cache.
pub const PROTECTED: [&str; 4] = [
    ".sluice/cache",
    ".sluice/store",
    ".sluice/runs",
    ".sluice/tmp",
];

/// Refuses a write grant whose canonical host path contains, or lies inside, one of sluice's
/// protected directories. Checked on canonical paths so that a symlink planted by an earlier
/// step cannot route a later grant into them.
pub fn check_not_protected(
    root: &Path,
    grant: &WorkspacePath,
    host: &Path,
) -> Result<(), GrantError> {
    for rel in PROTECTED {
        let protected = root.join(rel);
        let protected = protected.canonicalize().unwrap_or(protected);
        if host.starts_with(&protected) || protected.starts_with(host) {
            return Err(GrantError::Protected {
                path: grant.to_string(),
                protected: PathBuf::from(rel),
            });
        }
    }
    Ok(())
}

/// Checks a grant and returns its canonical host path (`None` when it does not exist).
pub fn check_grant(workspace: &Path, grant: &WorkspacePath) -> Result<Option<PathBuf>, GrantError> {
    let root = workspace.canonicalize().map_err(|source| GrantError::Io {
        path: ".".into(),
        source,
    })?;
    let host = root.join(grant.as_path());
    match host.canonicalize() {
        Ok(resolved) if resolved.starts_with(&root) => Ok(Some(resolved)),
        Ok(resolved) => Err(GrantError::Escapes {
            path: grant.to_string(),
            resolved,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink is not "missing": it leads somewhere we will not follow.
            if let Ok(target) = std::fs::read_link(&host) {
                return Err(GrantError::Escapes {
                    path: grant.to_string(),
                    resolved: target,
                });
            }
            Ok(None)
        }
        Err(source) => Err(GrantError::Io {
            path: grant.to_string(),
            source,
        }),
    }
}

/// Turns a step's `allow.read` / `allow.write` into mounts. Write grants that do not exist
/// are created as directories. A single-file grant is given through a private directory in
/// `scratch` that holds only that file (hard-linked), mounted where the file's directory
/// would be.
pub fn workspace_mounts(
    workspace: &Path,
    allow: &Allow,
    scratch: &Path,
) -> Result<Vec<Mount>, GrantError> {
    let mut dirs: Vec<(WorkspacePath, PathBuf, bool)> = Vec::new();
    let mut files: Vec<(WorkspacePath, PathBuf, bool)> = Vec::new();
    let grants = allow
        .read
        .iter()
        .map(|g| (g.get_ref(), false))
        .chain(allow.write.iter().map(|g| (g.get_ref(), true)));
    for (grant, writable) in grants {
        let host = match check_grant(workspace, grant)? {
            Some(host) => host,
            None if writable => {
                let root = workspace.canonicalize().map_err(|source| GrantError::Io {
                    path: ".".into(),
                    source,
                })?;
                std::fs::create_dir_all(root.join(grant.as_path())).map_err(|source| {
                    GrantError::Io {
                        path: grant.to_string(),
                        source,
                    }
                })?;
                check_grant(workspace, grant)?.ok_or_else(|| GrantError::Missing {
                    path: grant.to_string(),
                })?
            }
            None => {
                return Err(GrantError::Missing {
                    path: grant.to_string(),
                });
            }
        };
        if writable {
            let root = workspace.canonicalize().map_err(|source| GrantError::Io {
                path: ".".into(),
                source,
            })?;
            check_not_protected(&root, grant, &host)?;
        }
        if host.is_dir() {
            dirs.push((grant.clone(), host, writable));
        } else {
            files.push((grant.clone(), host, writable));
        }
    }

    let mut mounts: Vec<Mount> = Vec::new();
    for (grant, host, writable) in &dirs {
        let guest = guest_path(grant.as_path());
        match mounts.iter_mut().find(|m| m.guest == guest) {
            Some(existing) => existing.writable |= writable,
            None => mounts.push(Mount {
                host: host.clone(),
                guest,
                writable: *writable,
            }),
        }
    }

    // Files not already visible through a directory grant with enough permission, grouped
    // by the directory they live in.
    let mut by_parent: BTreeMap<PathBuf, Vec<(WorkspacePath, PathBuf, bool)>> = BTreeMap::new();
    for (grant, host, writable) in files {
        let covered = dirs.iter().any(|(d, _, w)| {
            (d.is_root() || grant.as_path().starts_with(d.as_path())) && (*w || !writable)
        });
        if !covered {
            let parent = grant
                .as_path()
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            by_parent
                .entry(parent)
                .or_default()
                .push((grant, host, writable));
        }
    }
    for (index, (parent, files)) in by_parent.into_iter().enumerate() {
        let dir = scratch.join(format!("file-grants/{index}"));
        std::fs::create_dir_all(&dir).map_err(|source| GrantError::Io {
            path: parent.display().to_string(),
            source,
        })?;
        let writable = files.iter().any(|(_, _, w)| *w);
        for (grant, host, file_writable) in files {
            let link = dir.join(host.file_name().expect("a file has a name"));
            if std::fs::hard_link(&host, &link).is_err() {
                if file_writable {
                    return Err(GrantError::Io {
                        path: grant.to_string(),
                        source: std::io::Error::other(
                            "cannot hard-link it into the sandbox; grant its directory instead",
                        ),
                    });
                }
                std::fs::copy(&host, &link).map_err(|source| GrantError::Io {
                    path: grant.to_string(),
                    source,
                })?;
            }
        }
        mounts.push(Mount {
            host: dir,
            guest: guest_path(&parent),
            writable,
        });
    }
    Ok(mounts)
}

/// Finds the mount a guest path falls under (the longest matching prefix, as wasi-libc
/// does) and the path relative to it. `None` if the path is not absolute, leaves its
/// mount through `..`, or matches no mount.
pub fn resolve<'a>(mounts: &'a [Mount], guest: &str) -> Option<(&'a Mount, PathBuf)> {
    let path = Path::new(guest);
    if !path.has_root() {
        return None;
    }
    let best = mounts
        .iter()
        .filter(|m| path.starts_with(&m.guest))
        .max_by_key(|m| m.guest.len())?;
    let rel = path.strip_prefix(&best.guest).ok()?;
    let mut clean = PathBuf::new();
    for c in rel.components() {
        match c {
            std::path::Component::Normal(c) => clean.push(c),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some((best, clean))
}

/// Opens a file the step can see, for reading, with the same confinement as WASI: no
/// `..`, no absolute symlinks, no symlinks leading out of the mount.
pub fn open_read(mounts: &[Mount], guest: &str) -> Result<cap_std::fs::File, String> {
    let (mount, rel) =
        resolve(mounts, guest).ok_or_else(|| format!("{guest}: not visible to this step"))?;
    let dir = cap_std::fs::Dir::open_ambient_dir(&mount.host, cap_std::ambient_authority())
        .map_err(|e| format!("{guest}: {e}"))?;
    if rel.as_os_str().is_empty() {
        return Err(format!("{guest}: is a directory"));
    }
    let file = dir.open(&rel).map_err(|e| format!("{guest}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{guest}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{guest}: not a regular file"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(guest: &str) -> Mount {
        Mount {
            host: PathBuf::from("/host").join(guest.trim_start_matches('/')),
            guest: guest.into(),
            writable: false,
        }
    }

    #[test]
    fn resolve_takes_the_longest_prefix_and_refuses_dotdot() {
        let mounts = vec![
            mount("/workspace"),
            mount("/workspace/dist"),
            mount("/outputs"),
        ];
        let (m, rel) = resolve(&mounts, "/workspace/dist/app").unwrap();
        assert_eq!(
            (m.guest.as_str(), rel),
            ("/workspace/dist", PathBuf::from("app"))
        );
        let (m, _) = resolve(&mounts, "/workspace/distx").unwrap();
        assert_eq!(m.guest, "/workspace");
        assert!(resolve(&mounts, "/workspace/../etc/passwd").is_none());
        assert!(resolve(&mounts, "relative").is_none());
        assert!(resolve(&mounts, "/etc/passwd").is_none());
    }

    #[test]
    fn write_grants_never_reach_sluice_state_even_through_symlinks() {
        let ws = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join(".sluice/cache")).unwrap();
        std::fs::create_dir_all(ws.path().join(".sluice/go-cache")).unwrap();
        std::fs::create_dir_all(ws.path().join("dist")).unwrap();
        std::os::unix::fs::symlink("../.sluice/cache", ws.path().join("dist/planted")).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let mounts = |write: &str| {
            let mut allow = Allow::default();
            allow.write.push(toml::Spanned::new(
                0..1,
                WorkspacePath::try_from(write.to_string()).unwrap(),
            ));
            workspace_mounts(ws.path(), &allow, scratch.path())
        };
        for bad in [
            ".",
            ".sluice",
            ".sluice/cache",
            ".sluice/store/x",
            "dist/planted",
        ] {
            assert!(
                matches!(mounts(bad), Err(GrantError::Protected { .. })),
                "{bad}"
            );
        }
        assert!(mounts(".sluice/go-cache").is_ok());
        assert!(mounts("dist").is_ok());
    }

    #[test]
    fn guest_paths() {
        assert_eq!(guest_path(Path::new(".")), "/workspace");
        assert_eq!(guest_path(Path::new("src/app")), "/workspace/src/app");
    }
}
