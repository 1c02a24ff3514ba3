//! Built-in `oci-push` step: pushes an OCI layout (an `oci-archive` artifact, e.g.
//! `oci-image`'s) to a registry with the distribution API, over the step's `allow.net` grant.
//!
//! Blobs the registry has are skipped (`HEAD`); the rest are uploaded with `POST` then `PUT`
//! (distribution 2.8 ignores the body of a monolithic `POST`), streamed from the archive.
//! Then the manifests, children first, the top one by tag. Credentials are send-only secrets:
//! the step never reads them; `Basic` goes to the registry, and for the token flow
//! (`WWW-Authenticate: Bearer realm=…`) to the token endpoint, which must be granted too.

use std::collections::BTreeSet;

use oci_layout::{Archive, DOCKER_LIST, Descriptor, INDEX, Index, Manifest};
use serde::Deserialize;
use sluice_sdk::http::{
    Body, Request, Response, basic_auth_ref, percent_encode as percent, secret_ref, send,
};
use sluice_sdk::{
    Failure, Invocation, Kind, Opt, Outcome, Plugin, PluginInfo, Port, Value, ValueKind,
};

const OPTIONS: &[Opt] = &[
    Opt::new(
        "registry",
        Kind::Text,
        "The registry's origin, e.g. \"http://127.0.0.1:5000\" or \"https://ghcr.io\" (it must be in allow.net)",
    ),
    Opt::new(
        "repository",
        Kind::Text,
        "The repository, e.g. \"team/service\"",
    ),
    Opt::new(
        "tag",
        Kind::Text,
        "The tag to push (default: the layout's ref name, else latest)",
    ),
    Opt::new(
        "username",
        Kind::Text,
        "The user name for Basic auth, as text",
    ),
    Opt::new(
        "username-secret",
        Kind::Text,
        "A send-only secret holding the user name",
    ),
    Opt::new(
        "password-secret",
        Kind::Text,
        "The send-only secret holding the password or token (allow.send)",
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    registry: String,
    repository: String,
    tag: Option<String>,
    username: Option<String>,
    username_secret: Option<String>,
    password_secret: Option<String>,
}

/// The registry client: origin, repository, how to authenticate.
struct Registry {
    origin: String,
    repository: String,
    /// `Authorization` value for requests, once known.
    auth: Option<String>,
    /// `(user, password-secret)` for Basic, when configured.
    credentials: Option<(String, String)>,
    requests: u64,
}

fn failed(what: &str, r: &Response) -> Failure {
    let body = r.text();
    let detail = body.trim();
    // At most 300 bytes of the registry's answer, cut at a character boundary.
    let mut end = detail.len().min(300);
    while !detail.is_char_boundary(end) {
        end -= 1;
    }
    let detail = &detail[..end];
    let why = match r.status {
        401 => "the registry wants credentials (401): set `password-secret` (and `username`) to send-only secrets granted for this registry".to_string(),
        403 => "the registry refused access (403): the credentials may not push to this repository".to_string(),
        404 => "not found (404): check `registry` and `repository`".to_string(),
        s => format!("the registry answered {s}"),
    };
    Failure::error(format!("{what}: {why}; {detail}"))
}

/// `key="value"` pairs of a challenge.
fn challenge_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        rest = &rest[eq + 1..];
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            value = r[..end].to_string();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.push((key.to_ascii_lowercase(), value));
    }
    out
}

impl Registry {
    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.origin, self.repository)
    }

    fn send(&mut self, mut request: Request) -> Result<Response, Failure> {
        if let Some(a) = &self.auth {
            request = request.header("authorization", a.clone());
        }
        self.requests += 1;
        send(&request)
            .map_err(|e| Failure::error(format!("{} {}: {e}", request.method, request.url)))
    }

    /// `GET /v2/`: learns how to authenticate.
    fn login(&mut self) -> Result<(), Failure> {
        let r = self.send(Request::get(format!("{}/v2/", self.origin)))?;
        if r.status == 200 {
            return Ok(());
        }
        if r.status != 401 {
            return Err(failed(&format!("GET {}/v2/", self.origin), &r));
        }
        let challenge = r.header("www-authenticate").unwrap_or("").to_string();
        let Some((user, password)) = self.credentials.clone() else {
            return Err(failed(&format!("GET {}/v2/", self.origin), &r));
        };
        let basic = basic_auth_ref(&user, &password).map_err(Failure::invalid)?;
        let (scheme, params) = challenge.split_once(' ').unwrap_or((&challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            self.auth = Some(format!("Basic {basic}"));
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let params = challenge_params(params);
            let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let realm = get("realm").ok_or_else(|| {
                Failure::error(format!(
                    "the registry's challenge names no token realm: {challenge}"
                ))
            })?;
            let mut url = format!(
                "{realm}{}scope={}",
                if realm.contains('?') { "&" } else { "?" },
                percent(&format!("repository:{}:pull,push", self.repository))
            );
            if let Some(service) = get("service") {
                url.push_str(&format!("&service={}", percent(&service)));
            }
            self.requests += 1;
            let t = send(&Request::get(&url).header("authorization", format!("Basic {basic}")))
                .map_err(|e| Failure::error(format!("GET {realm}: {e} (the token endpoint must be in allow.net, and the password secret bound to it in allow.send)")))?;
            if t.status != 200 {
                return Err(failed(&format!("GET {realm}"), &t));
            }
            let json: serde_json::Value = serde_json::from_slice(&t.body)
                .map_err(|e| Failure::error(format!("token endpoint: {e}")))?;
            let token = json["token"]
                .as_str()
                .or_else(|| json["access_token"].as_str())
                .ok_or_else(|| Failure::error("the token endpoint returned no token"))?;
            self.auth = Some(format!("Bearer {token}"));
        } else {
            return Err(Failure::error(format!(
                "unsupported authentication challenge: {challenge}"
            )));
        }
        let r = self.send(Request::get(format!("{}/v2/", self.origin)))?;
        if r.status != 200 {
            return Err(failed(
                &format!("GET {}/v2/ with credentials", self.origin),
                &r,
            ));
        }
        Ok(())
    }

    /// Uploads a blob unless the registry has it; true when uploaded.
    fn blob(&mut self, archive: &Archive, d: &Descriptor) -> Result<bool, Failure> {
        let head = self.send(Request::new(
            "HEAD",
            self.url(&format!("blobs/{}", d.digest)),
        ))?;
        match head.status {
            200 => return Ok(false),
            404 => {}
            _ => return Err(failed(&format!("HEAD blob {}", d.digest), &head)),
        }
        let (offset, size) = archive
            .blob(&d.digest)
            .ok_or_else(|| Failure::invalid(format!("the image lacks blob {}", d.digest)))?;
        if size != d.size {
            return Err(Failure::invalid(format!(
                "blob {} is {size} bytes, its descriptor says {}",
                d.digest, d.size
            )));
        }
        let start = self.send(Request::new("POST", self.url("blobs/uploads/")))?;
        if start.status != 202 {
            return Err(failed("starting a blob upload", &start));
        }
        let location = start
            .header("location")
            .ok_or_else(|| Failure::error("the registry gave no upload location"))?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.origin)
        } else {
            location.to_string()
        };
        let url = format!(
            "{location}{}digest={}",
            if location.contains('?') { "&" } else { "?" },
            percent(&d.digest)
        );
        let put = self.send(
            Request::new("PUT", url)
                .header("content-type", "application/octet-stream")
                .body(Body::File {
                    path: archive.path().to_path_buf(),
                    offset,
                    len: size,
                }),
        )?;
        if put.status != 201 {
            return Err(failed(&format!("uploading blob {}", d.digest), &put));
        }
        Ok(true)
    }

    fn manifest(
        &mut self,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), Failure> {
        let r = self.send(
            Request::new("PUT", self.url(&format!("manifests/{reference}")))
                .header("content-type", media_type)
                .body(Body::Bytes(bytes)),
        )?;
        if r.status != 201 {
            return Err(failed(&format!("putting manifest {reference}"), &r));
        }
        Ok(())
    }
}

struct OciPush;

impl Plugin for OciPush {
    fn describe() -> PluginInfo {
        let info = PluginInfo::new(
            "oci-push",
            env!("CARGO_PKG_VERSION"),
            "Pushes an OCI image layout to a registry (distribution API), credentials as send-only secrets",
        )
        .wants("net")
        .input(
            Port::new("image", ValueKind::Artifact, "The image as an OCI layout tar (oci-archive)")
                .required(),
        )
        .output(Port::new("digest", ValueKind::Text, "The pushed manifest or index digest").required())
        .output(
            Port::new("reference", ValueKind::Text, "host/repository@sha256:…, the pushed image by digest")
                .required(),
        )
        .output(Port::new("uploaded", ValueKind::Integer, "Blobs uploaded (the rest the registry had)").required());
        info.options(OPTIONS)
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let image = invocation
            .artifact("image")
            .ok_or_else(|| Failure::invalid("no image: wire `image` to an oci-image output"))?;
        let origin = config.registry.trim_end_matches('/').to_string();
        let host = origin
            .split_once("://")
            .map(|(_, h)| h.to_string())
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "`registry` {:?} is not an origin: write \"https://registry.example.com\" or \"http://127.0.0.1:5000\"",
                    config.registry
                ))
            })?;
        let repo_ok = !config.repository.is_empty()
            && config.repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !repo_ok {
            return Err(Failure::invalid(format!(
                "`repository` {:?} is not a repository name: lower-case path components, like \"team/service\"",
                config.repository
            )));
        }
        let user = match (&config.username, &config.username_secret) {
            (Some(u), None) => Some(u.clone()),
            (None, Some(s)) => Some(secret_ref(s).map_err(Failure::invalid)?),
            (None, None) => config.password_secret.as_ref().map(|_| String::new()),
            (Some(_), Some(_)) => {
                return Err(Failure::invalid(
                    "set `username` or `username-secret`, not both",
                ));
            }
        };
        let credentials = match (user, &config.password_secret) {
            (Some(u), Some(p)) => Some((u, p.clone())),
            (Some(_), None) => {
                return Err(Failure::invalid("a user name needs `password-secret`"));
            }
            _ => None,
        };
        let archive = Archive::open(std::path::Path::new(&image.path)).map_err(Failure::invalid)?;
        let index = archive.index().map_err(Failure::invalid)?;
        let top = match index.manifests.as_slice() {
            [one] => one.clone(),
            [] => return Err(Failure::invalid("the image layout holds no manifest")),
            _ => {
                return Err(Failure::invalid(
                    "the image layout holds several images; push one layout per image",
                ));
            }
        };
        let tag = config
            .tag
            .clone()
            .or_else(|| {
                top.annotations
                    .as_ref()
                    .and_then(|a| a.get(oci_layout::REF_NAME).cloned())
            })
            .unwrap_or_else(|| "latest".into());

        // The manifests to put (children first) and every blob they need, once.
        let mut manifests: Vec<(Descriptor, Vec<u8>)> = Vec::new();
        let mut blobs: Vec<Descriptor> = Vec::new();
        let mut seen = BTreeSet::new();
        let top_bytes = archive.read_blob(&top.digest).map_err(Failure::invalid)?;
        let children: Vec<Descriptor> = if top.media_type == INDEX || top.media_type == DOCKER_LIST
        {
            let i: Index = serde_json::from_slice(&top_bytes)
                .map_err(|e| Failure::invalid(format!("index: {e}")))?;
            i.manifests
        } else {
            vec![top.clone()]
        };
        for child in &children {
            let bytes = archive.read_blob(&child.digest).map_err(Failure::invalid)?;
            let m: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| Failure::invalid(format!("manifest {}: {e}", child.digest)))?;
            for d in m.layers.iter().chain([&m.config]) {
                if seen.insert(d.digest.clone()) {
                    blobs.push(d.clone());
                }
            }
            if child.digest != top.digest {
                manifests.push((child.clone(), bytes));
            }
        }

        let mut registry = Registry {
            origin: origin.clone(),
            repository: config.repository.clone(),
            auth: None,
            credentials,
            requests: 0,
        };
        registry.login()?;
        let mut uploaded = 0;
        let mut bytes_up = 0;
        for (i, d) in blobs.iter().enumerate() {
            sluice_sdk::progress(i as u64, blobs.len() as u64, &d.digest);
            if registry.blob(&archive, d)? {
                uploaded += 1;
                bytes_up += d.size;
            }
        }
        for (d, bytes) in manifests {
            registry.manifest(&d.digest, &d.media_type, bytes)?;
        }
        registry.manifest(&tag, &top.media_type, top_bytes)?;
        let reference = format!("{host}/{}@{}", config.repository, top.digest);
        Ok(Outcome::new()
            .output("digest", Value::Text(top.digest.clone()))
            .output("reference", Value::Text(reference.clone()))
            .output("uploaded", Value::Integer(uploaded))
            .summary(format!(
                "pushed {host}/{}:{tag} ({uploaded} of {} blobs uploaded, {bytes_up} bytes; {} requests): {reference}",
                config.repository,
                blobs.len(),
                registry.requests
            )))
    }
}

sluice_sdk::export_plugin!(OciPush);
