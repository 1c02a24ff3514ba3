//! Built-in `oci-image` step: a ko-style OCI image around one static binary per platform.
//!
//! The binary is the image's only layer (`/app/<name>`, mode 0555), its entrypoint, run as a
//! non-root user, on `scratch` or on a base image given as an OCI layout artifact. Labels come
//! from options; `created` defaults to the Unix epoch, so the same binary always gives the
//! same image digest. Output: the image as an OCI layout in a tar (`oci-archive`), and the
//! digest of its manifest (one platform) or index (several).

use std::collections::BTreeMap;

use oci_layout::{
    Archive, CONFIG, DOCKER_LIST, DOCKER_MANIFEST, Descriptor, INDEX, Index, LAYER_GZIP,
    LayoutWriter, MANIFEST, Manifest, Platform, REF_NAME,
};
use serde::Deserialize;
use sluice_sdk::{
    Failure, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo, Port, Value, ValueKind,
};

/// Platforms with an input of their own (`binary-linux-amd64`, …), as `go-build` names them.
const PLATFORM_INPUTS: &[&str] = &["linux/amd64", "linux/arm64", "linux/arm"];

const OPTIONS: &[Opt] = &[
    Opt::new("platform", Kind::Text, "The platform of `binary`").with_default("\"linux/amd64\""),
    Opt::new("name", Kind::Text, "The binary's name in the image, at /app/<name> (default: the artifact's file name)"),
    Opt::new("tag", Kind::Text, "The tag the layout names the image by").with_default("\"latest\""),
    Opt::new("user", Kind::Text, "The user the entrypoint runs as (non-root)").with_default("\"65532:65532\""),
    Opt::new("args", Kind::TextList, "Arguments after the entrypoint").with_default("[]"),
    Opt::new("env", Kind::Table, "Environment variables, a table").with_default("{}"),
    Opt::new("ports", Kind::Any, "Ports the image exposes, e.g. [8080]").with_default("[]"),
    Opt::new("version", Kind::Text, "org.opencontainers.image.version"),
    Opt::new("revision", Kind::Text, "org.opencontainers.image.revision"),
    Opt::new("source", Kind::Text, "org.opencontainers.image.source"),
    Opt::new("created", Kind::Text, "org.opencontainers.image.created and the config's created, RFC 3339 (the default is reproducible)").with_default("\"1970-01-01T00:00:00Z\""),
    Opt::new("labels", Kind::Table, "More labels, a table"),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_platform")]
    platform: String,
    name: Option<String>,
    #[serde(default = "default_tag")]
    tag: String,
    #[serde(default = "default_user")]
    user: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    ports: Vec<u16>,
    version: Option<String>,
    revision: Option<String>,
    source: Option<String>,
    #[serde(default = "default_created")]
    created: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

fn default_platform() -> String {
    "linux/amd64".into()
}
fn default_tag() -> String {
    "latest".into()
}
fn default_user() -> String {
    "65532:65532".into()
}
fn default_created() -> String {
    "1970-01-01T00:00:00Z".into()
}

fn input_name(platform: &str) -> String {
    format!("binary-{}", platform.replace('/', "-"))
}

struct OciImage;

/// The base: its layers and the config fields an image inherits.
struct Base {
    archive: Archive,
    manifest: Manifest,
    config: serde_json::Value,
}

fn load_base(path: &str, platform: &Platform) -> Result<Base, Failure> {
    let archive = Archive::open(std::path::Path::new(path)).map_err(Failure::invalid)?;
    let index = archive.index().map_err(Failure::invalid)?;
    let mut candidates = index.manifests.clone();
    // Descend into an index to the manifest for this platform.
    let mut depth = 0;
    let manifest = loop {
        depth += 1;
        let pick = candidates
            .iter()
            .find(|d| {
                d.platform
                    .as_ref()
                    .is_none_or(|p| p.os == platform.os && p.architecture == platform.architecture)
            })
            .cloned()
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "base image has no manifest for {}/{}",
                    platform.os, platform.architecture
                ))
            })?;
        let bytes = archive.read_blob(&pick.digest).map_err(Failure::invalid)?;
        match pick.media_type.as_str() {
            INDEX | DOCKER_LIST if depth < 4 => {
                let i: Index = serde_json::from_slice(&bytes)
                    .map_err(|e| Failure::invalid(format!("base index: {e}")))?;
                candidates = i.manifests;
            }
            MANIFEST | DOCKER_MANIFEST => {
                break serde_json::from_slice::<Manifest>(&bytes)
                    .map_err(|e| Failure::invalid(format!("base manifest: {e}")))?;
            }
            other => {
                return Err(Failure::invalid(format!(
                    "base image: unsupported media type {other}"
                )));
            }
        }
    };
    let config = archive
        .read_blob(&manifest.config.digest)
        .map_err(Failure::invalid)?;
    let config = serde_json::from_slice(&config)
        .map_err(|e| Failure::invalid(format!("base config: {e}")))?;
    Ok(Base {
        archive,
        manifest,
        config,
    })
}

impl Plugin for OciImage {
    fn describe() -> PluginInfo {
        let mut info = PluginInfo::new(
            "oci-image",
            env!("CARGO_PKG_VERSION"),
            "Builds a reproducible OCI image around a static binary (ko-style), one or several platforms",
        )
        .input(Port::new("binary", ValueKind::Artifact, "The binary for `platform`"))
        .input(Port::new(
            "base",
            ValueKind::Artifact,
            "A base image as an OCI layout tar (default: scratch)",
        ))
        .output(
            Port::new("image", ValueKind::Artifact, "The image as an OCI layout tar (oci-archive)")
                .required(),
        )
        .output(
            Port::new("digest", ValueKind::Text, "The manifest digest (one platform) or index digest")
                .required(),
        );
        for p in PLATFORM_INPUTS {
            info = info.input(Port::new(
                input_name(p),
                ValueKind::Artifact,
                format!("The {p} binary (several make a multi-platform image)"),
            ));
        }
        info.options(OPTIONS)
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let mut binaries: Vec<(String, String)> = Vec::new();
        if let Some(a) = invocation.artifact("binary") {
            binaries.push((config.platform.clone(), a.path.clone()));
        }
        for p in PLATFORM_INPUTS {
            if let Some(a) = invocation.artifact(&input_name(p))
                && !binaries.iter().any(|(q, _)| q == p)
            {
                binaries.push((p.to_string(), a.path.clone()));
            }
        }
        if binaries.is_empty() {
            return Err(Failure::invalid(
                "no binary: wire one in, e.g. `binary = \"${{ steps.build.outputs.binary }}\"`",
            ));
        }
        let name = match &config.name {
            Some(n) => n.clone(),
            None => std::path::Path::new(&binaries[0].1)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| "app".into()),
        };
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Failure::invalid(format!(
                "`name` {name:?} must be a file name"
            )));
        }
        let entrypoint = format!("/app/{name}");
        let mut labels = config.labels.clone();
        for (k, v) in [
            ("version", &config.version),
            ("revision", &config.revision),
            ("source", &config.source),
        ] {
            if let Some(v) = v {
                labels.insert(format!("org.opencontainers.image.{k}"), v.clone());
            }
        }
        labels.insert(
            "org.opencontainers.image.created".into(),
            config.created.clone(),
        );

        let mut writer = LayoutWriter::default();
        let mut manifests = Vec::new();
        for (platform_name, path) in &binaries {
            let platform = Platform::parse(platform_name).ok_or_else(|| {
                Failure::invalid(format!("platform {platform_name:?} is not os/arch"))
            })?;
            let bytes = std::fs::read(path).map_err(|e| Failure::error(format!("{path}: {e}")))?;
            sluice_sdk::progress(manifests.len() as u64, binaries.len() as u64, platform_name);
            let base = match invocation.artifact("base") {
                Some(b) => Some(load_base(&b.path, &platform)?),
                None => None,
            };
            let (layer, diff_id) = oci_layout::file_layer(&entrypoint, &bytes, 0o555);
            let layer = writer.blob(LAYER_GZIP, layer);
            let mut layers = Vec::new();
            let mut diff_ids = Vec::new();
            let mut env: Vec<String> = Vec::new();
            if let Some(base) = &base {
                for l in &base.manifest.layers {
                    let bytes = read_whole(&base.archive, &l.digest)?;
                    layers.push(writer.blob(&l.media_type, bytes));
                }
                if let Some(ids) = base.config["rootfs"]["diff_ids"].as_array() {
                    diff_ids.extend(ids.iter().filter_map(|d| d.as_str().map(str::to_string)));
                }
                if let Some(e) = base.config["config"]["Env"].as_array() {
                    env.extend(e.iter().filter_map(|v| v.as_str().map(str::to_string)));
                }
            }
            layers.push(layer);
            diff_ids.push(diff_id);
            env.extend(config.env.iter().map(|(k, v)| format!("{k}={v}")));
            if !env.iter().any(|e| e.starts_with("PATH=")) {
                env.insert(0, "PATH=/app:/usr/local/bin:/usr/bin:/bin".into());
            }
            let mut image_config = serde_json::json!({
                "User": config.user,
                "Entrypoint": [entrypoint],
                "Env": env,
                "WorkingDir": "/",
                "Labels": labels,
            });
            if !config.args.is_empty() {
                image_config["Cmd"] = serde_json::json!(config.args);
            }
            if !config.ports.is_empty() {
                let ports: serde_json::Map<String, serde_json::Value> = config
                    .ports
                    .iter()
                    .map(|p| (format!("{p}/tcp"), serde_json::json!({})))
                    .collect();
                image_config["ExposedPorts"] = ports.into();
            }
            let mut cfg = serde_json::json!({
                "created": config.created,
                "architecture": platform.architecture,
                "os": platform.os,
                "config": image_config,
                "rootfs": { "type": "layers", "diff_ids": diff_ids },
                "history": [{ "created": config.created, "created_by": "sluice oci-image" }],
            });
            if let Some(v) = &platform.variant {
                cfg["variant"] = serde_json::json!(v);
            }
            let config_blob = writer.json(CONFIG, &cfg);
            let mut manifest = writer.json(
                MANIFEST,
                &Manifest {
                    schema_version: 2,
                    media_type: Some(MANIFEST.into()),
                    config: config_blob,
                    layers,
                    annotations: None,
                },
            );
            manifest.platform = Some(platform);
            manifests.push(manifest);
        }
        let mut top: Descriptor = if manifests.len() == 1 {
            let mut m = manifests.remove(0);
            m.platform = None;
            m
        } else {
            writer.json(
                INDEX,
                &Index {
                    schema_version: 2,
                    media_type: Some(INDEX.into()),
                    manifests,
                },
            )
        };
        let digest = top.digest.clone();
        top.annotations = Some(BTreeMap::from([(REF_NAME.to_string(), config.tag.clone())]));
        let path = std::path::Path::new(sluice_sdk::OUTPUTS).join("image.tar");
        let file = std::fs::File::create(&path)
            .map_err(|e| Failure::error(format!("{}: {e}", path.display())))?;
        writer
            .write(
                &Index {
                    schema_version: 2,
                    media_type: Some(INDEX.into()),
                    manifests: vec![top],
                },
                std::io::BufWriter::new(file),
            )
            .map_err(|e| Failure::error(format!("{}: {e}", path.display())))?;
        let platforms: Vec<&str> = binaries.iter().map(|(p, _)| p.as_str()).collect();
        Ok(Outcome::new()
            .output(
                "image",
                Value::Artifact(sluice_sdk::Artifact {
                    path: path.display().to_string(),
                    digest: String::new(),
                    media_type: Some("application/vnd.oci.image.layout.v1+tar".into()),
                }),
            )
            .output("digest", Value::Text(digest.clone()))
            .summary(format!(
                "{entrypoint} for {} on {}: {digest}",
                platforms.join(", "),
                if invocation.artifact("base").is_some() {
                    "the base image"
                } else {
                    "scratch"
                }
            )))
    }
}

fn read_whole(archive: &Archive, digest: &str) -> Result<Vec<u8>, Failure> {
    let (offset, size) = archive
        .blob(digest)
        .ok_or_else(|| Failure::invalid(format!("base image lacks blob {digest}")))?;
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(archive.path()).map_err(|e| Failure::error(e.to_string()))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| Failure::error(e.to_string()))?;
    let mut bytes = vec![0; size as usize];
    f.read_exact(&mut bytes)
        .map_err(|e| Failure::error(e.to_string()))?;
    if oci_layout::digest(&bytes) != digest {
        return Err(Failure::invalid(format!(
            "base image blob {digest} does not match its digest"
        )));
    }
    Ok(bytes)
}

sluice_sdk::export_plugin!(OciImage);
