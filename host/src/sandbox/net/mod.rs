//! `allow.net`: HTTP to granted origins through `wasi:http`, checked in the host.
//!
//! `wasi:http` is linked only for plugins that import it, and a step without an `allow.net`
//! grant cannot run such a plugin. Every request goes through [`NetHooks`] (its `send_request` hook):
//!
//! 1. the URL's scheme, host and port must be covered by one of the step's [`NetGrant`]s;
//! 2. references to send-only secrets in header values are replaced by their values, and
//!    only for an origin the secret is bound to (`allow.send`);
//! 3. the host resolves the name itself and drops every address in a range steps are kept
//!    from (loopback, link-local, private, unique-local, …) unless the grant names that
//!    address (or `localhost`) literally, then connects to an address it checked: there is
//!    no second lookup for a rebinding name to change;
//! 4. the request body is counted and capped ([`MAX_REQUEST_BODY`]), the response body too
//!    ([`MAX_RESPONSE_BODY`]); every wait ends at the step's deadline;
//! 5. the request, allowed or denied, goes into the step's [`EgressLog`]: method, origin,
//!    path (never the query), status, bytes each way, duration. Header values are never
//!    recorded.
//!
//! Redirects are not followed by the host: a guest that follows one makes a new request,
//! checked like the first. `wasi:sockets` stay denied whatever the grant.

pub mod egress;
pub mod grant;
mod send;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;

pub use egress::{EgressEntry, EgressLog, OriginTotals};
pub use grant::{GrantError, HostPattern, NetGrant, Scheme, Target, TargetHost, socket_authority};

/// The most bytes one request may send in its body.
pub const MAX_REQUEST_BODY: u64 = 2 << 30;
/// The most bytes one response may carry in its body.
pub const MAX_RESPONSE_BODY: u64 = 2 << 30;
/// How long a connection (name lookup included) may take, at most; the step's deadline may
/// cut it shorter.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The largest JSON request body in which the host replaces send-only secret references
/// (a container engine's create request carries the environment there); larger bodies are
/// sent as they are.
pub const MAX_SUBSTITUTED_BODY: u64 = 1 << 20;
/// The most send-only secret references one step may create.
const MAX_REFS: usize = 64;

/// The prefix of a reference to a send-only secret, followed by 32 hex digits.
pub const REF_PREFIX: &str = "sluice-secret-ref-";

/// A secret the step may send to some origins but never read.
#[derive(Clone)]
pub struct SendSecret {
    /// Its name.
    pub name: String,
    /// Its value.
    value: String,
    /// Where it may be sent.
    pub origins: Vec<NetGrant>,
}

impl std::fmt::Debug for SendSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendSecret")
            .field("name", &self.name)
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

impl SendSecret {
    /// A secret `name` with `value`, bound to `origins`.
    pub fn new(name: impl Into<String>, value: impl Into<String>, origins: Vec<NetGrant>) -> Self {
        SendSecret {
            name: name.into(),
            value: value.into(),
            origins,
        }
    }
}

/// What one step may reach over the network.
#[derive(Debug, Clone)]
pub struct StepNet {
    /// The origins of `allow.net`.
    pub grants: Vec<NetGrant>,
    /// The send-only secrets of `allow.send` that have a value.
    pub send: Vec<SendSecret>,
    tls: Arc<rustls::ClientConfig>,
}

impl StepNet {
    /// A step's network grants, with the TLS configuration its HTTPS requests use.
    pub fn new(
        grants: Vec<NetGrant>,
        send: Vec<SendSecret>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        StepNet { grants, send, tls }
    }

    /// The `allow` entry that would let a step reach `origin` besides what it has.
    pub fn allow_line(&self, origin: &NetGrant) -> String {
        let mut all: Vec<String> = self
            .grants
            .iter()
            .map(|g| format!("{:?}", g.to_string()))
            .collect();
        all.push(format!("{:?}", origin.to_string()));
        format!("net = [{}]", all.join(", "))
    }
}

/// The TLS settings of a run: the system's roots (`/etc/ssl/certs`, as found by
/// `rustls-native-certs`) plus, when given, the PEM certificates of a pipeline's CA file.
pub fn tls_config(extra_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if let Some(pem) = extra_pem {
        let mut n = 0;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem) {
            let cert: rustls::pki_types::CertificateDer<'static> =
                cert.map_err(|e| format!("the CA file is not PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("the CA file holds a certificate rustls refuses: {e}"))?;
            n += 1;
        }
        if n == 0 {
            return Err("the CA file holds no certificate (`-----BEGIN CERTIFICATE-----`)".into());
        }
    } else if added == 0 {
        tracing::warn!("no system CA certificates found: HTTPS requests will fail");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A reference the step holds: stands for a value only the host sees.
#[derive(Clone)]
struct SecretRef {
    /// The secrets it is made of (for messages).
    names: Vec<String>,
    value: String,
    /// Where it may be sent: every secret's origins.
    origins: Vec<NetGrant>,
}

/// Where denials are reported (the step's log).
pub type DenialSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The per-store side of `wasi:http`: the step's grants, its secret references, its egress
/// log.
pub struct NetHooks {
    net: Option<Arc<StepNet>>,
    refs: HashMap<String, SecretRef>,
    egress: Arc<Mutex<EgressLog>>,
    denied: DenialSink,
    deadline: Instant,
}

impl NetHooks {
    /// Hooks for a step; `net` is `None` for a step with no grant (every request is denied).
    pub fn new(
        net: Option<Arc<StepNet>>,
        egress: Arc<Mutex<EgressLog>>,
        denied: DenialSink,
        deadline: Instant,
    ) -> Self {
        NetHooks {
            net,
            refs: HashMap::new(),
            egress,
            denied,
            deadline,
        }
    }

    fn new_ref(&mut self, r: SecretRef) -> Result<String, String> {
        if self.refs.len() >= MAX_REFS {
            return Err(format!(
                "a step may hold at most {MAX_REFS} secret references"
            ));
        }
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        let token = format!("{REF_PREFIX}{}", hex::encode(bytes));
        self.refs.insert(token.clone(), r);
        Ok(token)
    }

    /// Whether `name` is one of the step's send-only secrets.
    pub fn is_send_only(&self, name: &str) -> bool {
        self.net
            .as_ref()
            .is_some_and(|n| n.send.iter().any(|s| s.name == name))
    }

    fn send_secret(&self, name: &str) -> Result<&SendSecret, String> {
        let shown = crate::runtime::shown_name(name);
        self.net
            .as_ref()
            .and_then(|n| n.send.iter().find(|s| s.name == name))
            .ok_or_else(|| {
                format!(
                    "secret `{shown}` is not granted as a send-only secret; to allow it add `send = {{ {shown} = \"<origin>\" }}` to the step's `allow` table, with an origin of its `allow.net`"
                )
            })
    }

    /// A reference standing for the send-only secret `name`, valid in request headers to
    /// the origins it is bound to.
    pub fn secret_ref(&mut self, name: &str) -> Result<String, String> {
        let s = self.send_secret(name)?;
        let r = SecretRef {
            names: vec![s.name.clone()],
            value: s.value.clone(),
            origins: s.origins.clone(),
        };
        self.new_ref(r)
    }

    /// A reference standing for `base64(user ":" password)`, the credentials of
    /// `Authorization: Basic`. `user` is text, or a reference from [`Self::secret_ref`].
    pub fn basic_auth_ref(&mut self, user: &str, password: &str) -> Result<String, String> {
        let p = self.send_secret(password)?.clone();
        let mut names = vec![p.name.clone()];
        let mut origins = p.origins.clone();
        let user = match self.substitute(user) {
            Ok((text, used)) => {
                for r in used {
                    names.extend(r.names.iter().cloned());
                    origins.retain(|o| r.origins.contains(o));
                }
                text
            }
            Err(e) => return Err(e),
        };
        if user.contains(':') {
            return Err("a Basic user name cannot hold `:`".into());
        }
        if origins.is_empty() {
            return Err(format!(
                "secrets {} are bound to no common origin",
                names.join(", ")
            ));
        }
        let value = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", p.value));
        self.new_ref(SecretRef {
            names,
            value,
            origins,
        })
    }

    /// `text` with every reference replaced by its value, and the references used.
    fn substitute(&self, text: &str) -> Result<(String, Vec<SecretRef>), String> {
        substitute(&self.refs, text, |v| v.to_string())
    }
}

/// `text` with every reference of `refs` replaced by its value as `encode` writes it, and the
/// references used; an unknown reference is an error.
fn substitute(
    refs: &HashMap<String, SecretRef>,
    text: &str,
    encode: impl Fn(&str) -> String,
) -> Result<(String, Vec<SecretRef>), String> {
    {
        let mut out = String::new();
        let mut used = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(REF_PREFIX) {
            out.push_str(&rest[..i]);
            let after = &rest[i + REF_PREFIX.len()..];
            let hex_len = after
                .bytes()
                .take(32)
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            let token = &rest[i..i + REF_PREFIX.len() + hex_len];
            let r = refs
                .get(token)
                .ok_or_else(|| "it holds a secret reference this step was not given".to_string())?;
            out.push_str(&encode(&r.value));
            used.push(r.clone());
            rest = &rest[i + token.len()..];
        }
        out.push_str(rest);
        Ok((out, used))
    }
}

impl NetHooks {
    fn deny(&self, entry: &mut EgressEntry, message: String) {
        (self.denied)(&message);
        entry.denied = Some(message);
        self.egress
            .lock()
            .expect("egress lock")
            .push_done(entry.clone());
    }
}

type SendFuture = Box<
    dyn std::future::Future<
            Output = Result<
                (
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<
                        dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                            + Send,
                    >,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl wasmtime_wasi_http::WasiHttpHooks for NetHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        use wasmtime_wasi_http::Error;
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or("");
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
        let mut entry = EgressEntry::new(
            request.method().as_str(),
            &format!("{scheme}://{authority}"),
            uri.path(),
        );
        let shown = format!(
            "{} {scheme}://{}{}",
            request.method(),
            crate::runtime::shown_name(authority),
            crate::runtime::shown_name(uri.path())
        );
        let target = match Target::new(scheme, authority) {
            Ok(t) => t,
            Err(why) => {
                self.deny(&mut entry, format!("denied: {shown}: {why}"));
                return Box::new(async { Err(Error::HttpRequestDenied) });
            }
        };
        entry.origin = target.origin();
        let shown = if matches!(target.host, TargetHost::Socket(_)) {
            format!(
                "{} {}{}",
                request.method(),
                crate::runtime::shown_name(&target.origin()),
                crate::runtime::shown_name(uri.path())
            )
        } else {
            shown
        };
        let Some(net) = self.net.clone() else {
            self.deny(
                &mut entry,
                format!(
                    "denied: {shown}: the step has no `allow.net` grant; to allow it add `net = [\"{}\"]` to the step's `allow` table",
                    target.origin()
                ),
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        let Some(grant) = net.grants.iter().find(|g| g.covers(&target)).cloned() else {
            self.deny(
                &mut entry,
                format!(
                    "denied: {shown}: `{}` is not granted; to allow it use `{}` in the step's `allow` table",
                    target.origin(),
                    net.allow_line(&target.grant())
                ),
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        // Send-only secrets: replaced here, for their origins only.
        for value in request.headers_mut().values_mut() {
            let Ok(text) = value.to_str() else { continue };
            if !text.contains(REF_PREFIX) {
                continue;
            }
            let replaced = match self.substitute(text) {
                Ok((text, used)) => {
                    if let Some(r) = used
                        .iter()
                        .find(|r| !r.origins.iter().any(|o| o.covers(&target)))
                    {
                        let bound: Vec<String> = r.origins.iter().map(|o| o.to_string()).collect();
                        let message = format!(
                            "denied: {shown}: a header holds send-only secret {} bound to {}, not to `{}`; bind it in the step's `allow.send` if this origin should receive it",
                            r.names
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(" and "),
                            bound.join(", "),
                            target.origin()
                        );
                        self.deny(&mut entry, message);
                        return Box::new(async { Err(Error::HttpRequestDenied) });
                    }
                    text
                }
                Err(why) => {
                    self.deny(
                        &mut entry,
                        format!("denied: {shown}: a header is refused: {why}"),
                    );
                    return Box::new(async { Err(Error::HttpRequestDenied) });
                }
            };
            match http::HeaderValue::from_str(&replaced) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    *value = v;
                }
                Err(_) => {
                    self.deny(
                        &mut entry,
                        format!("denied: {shown}: a secret's value cannot be sent in a header"),
                    );
                    return Box::new(async { Err(Error::HttpRequestDenied) });
                }
            }
        }
        let body_filter = self.body_filter(&request, &target);
        let entry = self.egress.lock().expect("egress lock").push(entry);
        Box::new(send::send(send::Outgoing {
            request,
            target,
            grant,
            tls: net.tls.clone(),
            options,
            deadline: self.deadline,
            entry,
            denied: self.denied.clone(),
            shown,
            body_filter,
        }))
    }

    fn is_supported_scheme(&mut self, scheme: &http::uri::Scheme) -> bool {
        *scheme == http::uri::Scheme::HTTP
            || *scheme == http::uri::Scheme::HTTPS
            || scheme.as_str() == "http+unix"
    }
}

impl NetHooks {
    /// For a JSON body of at most [`MAX_SUBSTITUTED_BODY`] bytes, when the step holds secret
    /// references: replaces them in the body, for the origins they are bound to only.
    fn body_filter(
        &self,
        request: &http::Request<wasmtime_wasi_http::WasiBody>,
        target: &Target,
    ) -> Option<send::BodyFilter> {
        if self.refs.is_empty() {
            return None;
        }
        let headers = request.headers();
        let json = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.trim_start().to_ascii_lowercase();
                v.starts_with("application/json")
                    || v.starts_with("application/") && v.contains("+json")
            });
        let small = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n <= MAX_SUBSTITUTED_BODY);
        if !json || !small {
            return None;
        }
        let refs = self.refs.clone();
        let target = target.clone();
        Some(Box::new(move |text: &str| {
            // A value lands inside a JSON string: escaped as one, so it cannot end it.
            let (replaced, used) = substitute(&refs, text, |v| {
                let quoted = serde_json::to_string(v).unwrap_or_default();
                quoted[1..quoted.len() - 1].to_string()
            })?;
            if let Some(r) = used
                .iter()
                .find(|r| !r.origins.iter().any(|o| o.covers(&target)))
            {
                return Err(format!(
                    "it holds send-only secret {} bound to {}, not to `{}`; bind it in the step's `allow.send` if this origin should receive it",
                    r.names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(" and "),
                    r.origins
                        .iter()
                        .map(|o| o.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    target.origin()
                ));
            }
            Ok(replaced)
        }))
    }
}
