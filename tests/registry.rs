//! `oci-image` and `oci-push` against a real registry (Debian's `docker-registry`,
//! distribution 2.8, started here on a free port), read back with independent tools:
//! `skopeo` (inspect, copy) and `umoci` (unpack), then the binary in the image is run.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use sluice_test_support::{Registry, Workspace, copy_dir, run_ok, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// Whether the tools are here; under CI their absence is a failure.
fn tools() -> bool {
    sluice_test_support::tools_present(
        &["docker-registry", "skopeo", "umoci", "htpasswd", "go"],
        "apt-get install docker-registry skopeo umoci apache2-utils golang-go",
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The blob digests of a layout directory.
fn blobs_in_dir(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn text<'a>(run: &'a serde_json::Value, id: &str, output: &str) -> &'a str {
    step(run, id)["outputs"][output]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{id}.{output}: {}", step(run, id)))
}

const USER: &str = "ci-bot";
const PASSWORD: &str = "s3cret-registry-pass";

/// The demo service is built, imaged and pushed to an open registry and to one with
/// htpasswd auth (the password a send-only secret); skopeo and umoci read it back; the binary
/// in the image runs; a second push uploads nothing.
#[test]
fn the_demo_image_is_pushed_and_read_back_by_independent_tools() {
    if !tools() {
        return;
    }
    let open = Registry::start(None);
    let locked = Registry::start(Some((USER, PASSWORD)));
    let ws = Workspace::new();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/go-service");
    copy_dir(&demo, &ws.dir());
    ws.manifest(&format!(
        r#"[pipeline]
name = "push-test"

[steps.build]
uses = "go-build"
allow = {{ read = ["."], exec = ["go"] }}
with = {{ package = "./cmd/server", output = "server", platforms = ["linux/amd64", "linux/arm64"], x = {{ "main.version" = "0.1.0" }} }}

[steps.image]
uses = "oci-image"
with = {{ binary = "${{{{ steps.build.outputs.binary }}}}", version = "0.1.0", source = "https://example.com/go-service", ports = [8080] }}

[steps.push]
uses = "oci-push"
allow = {{ net = ["{open}"] }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", registry = "{open}", repository = "demo/service" }}

[steps.image-multi]
uses = "oci-image"
with = {{ binary-linux-amd64 = "${{{{ steps.build.outputs.binary-linux-amd64 }}}}", binary-linux-arm64 = "${{{{ steps.build.outputs.binary-linux-arm64 }}}}", tag = "multi" }}

[steps.push-multi]
uses = "oci-push"
allow = {{ net = ["{open}"] }}
with = {{ image = "${{{{ steps.image-multi.outputs.image }}}}", registry = "{open}", repository = "demo/service" }}

[steps.push-auth]
uses = "oci-push"
allow = {{ net = ["{locked}"], send = {{ REGISTRY_PASSWORD = "{locked}" }} }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", registry = "{locked}", repository = "demo/service", tag = "v0.1.0", username = "{USER}", password-secret = "REGISTRY_PASSWORD" }}
"#,
        open = open.origin(),
        locked = locked.origin()
    ));
    let run_pipeline = || {
        let out = ws
            .command(SLUICE, &["run"])
            .env("REGISTRY_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (ws.last_run(), stdout)
    };
    let (run, stdout) = run_pipeline();
    let digest = text(&run, "image", "digest").to_string();
    assert_eq!(text(&run, "push", "digest"), digest);
    assert_eq!(text(&run, "push-auth", "digest"), digest);
    assert_eq!(
        text(&run, "push", "reference"),
        format!("127.0.0.1:{}/demo/service@{digest}", open.port)
    );
    // The layer and the config; the manifest is put, not uploaded.
    assert_eq!(step(&run, "push")["outputs"]["uploaded"]["value"], 2);
    assert!(stdout.contains("net: "), "{stdout}");

    // skopeo: the registry serves the manifest whose digest we computed.
    for (reg, tag) in [(&open, "latest"), (&locked, "v0.1.0")] {
        let mut inspect = Command::new("skopeo");
        inspect.args(["inspect", "--raw", "--tls-verify=false"]);
        if reg.port == locked.port {
            inspect.arg(format!("--creds={USER}:{PASSWORD}"));
        }
        inspect.arg(format!(
            "docker://127.0.0.1:{}/demo/service:{tag}",
            reg.port
        ));
        let raw = run_ok(&mut inspect).stdout;
        assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest);
    }
    // The multi-platform image: an index of two manifests, under the digest oci-image gave.
    let multi = text(&run, "image-multi", "digest").to_string();
    assert_eq!(text(&run, "push-multi", "digest"), multi);
    let raw = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://127.0.0.1:{}/demo/service:multi", open.port),
    ]))
    .stdout;
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), multi);
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let multi_back = ws.outside().join("multi");
    run_ok(Command::new("skopeo").args([
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://127.0.0.1:{}/demo/service:multi", open.port),
        &format!("oci:{}:multi", multi_back.display()),
    ]));
    let multi_ours = ws.outside().join("multi-ours");
    std::fs::create_dir_all(&multi_ours).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(ws.stored(&run, "image-multi", "image"))
            .arg("-C")
            .arg(&multi_ours),
    );
    assert_eq!(blobs_in_dir(&multi_back), blobs_in_dir(&multi_ours));

    // skopeo copy back to a layout: the same blobs as the archive we pushed.
    let back = ws.outside().join("back");
    run_ok(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://127.0.0.1:{}/demo/service:latest", open.port),
        &format!("oci:{}:latest", back.display()),
    ]));
    let ours = ws.outside().join("ours");
    std::fs::create_dir_all(&ours).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(ws.stored(&run, "image", "image"))
            .arg("-C")
            .arg(&ours),
    );
    assert_eq!(blobs_in_dir(&back), blobs_in_dir(&ours));
    for blob in blobs_in_dir(&back) {
        let bytes = std::fs::read(back.join("blobs/sha256").join(&blob)).unwrap();
        assert_eq!(sha256_hex(&bytes), blob);
    }
    // umoci unpacks it (validating the layout) and the binary in it runs.
    let bundle = ws.outside().join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:latest", back.display()))
            .arg(&bundle),
    );
    let server = bundle.join("rootfs/app/server");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&server).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o555);
    let version = run_ok(Command::new(&server).arg("-version")).stdout;
    assert_eq!(String::from_utf8_lossy(&version).trim(), "0.1.0");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["user"]["uid"], 65532);
    assert_eq!(config["process"]["args"][0], "/app/server");

    // A second run builds the same image (reproducible) and uploads no blob.
    let (again, _) = run_pipeline();
    assert_eq!(text(&again, "image", "digest"), digest);
    assert_eq!(step(&again, "push")["outputs"]["uploaded"]["value"], 0);
    assert_eq!(step(&again, "push-auth")["outputs"]["uploaded"]["value"], 0);
    let egress = &step(&again, "push")["egress"]["requests"];
    assert!(
        egress
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["method"] != "PUT" || e["path"].as_str().unwrap().contains("/manifests/")),
        "{egress:#}"
    );

    // The password went only to the registry: in no record, log or output.
    let records = ws.all_records();
    assert!(!records.contains(PASSWORD));
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert!(!records.contains(&basic));
}

/// Without credentials the locked registry's 401 is a clear error, and an unreachable
/// registry says so.
#[test]
fn push_errors_are_clear() {
    if !tools() {
        return;
    }
    let locked = Registry::start(Some((USER, PASSWORD)));
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = Workspace::new();
    // Any artifact makes an image; the probe writes one.
    ws.with_probe();
    ws.manifest(&format!(
        r#"[steps.make]
uses = "./probe.wasm"
with = {{ actions = [{{ op = "artifact", name = "tool", contents = "not really a binary" }}] }}

[steps.image]
uses = "oci-image"
with = {{ binary = "${{{{ steps.make.outputs.artifact }}}}" }}

[steps.no-creds]
uses = "oci-push"
allow = {{ net = ["{locked}"] }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", registry = "{locked}", repository = "demo/x" }}

[steps.unreachable]
uses = "oci-push"
allow = {{ net = ["http://127.0.0.1:{dead}"] }}
with = {{ image = "${{{{ steps.image.outputs.image }}}}", registry = "http://127.0.0.1:{dead}", repository = "demo/x" }}
"#,
        locked = locked.origin()
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    let run = ws.last_run();
    let errors = format!(
        "{}\n{}",
        step(&run, "no-creds")["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{out:?}")),
        step(&run, "unreachable")["error"].as_str().unwrap()
    )
    .replace(&locked.port.to_string(), "PORT")
    .replace(&dead.to_string(), "DEAD");
    insta::assert_snapshot!(errors);
}
