//! A hostile HTTP client for the `net` tests: sends the requests its configuration lists
//! (following redirects when asked, placing send-only secret references in headers), tries
//! every `wasi:sockets` way out, and reports what happened as its `results` output.

use serde::Deserialize;
use sluice_sdk::http::{Body, Request, basic_auth_ref, secret_ref, send};
use sluice_sdk::{Failure, Invocation, Outcome, Plugin, PluginInfo, Port, Value, ValueKind};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    requests: Vec<Req>,
    /// Try TCP, UDP and name lookup through wasi:sockets against this port on 127.0.0.1.
    sockets: Option<u16>,
    /// Call `secret()` with this name and report whether a value came back.
    read_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Req {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    body: Option<String>,
    /// `Authorization: Bearer <ref of this secret>`.
    bearer: Option<String>,
    /// `Authorization: Basic <ref>` of [user, password-secret].
    basic: Option<(String, String)>,
    /// A raw header value carrying a reference: [header, secret].
    header_ref: Option<(String, String)>,
    #[serde(default)]
    follow: bool,
    /// Send to this unix socket: `url` is then the path (`http+unix://<hex>/path`).
    socket: Option<String>,
    /// A JSON body `{"Env":["TOKEN=<ref of this secret>"]}`, as a container engine takes it.
    json_ref: Option<String>,
}

fn get() -> String {
    "GET".into()
}

struct HttpClient;

fn one(r: &Req) -> serde_json::Value {
    let url = match &r.socket {
        Some(socket) => sluice_sdk::http::unix_url(socket, &r.url),
        None => r.url.clone(),
    };
    let mut request = Request::new(&r.method, url);
    if let Some(b) = &r.body {
        request = request.body(Body::Bytes(b.as_bytes().to_vec()));
    }
    if let Some(name) = &r.json_ref {
        match secret_ref(name) {
            Ok(t) => {
                let body = serde_json::json!({ "Env": [format!("TOKEN={t}")] }).to_string();
                request = request
                    .header("content-type", "application/json")
                    .body(Body::Bytes(body.into_bytes()));
            }
            Err(e) => return serde_json::json!({ "url": r.url, "error": format!("ref: {e}") }),
        }
    }
    let auth = match (&r.bearer, &r.basic) {
        (Some(name), _) => Some(secret_ref(name).map(|t| format!("Bearer {t}"))),
        (_, Some((user, pw))) => Some(basic_auth_ref(user, pw).map(|t| format!("Basic {t}"))),
        _ => None,
    };
    match auth {
        Some(Ok(v)) => request = request.header("authorization", v),
        Some(Err(e)) => return serde_json::json!({ "url": r.url, "error": format!("ref: {e}") }),
        None => {}
    }
    if let Some((header, name)) = &r.header_ref {
        match secret_ref(name) {
            Ok(t) => request = request.header(header, t),
            Err(e) => return serde_json::json!({ "url": r.url, "error": format!("ref: {e}") }),
        }
    }
    let mut hops = Vec::new();
    for _ in 0..5 {
        match send(&request) {
            Ok(resp) => {
                hops.push(serde_json::json!({ "url": request.url, "status": resp.status }));
                match resp.header("location") {
                    Some(loc) if r.follow && (300..400).contains(&resp.status) => {
                        request.url = loc.to_string();
                    }
                    _ => {
                        return serde_json::json!({
                            "url": r.url, "status": resp.status, "body": resp.text(), "hops": hops,
                        });
                    }
                }
            }
            Err(e) => {
                return serde_json::json!({ "url": request.url, "error": e, "hops": hops });
            }
        }
    }
    serde_json::json!({ "url": r.url, "error": "too many redirects" })
}

fn sockets(port: u16) -> serde_json::Value {
    use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    use wasip2::sockets::{instance_network, ip_name_lookup, tcp_create_socket, udp_create_socket};
    let net = instance_network::instance_network();
    let addr = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (127, 0, 0, 1),
    });
    let tcp = match tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4) {
        Ok(s) => match s.start_connect(&net, addr) {
            Ok(()) => {
                s.subscribe().block();
                format!("{:?}", s.finish_connect().map(|_| "connected"))
            }
            Err(e) => format!("{e:?}"),
        },
        Err(e) => format!("{e:?}"),
    };
    let udp = match udp_create_socket::create_udp_socket(IpAddressFamily::Ipv4) {
        Ok(s) => match s.start_bind(&net, addr) {
            Ok(()) => format!("{:?}", s.finish_bind().map(|_| "bound")),
            Err(e) => format!("{e:?}"),
        },
        Err(e) => format!("{e:?}"),
    };
    let lookup = match ip_name_lookup::resolve_addresses(&net, "localhost") {
        Ok(stream) => {
            stream.subscribe().block();
            format!("{:?}", stream.resolve_next_address().map(|a| a.is_some()))
        }
        Err(e) => format!("{e:?}"),
    };
    serde_json::json!({ "tcp": tcp, "udp": udp, "lookup": lookup })
}

impl Plugin for HttpClient {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "http-client",
            "0.0.0",
            "Sends the HTTP requests it is told to",
        )
        .wants("net")
        .output(Port::new(
            "results",
            ValueKind::Json,
            "What each request did",
        ))
    }

    fn run(invocation: Invocation) -> Result<Outcome, Failure> {
        let config: Config = invocation.config()?;
        let mut results = serde_json::Map::new();
        results.insert(
            "requests".into(),
            config.requests.iter().map(one).collect::<Vec<_>>().into(),
        );
        if let Some(port) = config.sockets {
            results.insert("sockets".into(), sockets(port));
        }
        if let Some(name) = &config.read_secret {
            results.insert(
                "secret".into(),
                match sluice_sdk::secret(name) {
                    Some(v) => serde_json::json!(format!("read {} bytes", v.len())),
                    None => serde_json::json!("none"),
                },
            );
        }
        let text = serde_json::Value::Object(results).to_string();
        Ok(Outcome::new()
            .summary("sent")
            .output("results", Value::Json(text)))
    }
}

sluice_sdk::export_plugin!(HttpClient);
