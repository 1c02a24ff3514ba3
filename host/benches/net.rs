//! `just bench-net` (or `cargo bench -p sluice --bench net`): pushing images, and what the
//! egress check costs per request. Needs Debian's `docker-registry` and `skopeo`.
//!
//! 1. push of a ~20 MB image (one random 20 MB layer, so nothing compresses or is cached)
//!    through the `oci-push` step against `skopeo copy oci-archive:… docker://…` of the same
//!    archive to a second registry of the same kind, in the same round — target: at most
//!    1.0x (medians). The step's time is the run record's (instantiation included); skopeo's
//!    is its whole process;
//! 2. a re-push with every blob present (a second `oci-push` step of the same image) —
//!    target: at most 50 ms;
//! 3. the egress check per request: the same plugin sending 200 requests to a local server
//!    through a grant naming `localhost` (the host resolves the name and checks every address
//!    before connecting) against a grant naming `127.0.0.1` (no lookup, the address checked
//!    as written), both through the host's sender; the difference is the check and lookup.
//!
//! `--quick` runs fewer rounds.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use sluice_test_support::Registry;
use std::time::{Duration, Instant};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(dir: &Path) -> serde_json::Value {
    let out = Command::new(SLUICE)
        .args(["run", "--json"])
        .current_dir(dir)
        .env("SLUICE_CACHE_DIR", dir.join("../cache"))
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn step<'a>(run: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

fn duration(run: &serde_json::Value, id: &str) -> Duration {
    Duration::from_secs_f64(step(run, id)["duration_ms"].as_f64().unwrap() / 1e3)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if !have("docker-registry") || !have("skopeo") {
        println!("net bench: skipped (needs `apt-get install docker-registry skopeo`)");
        return;
    }
    push_bench(if quick { 3 } else { 7 });
    egress_bench(if quick { 3 } else { 7 });
}

fn push_bench(rounds: usize) {
    let ours = Registry::start(None);
    let theirs = Registry::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::copy(sluice_test_support::PROBE, ws.join("probe.wasm")).unwrap();
    let origin = format!("http://127.0.0.1:{}", ours.port);
    std::fs::write(
        ws.join("sluice.toml"),
        format!(
            r#"[steps.blob]
uses = "./probe.wasm"
allow = {{ exec = ["sh"] }}
with = {{ actions = [
  {{ op = "exec", program = "sh", args = ["-c", "head -c 20000000 /dev/urandom > /outputs/server"] }},
  {{ op = "artifact-at", path = "/outputs/server" }},
] }}

[steps.image]
uses = "oci-image"
with = {{ binary = "${{{{ steps.blob.outputs.artifact }}}}" }}

[steps.push]
uses = "oci-push"
allow = {{ net = ["{origin}"] }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", registry = "{origin}", repository = "bench/image" }}

[steps.repush]
uses = "oci-push"
needs = ["push"]
allow = {{ net = ["{origin}"] }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", registry = "{origin}", repository = "bench/image" }}
"#
        ),
    )
    .unwrap();
    let (mut push, mut skopeo, mut repush) = (Vec::new(), Vec::new(), Vec::new());
    let mut size = 0;
    for round in 0..=rounds {
        let r = run(&ws);
        let digest = step(&r, "image")["outputs"]["image"]["value"]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_string();
        let archive = ws.join(".sluice/store/sha256").join(digest);
        size = std::fs::metadata(&archive).unwrap().len();
        assert_eq!(step(&r, "repush")["outputs"]["uploaded"]["value"], 0);
        let started = Instant::now();
        let status = Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci-archive:{}:latest", archive.display()))
            .arg(format!(
                "docker://127.0.0.1:{}/bench/image:r{round}",
                theirs.port
            ))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        let took = started.elapsed();
        assert!(status.success());
        if round == 0 {
            continue; // warm-up: compile caches, page cache
        }
        push.push(duration(&r, "push"));
        repush.push(duration(&r, "repush"));
        skopeo.push(took);
    }
    let (p, s, r) = (median(push), median(skopeo), median(repush));
    println!(
        "push of a {:.1} MB image ({rounds} rounds, medians): oci-push step {} vs skopeo copy {} = {:.2}x (target <= 1.0x)",
        size as f64 / 1e6,
        ms(p),
        ms(s),
        p.as_secs_f64() / s.as_secs_f64()
    );
    println!(
        "re-push with every blob present: {} (target <= 50 ms)",
        ms(r)
    );
}

/// A tiny HTTP server answering every request with `ok`.
fn server() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                loop {
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if conn
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// The check itself, in process: parse the target, match it against a step's grants, check
/// the address's range.
fn check_cost() -> Duration {
    use sluice::sandbox::net::NetGrant;
    use sluice::sandbox::net::grant::{Target, forbidden_range};
    let grants: Vec<NetGrant> = [
        "https://registry.example.com",
        "https://*.example.com:8443",
        "http://127.0.0.1:5000",
    ]
    .iter()
    .map(|g| NetGrant::parse(g).unwrap())
    .collect();
    let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    const N: u32 = 1_000_000;
    let started = Instant::now();
    let mut hits = 0;
    for _ in 0..N {
        let t = Target::new("http", std::hint::black_box("127.0.0.1:5000")).unwrap();
        let g = grants.iter().find(|g| g.covers(&t)).unwrap();
        if forbidden_range(std::hint::black_box(ip)).is_some() && g.names_address(ip) {
            hits += 1;
        }
    }
    assert_eq!(hits, N);
    started.elapsed() / N
}

fn egress_bench(rounds: usize) {
    let check = check_cost();
    println!(
        "the egress check in process (parse, match 3 grants, range check): {:.0} ns per request",
        check.as_secs_f64() * 1e9
    );
    const N: usize = 200;
    let port = server();
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::copy(sluice_test_support::HTTP_CLIENT, ws.join("http.wasm")).unwrap();
    let manifest = |host: &str| {
        let requests: Vec<String> = (0..N)
            .map(|_| format!("{{ url = \"http://{host}:{port}/\" }}"))
            .collect();
        format!(
            "[steps.named]\nuses = \"./http.wasm\"\nallow = {{ net = [\"http://{host}:{port}\"] }}\nwith = {{ requests = [{}] }}\n",
            requests.join(", ")
        )
        .replace("named", if host == "localhost" { "named" } else { "literal" })
    };
    let named = format!("{}\n{}", manifest("localhost"), manifest("127.0.0.1"));
    std::fs::write(ws.join("sluice.toml"), named).unwrap();
    let (mut by_name, mut by_ip) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let r = run(&ws);
        if round == 0 {
            continue;
        }
        by_name.push(duration(&r, "named"));
        by_ip.push(duration(&r, "literal"));
    }
    let (a, b) = (median(by_name), median(by_ip));
    println!(
        "{N} requests through the egress check (medians of {rounds}): by name {} ({:.3} ms/request), by address {} ({:.3} ms/request): lookup and address check {:.3} ms/request",
        ms(a),
        a.as_secs_f64() * 1e3 / N as f64,
        ms(b),
        b.as_secs_f64() * 1e3 / N as f64,
        (a.as_secs_f64() - b.as_secs_f64()) * 1e3 / N as f64
    );
}
