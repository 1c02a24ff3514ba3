//! The `net` capability attacked from inside a real plugin (`tests/plugins/http-client`)
//! against real HTTP servers on 127.0.0.1 (started here, on free ports): grants per origin,
//! resolved addresses, redirects, sockets, the egress log, send-only secrets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use sluice_test_support::{Workspace, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// What the server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    body: usize,
}

/// A small HTTP/1.1 server: `/hello` says hello, `/echo` sends the body back,
/// `/redirect?to=URL` answers 302 to URL. Every request is recorded.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let log = log.clone();
                std::thread::spawn(move || serve(conn, &log));
            }
        });
        Server { port, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(conn: TcpStream, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut length = 0;
        let mut authorization = None;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap(),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        log.lock().unwrap().push(Seen {
            method,
            path: path.to_string(),
            authorization,
            body: length,
        });
        let (status, headers, reply) = match path {
            "/hello" => ("200 OK", String::new(), b"hello".to_vec()),
            "/echo" => ("200 OK", String::new(), body),
            "/redirect" => (
                "302 Found",
                format!("location: {}\r\n", query.strip_prefix("to=").unwrap_or("")),
                Vec::new(),
            ),
            _ => ("404 Not Found", String::new(), Vec::new()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{headers}\r\n",
            reply.len()
        );
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(&reply).is_err() {
            return;
        }
    }
}

fn client_ws(manifest: &str) -> Workspace {
    let ws = Workspace::new();
    std::fs::copy(sluice_test_support::HTTP_CLIENT, ws.dir().join("http.wasm")).unwrap();
    ws.manifest(manifest);
    ws
}

fn results(run: &serde_json::Value) -> serde_json::Value {
    let text = step(run, "http")["outputs"]["results"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no results: {run:#}"));
    serde_json::from_str(text).unwrap()
}

/// The step's warnings (denials), with the servers' ports replaced.
fn denials(ws: &Workspace, ports: &[(u16, &str)]) -> String {
    let mut out = String::new();
    let logs = ws.records_without_report();
    for line in logs.lines().filter(|l| l.contains("denied: ")) {
        let mut l = line[line.find("denied: ").unwrap()..].to_string();
        for (port, name) in ports {
            l = l.replace(&port.to_string(), name);
        }
        let l = l.replace("\\\"", "\"");
        let l = l.trim_end_matches(['"', ',', '}']).to_string();
        if !out.contains(&l) {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

#[test]
fn only_granted_origins_are_reached_and_every_request_is_logged() {
    let a = Server::start();
    let b = Server::start();
    let (pa, pb) = (a.port, b.port);
    let ws = client_ws(&format!(
        r#"[steps.http]
uses = "./http.wasm"
allow = {{ net = ["http://127.0.0.1:{pa}"] }}
with = {{ requests = [
  {{ url = "http://127.0.0.1:{pa}/hello?token=abc" }},
  {{ url = "http://127.0.0.1:{pb}/hello" }},
  {{ url = "https://127.0.0.1:{pa}/hello" }},
  {{ url = "http://localhost:{pa}/hello" }},
  {{ url = "http://127.0.0.1:{pa}/redirect?to=http://127.0.0.1:{pb}/hello", follow = true }},
  {{ method = "POST", url = "http://127.0.0.1:{pa}/echo", body = "{body}" }},
] }}
"#,
        body = "x".repeat(1000)
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    let r = results(&run);
    let reqs = r["requests"].as_array().unwrap();
    assert_eq!(reqs[0]["status"], 200, "{r:#}");
    assert_eq!(reqs[0]["body"], "hello");
    for (i, what) in [(1, "other port"), (2, "other scheme"), (3, "other host")] {
        assert!(
            reqs[i]["error"]
                .as_str()
                .unwrap()
                .contains("the host refused"),
            "{what}: {r:#}"
        );
    }
    // The redirect itself is granted; the hop to the other origin is a new request, denied.
    assert_eq!(reqs[4]["hops"][0]["status"], 302, "{r:#}");
    assert!(
        reqs[4]["error"]
            .as_str()
            .unwrap()
            .contains("the host refused")
    );
    assert_eq!(reqs[5]["status"], 200);
    assert_eq!(reqs[5]["body"].as_str().unwrap().len(), 1000);

    // Only the granted server saw anything, and only the allowed requests.
    assert!(b.seen().is_empty(), "{:?}", b.seen());
    let seen: Vec<(String, String, usize)> = a
        .seen()
        .into_iter()
        .map(|s| (s.method, s.path, s.body))
        .collect();
    assert_eq!(
        seen,
        [
            ("GET".into(), "/hello".into(), 0),
            ("GET".into(), "/redirect".into(), 0),
            ("POST".into(), "/echo".into(), 1000)
        ]
    );

    // The egress log: every request, allowed or denied, with its bytes; no query strings.
    let egress = &step(&run, "http")["egress"];
    let rows: Vec<String> = egress["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}{} status={} up={} down={} denied={}",
                e["method"].as_str().unwrap(),
                e["origin"].as_str().unwrap(),
                e["path"].as_str().unwrap(),
                e["status"],
                e["bytes_up"],
                e["bytes_down"],
                e["denied"].is_string()
            )
            .replace(&pa.to_string(), "PA")
            .replace(&pb.to_string(), "PB")
        })
        .collect();
    insta::assert_snapshot!(rows.join("\n"), @r"
    GET http://127.0.0.1:PA/hello status=200 up=0 down=5 denied=false
    GET http://127.0.0.1:PB/hello status=null up=0 down=0 denied=true
    GET https://127.0.0.1:PA/hello status=null up=0 down=0 denied=true
    GET http://localhost:PA/hello status=null up=0 down=0 denied=true
    GET http://127.0.0.1:PA/redirect status=302 up=0 down=0 denied=false
    GET http://127.0.0.1:PB/hello status=null up=0 down=0 denied=true
    POST http://127.0.0.1:PA/echo status=200 up=1000 down=1000 denied=false
    ");
    assert!(!egress.to_string().contains("token=abc"), "{egress}");
    insta::assert_snapshot!(denials(&ws, &[(pa, "PA"), (pb, "PB")]));
    // The console counts the requests per origin.
    let summary: String = out
        .stdout
        .lines()
        .filter(|l| l.contains("net: "))
        .map(|l| {
            l.trim()
                .replace(&pa.to_string(), "PA")
                .replace(&pb.to_string(), "PB")
                + "\n"
        })
        .collect();
    insta::assert_snapshot!(summary, @r"
    http  net: 3 requests to http://127.0.0.1:PA, 1.0 kB up, 1.0 kB down
    http  net: 2 requests to http://127.0.0.1:PB, 0 B up, 0 B down (2 denied)
    http  net: 1 request to https://127.0.0.1:PA, 0 B up, 0 B down (1 denied)
    http  net: 1 request to http://localhost:PA, 0 B up, 0 B down (1 denied)
    ");
}

#[test]
fn wildcards_names_and_sockets() {
    let a = Server::start();
    let pa = a.port;
    // A name of this machine that resolves to loopback without being `localhost`: Debian's
    // /etc/hosts maps the machine's own name to 127.0.0.1 or 127.0.1.1.
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let host = hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.first().is_some_and(|a| a.starts_with("127.")))
        .flat_map(|f| f[1..].iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .find(|n| {
            n != "localhost"
                && !n.contains("localhost")
                && (n.as_str(), pa)
                    .to_socket_addrs()
                    .is_ok_and(|mut a| a.all(|a| a.ip().is_loopback()))
        })
        .expect("this test needs a name other than localhost that /etc/hosts maps to 127.x (Debian maps the machine's own name)");
    let ws = client_ws(&format!(
        r#"[steps.http]
uses = "./http.wasm"
allow = {{ net = ["http://*.localhost:{pa}", "http://{host}:{pa}", "http://localhost:{pa}"] }}
with = {{ sockets = {pa}, requests = [
  {{ url = "http://localhost.:{pa}/hello" }},
  {{ url = "http://{host}:{pa}/hello" }},
  {{ url = "http://sub.localhost:{pa}/hello" }},
  {{ url = "http://2130706433:{pa}/hello" }},
] }}
"#
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let run = ws.last_run();
    let r = results(&run);
    let reqs = r["requests"].as_array().unwrap();
    // `localhost` granted by name may reach loopback.
    assert_eq!(reqs[0]["status"], 200, "{r:#}");
    // Another name resolving to loopback is refused after resolution.
    assert!(
        reqs[1]["error"]
            .as_str()
            .unwrap()
            .contains("refused the address"),
        "{r:#}"
    );
    // `*.localhost` covers `sub.localhost` (which may not resolve) but never reaches loopback.
    assert!(reqs[2]["error"].is_string(), "{r:#}");
    assert!(reqs[3]["error"].is_string(), "{r:#}");
    assert_eq!(a.seen().len(), 1);
    let log = denials(&ws, &[(pa, "PA")]).replace(&host, "HOST");
    insta::assert_snapshot!(log);
    // wasi:sockets stay denied though the step has a grant.
    let sockets = &r["sockets"];
    for kind in ["tcp", "udp"] {
        let s = sockets[kind].as_str().unwrap();
        assert!(s.contains("access-denied"), "{kind}: {s}");
    }
    let lookup = sockets["lookup"].as_str().unwrap();
    assert!(lookup.contains("permanent-resolver-failure"), "{lookup}");

    // A bare domain is not covered by its wildcard.
    let ws = client_ws(&format!(
        "[steps.http]\nuses = \"./http.wasm\"\nallow = {{ net = [\"http://*.localhost:{pa}\"] }}\nwith = {{ requests = [{{ url = \"http://localhost:{pa}/hello\" }}] }}\n"
    ));
    assert_eq!(ws.sluice(SLUICE, &["run"]).code, 0);
    let r = results(&ws.last_run());
    assert!(
        r["requests"][0]["error"]
            .as_str()
            .unwrap()
            .contains("refused")
    );
    assert_eq!(a.seen().len(), 1);
}

#[test]
fn a_step_without_a_grant_cannot_run_an_http_plugin() {
    let ws = client_ws("[steps.http]\nuses = \"./http.wasm\"\nwith = { requests = [] }\n");
    let out = ws.sluice(SLUICE, &["validate"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn bad_grants_are_located_errors() {
    let ws = client_ws(
        r#"[steps.http]
uses = "./http.wasm"
allow = { net = ["*", "ftp://example.com", "https://example.com/v2/", "https://example.com?q=1", "https://a.*.example.com", "http://127.0.0.1:5000"], send = { PW = "http://127.0.0.1:5001" } }
"#,
    );
    let out = ws.sluice(SLUICE, &["validate"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn send_only_secrets_are_used_never_read() {
    const PW: &str = "hunter2-very-secret";
    let a = Server::start();
    let b = Server::start();
    let (pa, pb) = (a.port, b.port);
    let ws = client_ws(&format!(
        r#"[steps.http]
uses = "./http.wasm"
allow = {{ net = ["http://127.0.0.1:{pa}", "http://127.0.0.1:{pb}"], send = {{ PW = "http://127.0.0.1:{pa}" }} }}
with = {{ read_secret = "PW", requests = [
  {{ url = "http://127.0.0.1:{pa}/hello", basic = ["alice", "PW"] }},
  {{ url = "http://127.0.0.1:{pa}/hello", bearer = "PW" }},
  {{ url = "http://127.0.0.1:{pb}/hello", bearer = "PW" }},
  {{ url = "http://127.0.0.1:{pb}/hello", header_ref = ["x-token", "PW"] }},
  {{ url = "http://127.0.0.1:{pa}/hello", bearer = "OTHER" }},
] }}
"#
    ));
    let out = ws.command(SLUICE, &["run"]).env("PW", PW).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let run = ws.last_run();
    let r = results(&run);
    assert_eq!(
        r["secret"], "none",
        "secret() returns nothing for it: {r:#}"
    );
    let reqs = r["requests"].as_array().unwrap();
    assert_eq!(reqs[0]["status"], 200, "{r:#}");
    assert_eq!(reqs[1]["status"], 200, "{r:#}");
    assert!(reqs[2]["error"].as_str().unwrap().contains("refused"));
    assert!(reqs[3]["error"].as_str().unwrap().contains("refused"));
    assert!(
        reqs[4]["error"].as_str().unwrap().contains("ref: "),
        "{r:#}"
    );
    // The granted origin received the values the host substituted.
    let auth: Vec<Option<String>> = a.seen().into_iter().map(|s| s.authorization).collect();
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PW}"));
    assert_eq!(
        auth,
        [Some(format!("Basic {basic}")), Some(format!("Bearer {PW}"))]
    );
    // The other origin received nothing.
    assert!(b.seen().is_empty());
    // The value is in no log, record or output.
    let records = ws.all_records();
    assert!(!records.contains(PW) && !records.contains(&basic));
    assert!(!stdout.contains(PW));
    insta::assert_snapshot!(denials(&ws, &[(pa, "PA"), (pb, "PB")]));
}

/// HTTPS: the host verifies the server against the system's roots plus the pipeline's
/// `ca-file`; a server signed by an unknown CA is refused.
#[test]
fn https_trusts_the_pipelines_ca_file() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut head = Vec::new();
                let mut byte = [0u8];
                while !head.ends_with(b"\r\n\r\n") {
                    if tls.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecure");
                let _ = tls.flush();
            });
        }
    });
    let manifest = |ca: &str| {
        format!(
            "[pipeline]\n{ca}\n[steps.http]\nuses = \"./http.wasm\"\nallow = {{ net = [\"https://localhost:{port}\"] }}\nwith = {{ requests = [{{ url = \"https://localhost:{port}/hello\" }}] }}\n"
        )
    };
    let ws = client_ws(&manifest("ca-file = \"certs/ca.pem\""));
    ws.file("certs/ca.pem", ca.pem());
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let run = ws.last_run();
    let r = results(&run);
    assert_eq!(
        r["requests"][0]["status"],
        200,
        "{r:#} {:#}",
        step(&run, "http")["egress"]
    );
    assert_eq!(r["requests"][0]["body"], "secure");

    let ws = client_ws(&manifest(""));
    assert_eq!(ws.sluice(SLUICE, &["run"]).code, 0);
    let r = results(&ws.last_run());
    let error = r["requests"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("TlsCertificateError"), "{r:#}");
}

/// What a unix-socket server received: path, `Host`, body.
type UnixSeen = Arc<Mutex<Vec<(String, String, String)>>>;

/// An HTTP/1.1 server on a unix socket (a container engine's API stands there): answers 200
/// with the body it got, records every request.
fn unix_server(path: &std::path::Path) -> UnixSeen {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let seen: UnixSeen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let (mut host, mut len) = (String::new(), 0usize);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap_or(("", ""));
                match k.to_ascii_lowercase().as_str() {
                    "host" => host = v.trim().to_string(),
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body).into_owned();
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            log.lock().unwrap().push((path, host, body));
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    seen
}

/// `unix:` grants: the granted socket is reached (its egress logged under `unix:/path`); a
/// socket not granted, a URL host that is not a hex path, or a path with `..` is refused
/// before anything connects; a send-only secret in a small JSON body reaches the socket it
/// is bound to, escaped as a JSON string, and is refused anywhere else.
#[test]
fn unix_socket_grants_and_json_secrets() {
    // A value that would end a JSON string unescaped.
    const TOKEN: &str = "tok\"en-7c1e";
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    let (seen_a, seen_b) = (unix_server(&a), unix_server(&b));
    let http = Server::start();
    let ph = http.port;
    let (a, b) = (a.display().to_string(), b.display().to_string());
    let dotted = format!("{}/../b.sock", a);
    let hex_dotted: String = dotted.bytes().map(|c| format!("{c:02x}")).collect();
    let ws = client_ws(&format!(
        r#"[steps.http]
uses = "./http.wasm"
allow = {{ net = ["unix:{a}", "http://127.0.0.1:{ph}"], send = {{ TOKEN = "unix:{a}" }} }}
with = {{ requests = [
  {{ socket = "{a}", url = "/v1.41/_ping" }},
  {{ socket = "{b}", url = "/v1.41/_ping" }},
  {{ url = "http+unix://not-hex/v1.41/_ping" }},
  {{ url = "http+unix://{hex_dotted}/v1.41/_ping" }},
  {{ socket = "{a}", url = "/v1.41/containers/create", method = "POST", json_ref = "TOKEN" }},
  {{ url = "http://127.0.0.1:{ph}/echo", method = "POST", json_ref = "TOKEN" }},
] }}
"#
    ));
    let out = ws
        .command(SLUICE, &["run"])
        .env("TOKEN", TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let run = ws.last_run();
    let r = results(&run);
    let reqs = r["requests"].as_array().unwrap();
    assert_eq!(reqs[0]["status"], 200, "{r:#}");
    for i in [1, 2, 3, 5] {
        assert!(
            reqs[i]["error"]
                .as_str()
                .is_some_and(|e| e.contains("refused")),
            "request {i}: {r:#}"
        );
    }
    assert_eq!(reqs[4]["status"], 200, "{r:#}");
    let got = seen_a.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "/v1.41/_ping");
    assert_eq!(got[0].1, "localhost");
    // The engine got the value, escaped inside its JSON string; the step never saw it.
    let body: serde_json::Value = serde_json::from_str(&got[1].2).unwrap();
    assert_eq!(body["Env"][0], format!("TOKEN={TOKEN}"));
    assert!(seen_b.lock().unwrap().is_empty());
    assert!(http.seen().is_empty(), "{:?}", http.seen());
    let records = ws.all_records();
    assert!(!records.contains("tok\\\"en-7c1e") && !records.contains(TOKEN));
    assert!(
        records.contains(&format!("\"origin\": \"unix:{a}\""))
            || records.contains(&format!("\"origin\":\"unix:{a}\"")),
        "the egress log names the socket"
    );
    let denied = denials(&ws, &[(ph, "PH")])
        .replace(&dir.path().display().to_string(), "DIR")
        .replace(&hex_dotted, "HEX");
    insta::assert_snapshot!(denied);
}

/// A socket grant inside the pipeline's directory is refused at validation, named directly or
/// through a link from outside: a step that may write there could put another socket (or a
/// link to one, such as a container engine's) in its place before the host connects.
#[test]
fn a_socket_inside_the_workspace_is_refused() {
    let ws = client_ws("");
    let outside = tempfile::tempdir().unwrap();
    let link = outside.path().join("ws-link");
    std::os::unix::fs::symlink(ws.dir(), &link).unwrap();
    for socket in [
        ws.dir().join("run/engine.sock"),
        link.join("run/engine.sock"),
    ] {
        ws.manifest(&format!(
            "[steps.http]\nuses = \"./http.wasm\"\nallow = {{ net = [\"unix:{}\"], write = [\"run\"] }}\n",
            socket.display()
        ));
        std::fs::create_dir_all(ws.dir().join("run")).unwrap();
        let out = ws.sluice(SLUICE, &["validate"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("lies inside the pipeline's directory, where a step that may write could put another socket in its place"),
            "{}",
            out.stderr
        );
    }
}
