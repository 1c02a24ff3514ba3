//! OCI image layouts carried as one tar file (an "oci-archive", what `skopeo copy
//! oci-archive:` reads): written reproducibly by `oci-image`, read by offset by `oci-push`.
//!
//! A layout is `oci-layout`, `index.json` and `blobs/sha256/<hex>`. Written archives are
//! byte-for-byte reproducible: entries in a fixed order, every header with mtime 0, uid and
//! gid 0, fixed modes.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An image manifest.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An image index.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// An image configuration.
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// A gzip-compressed layer.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker's manifest list and manifest types, accepted when reading a base.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The annotation naming a manifest in `index.json` (the tag).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `sha256:<hex>` of bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An OS and architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`, `arm`, …
    pub architecture: String,
    /// `linux`, …
    pub os: String,
    /// `v7` for `linux/arm/v7`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut parts = s.split('/');
        let os = parts.next()?.to_string();
        let architecture = parts.next()?.to_string();
        let variant = parts.next().map(str::to_string);
        if parts.next().is_some() || os.is_empty() || architecture.is_empty() {
            return None;
        }
        Some(Platform {
            architecture,
            os,
            variant,
        })
    }
}

/// A reference to a blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Its media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// For manifests in an index.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (also the layout's `index.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// 2.
    pub schema_version: u32,
    /// [`INDEX`].
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    /// The manifests.
    pub manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// 2.
    pub schema_version: u32,
    /// [`MANIFEST`].
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    /// The configuration blob.
    pub config: Descriptor,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Writes a layout into a tar archive, reproducibly.
#[derive(Debug, Default)]
pub struct LayoutWriter {
    blobs: BTreeMap<String, Vec<u8>>,
}

fn header(path: &str, size: u64, mode: u32, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_path(path).expect("short path");
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_cksum();
    h
}

impl LayoutWriter {
    /// Adds a blob; returns its descriptor with `media_type`.
    pub fn blob(&mut self, media_type: &str, bytes: Vec<u8>) -> Descriptor {
        let d = digest(&bytes);
        let size = bytes.len() as u64;
        self.blobs.insert(d.clone(), bytes);
        Descriptor {
            media_type: media_type.to_string(),
            digest: d,
            size,
            platform: None,
            annotations: None,
        }
    }

    /// Adds a JSON document as a blob.
    pub fn json<T: Serialize>(&mut self, media_type: &str, value: &T) -> Descriptor {
        self.blob(media_type, serde_json::to_vec(value).expect("serializable"))
    }

    /// Writes the archive with `index` as its `index.json`.
    pub fn write(&self, index: &Index, out: impl Write) -> std::io::Result<()> {
        let mut tar = tar::Builder::new(out);
        let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
        tar.append(
            &header("oci-layout", layout.len() as u64, 0o644, false),
            &layout[..],
        )?;
        let index = serde_json::to_vec(index).expect("serializable");
        tar.append(
            &header("index.json", index.len() as u64, 0o644, false),
            &index[..],
        )?;
        tar.append(&header("blobs/", 0, 0o755, true), std::io::empty())?;
        tar.append(&header("blobs/sha256/", 0, 0o755, true), std::io::empty())?;
        for (d, bytes) in &self.blobs {
            let name = format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
            tar.append(&header(&name, bytes.len() as u64, 0o644, false), &bytes[..])?;
        }
        tar.into_inner()?.flush()
    }
}

/// A gzip-compressed layer holding one file at `path` (and its parent directories) with
/// `mode`, reproducibly; returns (compressed, uncompressed digest).
pub fn file_layer(path: &str, content: &[u8], mode: u32) -> (Vec<u8>, String) {
    let mut raw = tar::Builder::new(Vec::new());
    let path = path.trim_start_matches('/');
    let mut dir = String::new();
    for part in path
        .split('/')
        .collect::<Vec<_>>()
        .split_last()
        .expect("a name")
        .1
    {
        dir.push_str(part);
        dir.push('/');
        raw.append(&header(&dir, 0, 0o755, true), std::io::empty())
            .expect("in memory");
    }
    raw.append(&header(path, content.len() as u64, mode, false), content)
        .expect("in memory");
    let raw = raw.into_inner().expect("in memory");
    let diff_id = digest(&raw);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).expect("in memory");
    (gz.finish().expect("in memory"), diff_id)
}

/// An oci-archive opened for reading: every entry's place in the file.
#[derive(Debug)]
pub struct Archive {
    path: PathBuf,
    entries: HashMap<String, (u64, u64)>,
}

/// The largest JSON document read from an archive.
const MAX_JSON: u64 = 4 << 20;

impl Archive {
    /// Indexes the archive at `path`.
    pub fn open(path: &Path) -> Result<Archive, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        for entry in archive
            .entries()
            .map_err(|e| format!("{}: not a tar archive: {e}", path.display()))?
        {
            let entry = entry.map_err(|e| format!("{}: not a tar archive: {e}", path.display()))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = entry
                .path()
                .map_err(|e| format!("{}: {e}", path.display()))?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            entries.insert(name, (entry.raw_file_position(), entry.size()));
        }
        if !entries.contains_key("index.json") {
            return Err(format!(
                "{}: not an OCI image layout (no index.json)",
                path.display()
            ));
        }
        Ok(Archive {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The file the archive is in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a blob is: (offset, size).
    pub fn blob(&self, digest: &str) -> Option<(u64, u64)> {
        let hex = digest.strip_prefix("sha256:")?;
        self.entries.get(&format!("blobs/sha256/{hex}")).copied()
    }

    fn read_entry(&self, name: &str, (offset, size): (u64, u64)) -> Result<Vec<u8>, String> {
        if size > MAX_JSON {
            return Err(format!("{name} is too large ({size} bytes)"));
        }
        let mut file =
            std::fs::File::open(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| e.to_string())?;
        let mut bytes = vec![0; size as usize];
        file.read_exact(&mut bytes).map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    /// A small blob's bytes, checked against its digest.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, String> {
        let at = self
            .blob(digest)
            .ok_or_else(|| format!("the layout has no blob {digest}"))?;
        let bytes = self.read_entry(digest, at)?;
        if self::digest(&bytes) != digest {
            return Err(format!("blob {digest} does not match its digest"));
        }
        Ok(bytes)
    }

    /// `index.json`.
    pub fn index(&self) -> Result<Index, String> {
        let bytes = self.read_entry("index.json", self.entries["index.json"])?;
        serde_json::from_slice(&bytes).map_err(|e| format!("index.json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_reproducible_and_readable() {
        let make = || {
            let mut w = LayoutWriter::default();
            let (layer, diff) = file_layer("/app/server", b"binary", 0o555);
            assert!(diff.starts_with("sha256:"));
            let layer = w.blob(LAYER_GZIP, layer);
            let config = w.blob(CONFIG, b"{}".to_vec());
            let manifest = w.json(
                MANIFEST,
                &Manifest {
                    schema_version: 2,
                    media_type: Some(MANIFEST.into()),
                    config,
                    layers: vec![layer],
                    annotations: None,
                },
            );
            let mut out = Vec::new();
            w.write(
                &Index {
                    schema_version: 2,
                    media_type: Some(INDEX.into()),
                    manifests: vec![manifest],
                },
                &mut out,
            )
            .unwrap();
            out
        };
        let a = make();
        assert_eq!(a, make());
        let dir = std::env::temp_dir().join(format!("oci-layout-test-{}", std::process::id()));
        std::fs::write(&dir, &a).unwrap();
        let archive = Archive::open(&dir).unwrap();
        let index = archive.index().unwrap();
        let m: Manifest =
            serde_json::from_slice(&archive.read_blob(&index.manifests[0].digest).unwrap())
                .unwrap();
        assert_eq!(m.layers.len(), 1);
        assert!(archive.blob(&m.layers[0].digest).is_some());
        std::fs::remove_file(dir).unwrap();
    }
}
