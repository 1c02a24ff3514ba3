//! Built-in step `go-build`: `go build` through the `exec` capability, reproducible
//! (`-trimpath`, `-buildvcs=false`: the same sources and options give the same bytes), static
//! by default (`CGO_ENABLED=0`), for one or more platforms, with `-X` variables from the
//! pipeline. Each binary is an artifact later steps (signing, images) take as input.

use std::collections::BTreeMap;
use std::path::Path;

use go_tool::List;
use serde::Deserialize;
use sluice_sdk::{
    Artifact, Failure, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo, Port, Rule, Severity,
    Value, ValueKind,
};

/// The platforms that get an output port of their own (`binary-linux-amd64`, ...); any
/// other platform `go tool dist list` knows can be built, and is in `binaries`.
pub const PORTED: &[&str] = &[
    "linux/amd64",
    "linux/arm64",
    "linux/arm",
    "darwin/amd64",
    "darwin/arm64",
    "windows/amd64",
];

/// The step's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// The module's directory in the workspace.
    #[serde(default = "dot")]
    pub dir: String,
    /// The main package.
    #[serde(default = "dot")]
    pub package: String,
    /// The binary's file name.
    pub output: Option<String>,
    /// `os/arch` pairs.
    pub platforms: Option<List>,
    /// `CGO_ENABLED`.
    #[serde(default)]
    pub cgo: bool,
    /// `-trimpath`.
    #[serde(default = "yes")]
    pub trimpath: bool,
    /// Extra `-ldflags`.
    pub ldflags: Option<String>,
    /// `-X name=value` variables.
    #[serde(default)]
    pub x: BTreeMap<String, String>,
    /// Build tags.
    pub tags: Option<List>,
}

fn dot() -> String {
    ".".into()
}

fn yes() -> bool {
    true
}

const OPTIONS: &[Opt] = &[
    Opt::new("dir", Kind::Text, "the module's directory in the workspace").with_default("\".\""),
    Opt::new("package", Kind::Text, "the main package to build").with_default("\".\""),
    Opt::new(
        "output",
        Kind::Text,
        "the binary's file name (default: the package's last path element)",
    ),
    Opt::new(
        "platforms",
        Kind::Any,
        "os/arch pairs, e.g. [\"linux/amd64\", \"linux/arm64\"] (default: this machine's)",
    ),
    Opt::new(
        "cgo",
        Kind::Boolean,
        "build with cgo (false: static binaries)",
    )
    .with_default("false"),
    Opt::new(
        "trimpath",
        Kind::Boolean,
        "go build -trimpath (true: reproducible)",
    )
    .with_default("true"),
    Opt::new(
        "ldflags",
        Kind::Text,
        "extra go build -ldflags (none by default; \"-s -w\" is not added)",
    ),
    Opt::new(
        "x",
        Kind::Table,
        "-X variables, e.g. { \"main.version\" = \"1.2.3\" }",
    ),
    Opt::new(
        "tags",
        Kind::Any,
        "build tags, as text or a list (default none)",
    ),
];

/// The plugin.
pub struct GoBuild;

fn port_name(platform: &str) -> String {
    format!("binary-{}", platform.replace('/', "-"))
}

impl Plugin for GoBuild {
    fn describe() -> PluginInfo {
        let mut info = PluginInfo::new(
            "go-build",
            env!("CARGO_PKG_VERSION"),
            "go build, reproducible and static, for one or more platforms, with -X variables",
        )
        .wants("fs:read")
        .wants(format!("exec:{}", go_tool::GO))
        .rules(vec![
            Rule::new(
                "go-build/build-error",
                "build-error",
                "The package did not compile",
                Severity::Error,
            )
            .help("The compiler's message is at its position."),
        ])
        .output(
            Port::new(
                "binary",
                ValueKind::Artifact,
                "The binary for the first platform",
            )
            .required(),
        )
        .output(
            Port::new(
                "digest",
                ValueKind::Text,
                "sha256 of the first platform's binary",
            )
            .required(),
        )
        .output(
            Port::new(
                "size",
                ValueKind::Integer,
                "Bytes of the first platform's binary",
            )
            .required(),
        )
        .output(
            Port::new(
                "go-version",
                ValueKind::Text,
                "The Go toolchain's version, e.g. go1.19.8",
            )
            .required(),
        )
        .output(
            Port::new(
                "binaries",
                ValueKind::Json,
                "Every platform's binary: { \"linux/amd64\": { \"path\", \"digest\", \"size\" } }",
            )
            .required(),
        );
        for platform in PORTED {
            info = info.output(Port::new(
                port_name(platform),
                ValueKind::Artifact,
                format!("The {platform} binary, when built"),
            ));
        }
        info.options(OPTIONS)
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        build(&config)
    }
}

fn check_word(what: &str, value: &str) -> Result<(), Failure> {
    if value.is_empty() || value.starts_with('-') || value.contains(char::is_whitespace) {
        return Err(Failure::invalid(format!(
            "`{what} = \"{value}\"` must be one word that does not start with `-`"
        )));
    }
    Ok(())
}

fn build(config: &Config) -> Result<Outcome, Failure> {
    let module = go_tool::module_dir(&config.dir)?;
    check_word("package", &config.package)?;
    let output = match &config.output {
        Some(o) => o.clone(),
        None => default_output(&module, &config.package),
    };
    if output.is_empty() || output.contains('/') || output == "." || output == ".." {
        return Err(Failure::invalid(format!(
            "`output = \"{output}\"` must be a plain file name"
        )));
    }
    for name in config.x.keys() {
        if name.is_empty() || name.contains(['=', ' ']) || name.starts_with('-') {
            return Err(Failure::invalid(format!(
                "`x` variable `{name}` must be a package-qualified name like `main.version`"
            )));
        }
    }
    // `go env` runs beside the first build when the platforms are named; without them its
    // GOOS/GOARCH are the platform, so it is waited for first.
    let mut go_env = go_tool::GoEnv::start(&module, &["GOVERSION", "GOOS", "GOARCH"])?;
    let platforms = match &config.platforms {
        Some(p) => p.items(),
        None => {
            let env = go_env.values()?;
            vec![format!("{}/{}", env[1], env[2])]
        }
    };
    if platforms.is_empty() {
        return Err(Failure::invalid(
            "`platforms` is empty: name at least one, like \"linux/amd64\"",
        ));
    }
    for p in &platforms {
        let ok = p.split_once('/').is_some_and(|(os, arch)| {
            let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
            word(os) && word(arch)
        });
        if !ok {
            return Err(Failure::invalid(format!(
                "platform `{p}` is not `os/arch`, like \"linux/amd64\""
            )));
        }
    }
    let mut ldflags: Vec<String> = config
        .ldflags
        .as_deref()
        .map(|l| vec![l.to_string()])
        .unwrap_or_default();
    for (name, value) in &config.x {
        // go's -ldflags splits on spaces; quoting keeps a value with spaces whole.
        if value.contains([' ', '\'', '"']) {
            ldflags.push(format!("'-X={name}={}'", value.replace('\'', "")));
        } else {
            ldflags.push(format!("-X={name}={value}"));
        }
    }
    let mut binaries = serde_json::Map::new();
    let mut outcome = Outcome::new();
    let mut first: Option<(String, String, u64)> = None;
    for (i, platform) in platforms.iter().enumerate() {
        sluice_sdk::progress(
            i as u64,
            platforms.len() as u64,
            &format!("building {platform}"),
        );
        let (os, arch) = platform.split_once('/').expect("checked");
        let dir = format!("{}/{os}_{arch}", sluice_sdk::OUTPUTS);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::error(format!("cannot create {dir}: {e}")))?;
        let path = format!(
            "{dir}/{output}{}",
            if os == "windows" { ".exe" } else { "" }
        );
        let mut args: Vec<String> = vec!["build".into(), "-buildvcs=false".into()];
        if config.trimpath {
            args.push("-trimpath".into());
        }
        if let Some(tags) = &config.tags {
            args.push(format!("-tags={}", tags.items().join(",")));
        }
        if !ldflags.is_empty() {
            args.push(format!("-ldflags={}", ldflags.join(" ")));
        }
        args.push("-o".into());
        args.push(path.clone());
        args.push(config.package.clone());
        let out = go_tool::go(&module)
            .args(args)
            .env("GOOS", os)
            .env("GOARCH", arch)
            .env("CGO_ENABLED", if config.cgo { "1" } else { "0" })
            .output()
            .map_err(Failure::error)?;
        let status = out.status.as_ref().expect("waited");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if status.code != Some(0) {
            let findings = go_tool::build_errors(&stderr, &module, "go-build/build-error");
            if findings.is_empty() {
                return Err(Failure::error(go_tool::explain(
                    &format!("`go build` for {platform} failed"),
                    &stderr,
                )));
            }
            let n = findings.len();
            let mut gate = Outcome::new().summary(format!(
                "{platform}: {n} build error{}",
                if n == 1 { "" } else { "s" }
            ));
            for f in findings {
                gate = gate.finding(f);
            }
            return Err(Failure::gate(gate));
        }
        for line in stderr.lines() {
            sluice_sdk::info!("{line}");
        }
        let digest = sluice_sdk::digest(&path).map_err(Failure::error)?;
        let size = std::fs::metadata(&path)
            .map_err(|e| Failure::error(format!("{path}: {e}")))?
            .len();
        binaries.insert(
            platform.clone(),
            serde_json::json!({ "path": path, "digest": digest, "size": size }),
        );
        let artifact = Value::Artifact(Artifact {
            path: path.clone(),
            digest: String::new(),
            media_type: Some("application/octet-stream".into()),
        });
        if PORTED.contains(&platform.as_str()) {
            outcome = outcome.output(port_name(platform), artifact.clone());
        }
        if first.is_none() {
            outcome = outcome.output("binary", artifact);
            first = Some((platform.clone(), digest, size));
        }
    }
    let (platform, digest, size) = first.expect("at least one platform");
    let version = go_env.values()?[0].clone();
    sluice_sdk::progress(platforms.len() as u64, platforms.len() as u64, "built");
    let others = platforms.len() - 1;
    Ok(outcome
        .output("go-version", Value::Text(version.clone()))
        .output("digest", Value::Text(digest.clone()))
        .output("size", Value::Integer(size as i64))
        .output(
            "binaries",
            Value::Json(serde_json::Value::Object(binaries).to_string()),
        )
        .summary(format!(
            "built {output} for {platform}{} ({}, {}) with {version}",
            if others > 0 {
                format!(
                    " and {others} more platform{}",
                    if others == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            },
            human(size),
            &digest[..digest.len().min(19)]
        )))
}

/// The last element of the package path, or of the module path for `.`.
fn default_output(module: &Path, package: &str) -> String {
    let trimmed = package.trim_end_matches("/...").trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or("");
    if !last.is_empty() && last != "." {
        return last.to_string();
    }
    std::fs::read_to_string(module.join("go.mod"))
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let m = l.trim().strip_prefix("module")?.trim().trim_matches('"');
                m.rsplit('/').next().map(str::to_owned)
            })
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "app".into())
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(target_arch = "wasm32")]
sluice_sdk::export_plugin!(GoBuild);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_names() {
        assert_eq!(port_name("linux/amd64"), "binary-linux-amd64");
        assert_eq!(
            default_output(Path::new("/nonexistent"), "./cmd/server"),
            "server"
        );
        assert_eq!(default_output(Path::new("/nonexistent"), "."), "app");
        assert!(check_word("package", "-toolexec=x").is_err());
        assert!(
            serde_json::from_str::<Config>(
                r#"{"x": {"main.version": "1"}, "platforms": "linux/amd64"}"#
            )
            .is_ok()
        );
        assert!(serde_json::from_str::<Config>(r#"{"bogus": 1}"#).is_err());
        assert_eq!(human(3 << 20), "3.0 MiB");
    }
}
