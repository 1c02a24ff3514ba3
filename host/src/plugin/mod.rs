//! Resolving a step's `uses` to component bytes and their digest: built-in plugins are
//! embedded in the binary, files are read relative to the manifest.

pub mod cache;
pub mod loader;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::manifest::PluginRef;

/// A plugin embedded in the `sluice` binary.
#[derive(Debug)]
pub struct Builtin {
    /// The name used in `uses = "..."`.
    pub name: &'static str,
    /// The component.
    pub bytes: &'static [u8],
    /// `sha256:<hex>` of `bytes`, computed at build time.
    pub digest: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The built-in called `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Component bytes ready to compile.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// What the manifest said.
    pub uses: PluginRef,
    /// The component.
    pub bytes: Cow<'static, [u8]>,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
}

/// Why `uses` could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No built-in has that name.
    #[error("no built-in plugin is called `{name}`")]
    UnknownBuiltin {
        /// The name.
        name: String,
    },
    /// The file could not be read.
    #[error("cannot read plugin `{}`: {source}", path.display())]
    Read {
        /// The path as written in the manifest.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ResolveError {
    /// How to fix it.
    pub fn help(&self) -> String {
        match self {
            ResolveError::UnknownBuiltin { name } => {
                let names: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
                crate::manifest::did_you_mean(
                    name,
                    &names,
                    &format!(
                        "built-in plugins: {}; a file path must end in `.wasm`",
                        names.join(", ")
                    ),
                )
            }
            ResolveError::Read { .. } => {
                "paths in `uses` are relative to the manifest's directory; build the plugin with `cargo build --release --target wasm32-wasip2`".into()
            }
        }
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The largest component file sluice reads (the biggest real ones, from componentize-py,
/// are about 20 MB).
pub const MAX_COMPONENT_BYTES: u64 = 256 << 20;

/// Reads a component file: a regular file (opened non-blocking, so a FIFO cannot hang
/// validation) of at most [`MAX_COMPONENT_BYTES`].
fn read_component(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_COMPONENT_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than a component may be ({} MiB)",
            meta.len(),
            MAX_COMPONENT_BYTES >> 20
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_COMPONENT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_COMPONENT_BYTES {
        return Err(std::io::Error::other(
            "it grew past the size limit while being read",
        ));
    }
    Ok(bytes)
}

/// Resolves `uses` for a manifest in `dir`.
pub fn resolve(dir: &Path, uses: &PluginRef) -> Result<PluginSource, ResolveError> {
    match uses {
        PluginRef::Builtin(name) => {
            let b =
                builtin(name).ok_or_else(|| ResolveError::UnknownBuiltin { name: name.clone() })?;
            Ok(PluginSource {
                uses: uses.clone(),
                bytes: Cow::Borrowed(b.bytes),
                digest: b.digest.to_string(),
            })
        }
        PluginRef::File(path) => {
            let bytes = read_component(&dir.join(path)).map_err(|source| ResolveError::Read {
                path: path.clone(),
                source,
            })?;
            let digest = digest(&bytes);
            Ok(PluginSource {
                uses: uses.clone(),
                bytes: Cow::Owned(bytes),
                digest,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_digests_match_their_bytes() {
        assert!(!BUILTINS.is_empty());
        for b in BUILTINS {
            assert_eq!(digest(b.bytes), b.digest, "{}", b.name);
        }
    }

    #[test]
    fn unknown_builtins_suggest_the_closest() {
        let err = resolve(Path::new("."), &PluginRef::Builtin("go-mdo".into())).unwrap_err();
        assert!(
            err.help().starts_with("did you mean `go-mod`?"),
            "{}",
            err.help()
        );
    }
}
