//! The `with` table of a `deploy` step, checked before the engine is asked anything.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use sluice_sdk::Failure;

/// What the step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Roll `image` out (the default).
    #[default]
    Deploy,
    /// Restore the release before the running one.
    Rollback,
    /// Report the running release.
    Status,
}

/// The `with` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Raw {
    pub engine: String,
    pub service: String,
    #[serde(default)]
    pub action: Action,
    #[serde(default)]
    pub ports: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
    pub memory: Option<toml_like::Size>,
    pub pids: Option<i64>,
    pub restart: Option<String>,
    pub health: Option<RawHealth>,
    pub registry_tls_verify: Option<bool>,
    pub verify_key: Option<String>,
    pub keep: Option<i64>,
    pub stop_timeout: Option<String>,
}

/// `health = { … }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawHealth {
    pub path: Option<String>,
    pub status: Option<u16>,
    pub port: Option<u16>,
    pub healthcheck: Option<bool>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
}

/// Memory sizes: bytes, or text like `"64m"`.
pub mod toml_like {
    use serde::Deserialize;

    /// A size in bytes.
    #[derive(Debug, Clone, Copy)]
    pub struct Size(pub i64);

    impl<'de> Deserialize<'de> for Size {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum Either {
                N(i64),
                S(String),
            }
            match Either::deserialize(d)? {
                Either::N(n) if n > 0 => Ok(Size(n)),
                Either::N(n) => Err(serde::de::Error::custom(format!(
                    "memory {n} is not a positive number of bytes"
                ))),
                Either::S(s) => super::parse_size(&s).map(Size).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "memory {s:?} is not a size: write bytes or a number with k, m or g, like \"64m\""
                    ))
                }),
            }
        }
    }
}

/// `"64m"` → 67108864; `k`, `m`, `g` (powers of 1024), optional `b`/`i`.
pub fn parse_size(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let t = t.strip_suffix('i').unwrap_or(t);
    let (digits, shift) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 10),
        'm' => (&t[..t.len() - 1], 20),
        'g' => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: i64 = digits.trim().parse().ok()?;
    (n > 0).then_some(n)?.checked_mul(1 << shift)
}

/// `"500ms"`, `"2s"`, `"1m"` → a duration.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let t = s.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

/// Where the engine's API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// A unix socket, by absolute path.
    Socket(String),
    /// `http://host:port`.
    Tcp(String),
}

impl Engine {
    /// The URL of an API path (`/v1.41/…`).
    pub fn url(&self, path: &str) -> String {
        match self {
            Engine::Socket(p) => sluice_sdk::http::unix_url(p, path),
            Engine::Tcp(origin) => format!("{origin}{path}"),
        }
    }

    /// As the pipeline grants it.
    pub fn grant(&self) -> String {
        match self {
            Engine::Socket(p) => format!("unix:{p}"),
            Engine::Tcp(origin) => origin.clone(),
        }
    }
}

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMap {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

/// How health is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// `GET url` answers `status`.
    Http { url: String, status: u16 },
    /// The image's `HEALTHCHECK`, as the engine reports it.
    Healthcheck,
    /// Still running after `start-period`.
    Running,
}

/// Health settings.
#[derive(Debug, Clone)]
pub struct Health {
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

/// The step's settings, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub engine: Engine,
    pub service: String,
    pub action: Action,
    pub ports: Vec<PortMap>,
    /// `NAME=value` entries; secret entries carry a send-only reference.
    pub env: Vec<(String, EnvValue)>,
    pub memory: Option<i64>,
    pub pids: Option<i64>,
    pub restart: String,
    pub health: Health,
    pub tls_verify: bool,
    pub verify_key: Option<String>,
    pub keep: usize,
    pub stop_timeout: Duration,
}

/// An environment value.
#[derive(Debug, Clone)]
pub enum EnvValue {
    /// Literal text.
    Text(String),
    /// A send-only secret, by name.
    Secret(String),
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::invalid(message)
}

/// A service name: what the engine's container names are made of.
pub fn valid_service(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn parse_engine(s: &str) -> Result<Engine, Failure> {
    if let Some(path) = s.strip_prefix("unix:") {
        let path = path
            .strip_prefix("//")
            .filter(|p| p.starts_with('/'))
            .unwrap_or(path);
        if !path.starts_with('/') || path.contains("/../") || path.ends_with("/..") {
            return Err(invalid(format!(
                "`engine` {s:?} names no absolute socket path: write \"unix:/run/podman/podman.sock\""
            )));
        }
        return Ok(Engine::Socket(path.to_string()));
    }
    if let Some(rest) = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
    {
        let rest = rest.trim_end_matches('/');
        if !rest.is_empty() && !rest.contains('/') {
            return Ok(Engine::Tcp(s.trim_end_matches('/').to_string()));
        }
    }
    Err(invalid(format!(
        "`engine` {s:?} is not an engine endpoint: write \"unix:/run/podman/podman.sock\", \"unix:/var/run/docker.sock\" or \"http://127.0.0.1:2375\" (and grant it in `allow.net`)"
    )))
}

/// `"[ip:]host:container[/proto]"`.
pub fn parse_port(s: &str) -> Result<PortMap, Failure> {
    let bad = || {
        invalid(format!(
            "port {s:?} is not a mapping: write \"HOST:CONTAINER\" or \"IP:HOST:CONTAINER\", like \"127.0.0.1:8080:8080\""
        ))
    };
    let (spec, protocol) = match s.rsplit_once('/') {
        Some((a, p)) if p == "tcp" || p == "udp" => (a, p.to_string()),
        Some(_) => return Err(bad()),
        None => (s, "tcp".to_string()),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [h, c] => ("127.0.0.1", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return Err(bad()),
    };
    let num = |p: &str| p.parse::<u16>().ok().filter(|n| *n > 0);
    let (Some(host_port), Some(container_port)) = (num(host), num(container)) else {
        return Err(bad());
    };
    if ip.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(bad());
    }
    Ok(PortMap {
        host_ip: ip.to_string(),
        host_port,
        container_port,
        protocol,
    })
}

fn duration(what: &str, s: &Option<String>, default: Duration) -> Result<Duration, Failure> {
    match s {
        None => Ok(default),
        Some(t) => parse_duration(t).ok_or_else(|| {
            invalid(format!(
                "`{what}` {t:?} is not a duration: write \"500ms\", \"2s\" or \"1m\""
            ))
        }),
    }
}

fn env_name_ok(n: &str) -> bool {
    !n.is_empty()
        && !n.as_bytes()[0].is_ascii_digit()
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Config {
    /// Checks the table.
    pub fn from_raw(raw: Raw) -> Result<Config, Failure> {
        let engine = parse_engine(&raw.engine)?;
        if !valid_service(&raw.service) {
            return Err(invalid(format!(
                "`service` {:?} is not a service name: lower-case letters, digits, `-` and `_`, at most 63, like \"go-service\"",
                raw.service
            )));
        }
        let ports = raw
            .ports
            .iter()
            .map(|p| parse_port(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut env = Vec::new();
        for (k, v) in &raw.env {
            if !env_name_ok(k) {
                return Err(invalid(format!(
                    "env name {k:?} is not a variable name (letters, digits, `_`)"
                )));
            }
            env.push((k.clone(), EnvValue::Text(v.clone())));
        }
        for (k, v) in &raw.secret_env {
            if !env_name_ok(k) {
                return Err(invalid(format!(
                    "secret-env name {k:?} is not a variable name (letters, digits, `_`)"
                )));
            }
            if raw.env.contains_key(k) {
                return Err(invalid(format!(
                    "`{k}` is in both `env` and `secret-env`: keep one"
                )));
            }
            env.push((k.clone(), EnvValue::Secret(v.clone())));
        }
        let restart = raw.restart.unwrap_or_else(|| "unless-stopped".into());
        if !["no", "always", "unless-stopped", "on-failure"].contains(&restart.as_str()) {
            return Err(invalid(format!(
                "`restart` {restart:?} is not a policy: \"no\", \"always\", \"unless-stopped\" or \"on-failure\""
            )));
        }
        if raw.pids.is_some_and(|p| p <= 0) {
            return Err(invalid("`pids` is a positive number of processes"));
        }
        let keep = match raw.keep {
            None => 2,
            Some(k) if (0..=50).contains(&k) => k as usize,
            Some(k) => {
                return Err(invalid(format!(
                    "`keep` {k} is out of range: 0 to 50 previous releases"
                )));
            }
        };
        let h = raw.health.unwrap_or(RawHealth {
            path: None,
            status: None,
            port: None,
            healthcheck: None,
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        });
        let probe = match (&h.path, h.healthcheck) {
            (Some(_), Some(true)) => {
                return Err(invalid(
                    "`health` sets both `path` and `healthcheck = true`: choose one",
                ));
            }
            (Some(path), _) => {
                if !path.starts_with('/') {
                    return Err(invalid(format!(
                        "`health.path` {path:?} must start with `/`, like \"/healthz\""
                    )));
                }
                let container_port = match h.port {
                    Some(p) => p,
                    None => {
                        ports
                            .first()
                            .ok_or_else(|| {
                                invalid("`health.path` needs a published port: add `ports = [\"127.0.0.1:8080:8080\"]`")
                            })?
                            .container_port
                    }
                };
                let map = ports
                    .iter()
                    .find(|p| p.container_port == container_port && p.protocol == "tcp")
                    .ok_or_else(|| {
                        invalid(format!(
                            "`health.port` {container_port} is not published: add it to `ports`"
                        ))
                    })?;
                let ip = if map.host_ip == "0.0.0.0" {
                    "127.0.0.1"
                } else {
                    map.host_ip.as_str()
                };
                Probe::Http {
                    url: format!("http://{ip}:{}{path}", map.host_port),
                    status: h.status.unwrap_or(200),
                }
            }
            (None, Some(true)) => Probe::Healthcheck,
            (None, _) => Probe::Running,
        };
        let retries = h.retries.unwrap_or(30);
        if retries == 0 || retries > 10_000 {
            return Err(invalid("`health.retries` is from 1 to 10000"));
        }
        let health = Health {
            probe,
            interval: duration("health.interval", &h.interval, Duration::from_secs(1))?,
            timeout: duration("health.timeout", &h.timeout, Duration::from_secs(2))?,
            retries,
            start_period: duration("health.start-period", &h.start_period, Duration::ZERO)?,
        };
        if health.interval.is_zero() || health.timeout.is_zero() {
            return Err(invalid(
                "`health.interval` and `health.timeout` must be more than 0",
            ));
        }
        Ok(Config {
            engine,
            service: raw.service,
            action: raw.action,
            ports,
            env,
            memory: raw.memory.map(|m| m.0),
            pids: raw.pids,
            restart,
            health,
            tls_verify: raw.registry_tls_verify.unwrap_or(true),
            verify_key: raw.verify_key,
            keep,
            stop_timeout: duration("stop-timeout", &raw.stop_timeout, Duration::from_secs(10))?,
        })
    }
}

/// An image named by digest: `registry/repository@sha256:<64 hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `registry/repository`.
    pub repository: String,
    /// `sha256:<hex>`.
    pub digest: String,
}

impl ImageRef {
    /// Parses a digest reference; a tag is refused.
    pub fn parse(s: &str) -> Result<ImageRef, Failure> {
        let Some((repo, digest)) = s.split_once('@') else {
            return Err(invalid(format!(
                "image {s:?} is named by tag, not digest: a deploy starts exactly what was signed; wire `image` to oci-push's `reference` output, or write \"host/repository@sha256:…\""
            )));
        };
        let hex = digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(invalid(format!(
                "image {s:?}: `{digest}` is not a sha256 digest (sha256: and 64 lower-case hex digits)"
            )));
        }
        let last = repo.rsplit('/').next().unwrap_or("");
        if repo.is_empty() || last.contains(':') {
            return Err(invalid(format!(
                "image {s:?} has a tag as well as a digest: drop the tag, the digest alone names the image"
            )));
        }
        Ok(ImageRef {
            repository: repo.to_string(),
            digest: digest.to_string(),
        })
    }

    /// `repository@digest`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }

    /// The registry host (`127.0.0.1:5000`) and the repository path within it; Docker Hub
    /// names (no dot, colon or `localhost` in the first part) map to `docker.io`.
    pub fn registry(&self) -> (String, String) {
        match self.repository.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (
                "registry-1.docker.io".to_string(),
                if self.repository.contains('/') {
                    self.repository.clone()
                } else {
                    format!("library/{}", self.repository)
                },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_durations_ports() {
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("2"), None);
        let p = parse_port("127.0.0.1:18080:8080").unwrap();
        assert_eq!((p.host_port, p.container_port), (18080, 8080));
        assert_eq!(parse_port("8080:80").unwrap().host_ip, "127.0.0.1");
        assert!(parse_port("8080").is_err());
        assert!(parse_port("a:8080:80").is_err());
    }

    #[test]
    fn images_by_digest_only() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("127.0.0.1:5000/demo/svc@{d}")).unwrap();
        assert_eq!(
            r.registry(),
            ("127.0.0.1:5000".to_string(), "demo/svc".to_string())
        );
        assert!(ImageRef::parse("127.0.0.1:5000/demo/svc:1.0").is_err());
        assert!(ImageRef::parse(&format!("127.0.0.1:5000/demo/svc:1.0@{d}")).is_err());
        assert!(ImageRef::parse("127.0.0.1:5000/demo/svc@sha256:abc").is_err());
        assert_eq!(
            ImageRef::parse(&format!("nginx@{d}")).unwrap().registry(),
            (
                "registry-1.docker.io".to_string(),
                "library/nginx".to_string()
            )
        );
    }
}
