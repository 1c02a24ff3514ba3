//! The sandbox attacked the way issue #9 found it broken, from inside a real plugin
//! (`tests/plugins/probe`): filesystem escapes, secrets reaching sinks, hosts exhausted or
//! hung, the console driven by step text. Each test names the finding it reproduces.

use std::time::Duration;

use sluice_test_support::{Workspace, probe_report, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn probe_ws() -> Workspace {
    let ws = Workspace::new();
    ws.with_probe();
    ws
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The SARIF log a step stored (its `sarif` output), parsed.
fn stored_sarif(ws: &Workspace, run: &serde_json::Value, id: &str) -> serde_json::Value {
    let digest = step(run, id)["outputs"]["sarif"]["value"]["digest"]
        .as_str()
        .expect("a sarif output")
        .trim_start_matches("sha256:")
        .to_string();
    let text = std::fs::read_to_string(ws.dir().join(".sluice/store/sha256").join(digest)).unwrap();
    serde_json::from_str(&text).unwrap()
}

// --- Escapes ---------------------------------------------------------------------------

/// Found 1: single-file grants of both modes in one directory shared one writable directory,
/// so `read = ["ro.txt"]` could be written. Now such a layout is refused before anything
/// runs, and layouts that can be honoured keep each file's mode exactly.
#[test]
fn single_file_grants_keep_their_exact_modes() {
    let ws = probe_ws();
    ws.file("ro.txt", "read only").file("rw.txt", "writable");
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
allow = { read = ["ro.txt"], write = ["rw.txt"] }
with = { actions = [{ op = "write", path = "/workspace/ro.txt", contents = "pwned" }] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "`rw.txt` (write) and `ro.txt` (read) are single files in the same directory `.`"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("ro.txt")).unwrap(),
        "read only"
    );

    // Honoured: files of one mode per directory. The read-only file is not writable through
    // any preopen, not even with raw WASI calls on the `/workspace` descriptor.
    ws.file("conf/app.toml", "app").file("gen/out.txt", "old");
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
allow = { read = ["conf/app.toml"], write = ["gen/out.txt"] }
with = { actions = [
  { op = "write", path = "/workspace/conf/app.toml", contents = "pwned" },
  { op = "raw-open", preopen = "/workspace", path = "conf/app.toml", write = true },
  { op = "raw-open", preopen = "/workspace/conf", path = "app.toml", write = true },
  { op = "raw-open", preopen = "/workspace", path = "gen/out.txt", write = true },
  { op = "write", path = "/workspace/gen/out.txt", contents = "new" },
  { op = "list", path = "/workspace" },
  { op = "read", path = "/workspace/conf/app.toml" },
] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&ws.last_run(), "probe");
    let oks: Vec<bool> = report.iter().map(|r| r.1).collect();
    assert_eq!(
        oks,
        [false, false, false, false, true, true, true],
        "{report:?}"
    );
    assert_eq!(report[5].2, "conf,gen");
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("conf/app.toml")).unwrap(),
        "app"
    );
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("gen/out.txt")).unwrap(),
        "new"
    );
}

/// Found 1 (correctness): a writable one-file grant inside a read grant was mounted over
/// the directory and hid the rest of it. A file can't be writable inside a read-only
/// directory, so that is refused; a writable directory inside one works, and the rest stays
/// visible.
#[test]
fn a_grant_inside_another_never_hides_it() {
    let ws = probe_ws();
    ws.file("src/a.go", "package a").file("src/gen/keep", "k");
    ws.manifest(
        "[steps.probe]\nuses = \"./probe.wasm\"\nallow = { read = [\"src\"], write = [\"src/a.go\"] }\n",
    );
    let out = ws.sluice(SLUICE, &["validate"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(
            "`src/a.go` is a single file granted for writing inside read-only grant `src`"
        ),
        "{}",
        out.stderr
    );

    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
allow = { read = ["src"], write = ["src/gen"] }
with = { actions = [
  { op = "list", path = "/workspace/src" },
  { op = "write", path = "/workspace/src/gen/new", contents = "ok" },
  { op = "write", path = "/workspace/src/a.go", contents = "pwned" },
  { op = "raw-open", preopen = "/workspace/src", path = "gen/keep", write = true },
] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&ws.last_run(), "probe");
    assert_eq!(report[0], ("list".into(), true, "a.go,gen".into()));
    assert!(report[1].1 && !report[2].1 && !report[3].1, "{report:?}");
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("src/a.go")).unwrap(),
        "package a"
    );
}

/// Found 2: `digest()` re-opened the mount by path, so a step that swapped a granted
/// directory for a symlink hashed any host file. Now it reads through the handle the step
/// was given, and a read grant inside a write grant is refused anyway.
#[test]
fn digest_never_follows_a_swapped_directory() {
    let ws = probe_ws();
    ws.file("w/sub/x", "x");
    std::fs::write(ws.outside().join("host-secret.txt"), "host secret").unwrap();
    ws.manifest(
        "[steps.probe]\nuses = \"./probe.wasm\"\nallow = { read = [\"w/sub\"], write = [\"w\"] }\n",
    );
    let out = ws.sluice(SLUICE, &["validate"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("`w/sub` is granted read-only, but it lies inside write grant `w`"),
        "{}",
        out.stderr
    );

    let outside = ws.outside().display().to_string();
    ws.manifest(&format!(
        r#"[steps.probe]
uses = "./probe.wasm"
allow = {{ write = ["w"] }}
with = {{ actions = [
  {{ op = "remove-all", path = "/workspace/w/sub" }},
  {{ op = "symlink", target = "../..", link = "/workspace/w/sub" }},
  {{ op = "digest", path = "/workspace/w/sub/host-secret.txt" }},
  {{ op = "symlink", target = "{outside}/host-secret.txt", link = "/workspace/w/abs" }},
  {{ op = "digest", path = "/workspace/w/abs" }},
] }}
"#
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&ws.last_run(), "probe");
    assert!(
        report[0].1 && report[1].1,
        "the step could plant its link: {report:?}"
    );
    assert!(!report[2].1 && !report[4].1, "{report:?}");
    let leaked = sha256_hex(b"host secret");
    assert!(!ws.all_records().contains(&leaked));
}

/// Found 3: the grant was checked, then opened again by path, so a step flipping a granted
/// directory to a symlink made concurrently starting steps mount a directory outside the
/// workspace. Now a grant is walked once without following symlinks and mounted from that
/// handle: whatever the race, nothing is written outside.
///
/// Writers start in waves while the flipper runs, each with 300 single-file grants (before
/// the fix, those were hard-linked between the check and the mount, widening the window as
/// an attacker would). Against the binary before the fix this setup wrote outside the
/// workspace in 11 of 20 rounds, so four rounds catch it about 96% of the time.
#[test]
fn a_directory_flipped_to_a_symlink_never_mounts_outside() {
    const ROUNDS: usize = 4;
    const WAVES: usize = 8;
    const WRITERS: usize = 48;
    const PADS: usize = 300;
    let pads: Vec<String> = (0..PADS).map(|i| format!("\"pad/f{i}\"")).collect();
    let pads = pads.join(", ");
    let mut errors = Vec::new();
    for round in 0..ROUNDS {
        let ws = probe_ws();
        ws.file("flip/d/keep", "k");
        for i in 0..PADS {
            ws.file(&format!("pad/f{i}"), "p");
        }
        std::fs::create_dir(ws.outside().join("target")).unwrap();
        let mut toml = String::from(
            "[steps.flipper]\nuses = \"./probe.wasm\"\nallow = { write = [\"flip\"] }\nwith = { actions = [{ op = \"flip\", dir = \"/workspace/flip/d\", target = \"../../target\", times = 20000 }] }\n",
        );
        for k in 0..WAVES {
            toml.push_str(&format!(
                "\n[steps.wait{k}]\nuses = \"./probe.wasm\"\nwith = {{ actions = [{{ op = \"sleep\", ms = {} }}] }}\n",
                30 + 40 * k
            ));
        }
        for i in 0..WRITERS {
            toml.push_str(&format!(
                "\n[steps.w{i}]\nuses = \"./probe.wasm\"\nneeds = [\"wait{}\"]\nallow = {{ read = [{pads}], write = [\"flip/d\"] }}\nwith = {{ actions = [{{ op = \"write\", path = \"/workspace/flip/d/marker-{i}\", contents = \"x\" }}] }}\n",
                i % WAVES
            ));
        }
        ws.manifest(&toml);
        let out = ws.sluice(SLUICE, &["run", "--jobs", "64"]);
        assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
        let outside: Vec<_> = std::fs::read_dir(ws.outside().join("target"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            outside.is_empty(),
            "round {round}: written outside the workspace: {outside:?}"
        );
        let run = ws.last_run();
        for i in 0..WRITERS {
            let s = step(&run, &format!("w{i}"));
            if s["status"] != "passed" {
                errors.push(format!("w{i}: {}", s["error"].as_str().unwrap_or_default()));
            }
        }
    }
    // Checked after every round's files: a writer that was refused saw the symlink (or saw
    // the entry change under it while it was being opened).
    for error in &errors {
        assert!(
            error.ends_with("`flip/d` is a symlink; grants never follow symlinks")
                || error.ends_with(
                    "`flip/d` kept changing while it was being opened (is a step replacing it?)"
                ),
            "{error}"
        );
    }
    eprintln!(
        "flip race: {} of {} writers saw the symlink and were refused",
        errors.len(),
        ROUNDS * WRITERS
    );
}

/// Found 4: one step planted `build/out -> ../src`, and a later step granted
/// `write = ["build/out"]` wrote `src/`.
#[test]
fn a_planted_symlink_never_redirects_a_later_grant() {
    let ws = probe_ws();
    ws.file("src/main.go", "package main")
        .file("build/.keep", "");
    ws.manifest(
        r#"[steps.plant]
uses = "./probe.wasm"
allow = { write = ["build"] }
with = { actions = [{ op = "symlink", target = "../src", link = "/workspace/build/out" }] }

[steps.use]
uses = "./probe.wasm"
needs = ["plant"]
allow = { write = ["build/out"] }
with = { actions = [{ op = "write", path = "/workspace/build/out/pwned.go", contents = "x" }] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let run = ws.last_run();
    assert_eq!(step(&run, "plant")["status"], "passed");
    assert_eq!(step(&run, "use")["status"], "errored");
    assert_eq!(
        step(&run, "use")["error"],
        "grant `write = [\"build/out\"]` refused at run time: `build/out` is a symlink; grants never follow symlinks"
    );
    assert!(!ws.dir().join("src/pwned.go").exists());
}

/// Found 5: a missing write grant was created with `create_dir_all` through a planted
/// symlink, making directories outside the workspace.
#[test]
fn missing_grants_are_never_created_through_symlinks() {
    let ws = probe_ws();
    ws.file("w/.keep", "");
    ws.manifest(
        r#"[steps.plant]
uses = "./probe.wasm"
allow = { write = ["w"] }
with = { actions = [{ op = "symlink", target = "../..", link = "/workspace/w/link" }] }

[steps.use]
uses = "./probe.wasm"
needs = ["plant"]
allow = { write = ["w/link/made-outside"] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let error = step(&ws.last_run(), "use")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("`w/link` runs through a symlink") || error.contains("(`w/link`)"),
        "{error}"
    );
    assert!(!ws.outside().join("made-outside").exists());
}

/// Found 6: the SARIF writer read `workspace.join(span.path)`, following symlinks and
/// ignoring grants, so a finding's columns revealed line lengths of any file. Now it reads
/// only what the step could, regular files only: FIFOs and `/dev/zero` neither hang nor
/// exhaust the host.
#[test]
fn sarif_reads_only_what_the_step_could() {
    let ws = probe_ws();
    ws.file("granted/wide.go", "é = x\n")
        .file("not-granted.txt", "ab\n")
        .symlink("../../outside.txt", "granted/rel-link")
        .symlink("/dev/zero", "granted/zero")
        .fifo("granted/fifo");
    std::fs::write(ws.outside().join("outside.txt"), "ab\n").unwrap();
    let finding = |path: &str, col: u32| {
        format!(
            r#"{{ op = "finding", rule = "R", message = "m", path = "{path}", line = 1, column = {col} }}"#
        )
    };
    ws.manifest(&format!(
        "[steps.probe]\nuses = \"./probe.wasm\"\ntimeout = \"20s\"\nmemory = \"64MiB\"\nallow = {{ read = [\"granted\"] }}\nwith = {{ actions = [{}] }}\n",
        [
            finding("granted/wide.go", 4),
            finding("granted/rel-link", 50),
            finding("not-granted.txt", 50),
            finding("granted/zero", 50),
            finding("granted/fifo", 50),
            finding("../outside.txt", 50),
        ]
        .join(", ")
    ));
    let (code, rss_kib, took) = ws.run_measuring(SLUICE, &["run"]);
    eprintln!("sarif: host peak RSS {} MiB, {took:?}", rss_kib / 1024);
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(rss_kib < 300 * 1024, "host peak RSS {} MiB", rss_kib / 1024);
    let sarif = stored_sarif(&ws, &ws.last_run(), "probe");
    let columns: Vec<u64> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["region"]["startColumn"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // Byte column 4 of the granted file (`=`, after the two-byte `é`) is UTF-16 column 3;
    // nothing else was read.
    assert_eq!(columns, [3, 50, 50, 50, 50, 50]);
}

/// Correctness: with `read = ["go.mod", "a"]` the step's `/workspace` listed only `go.mod`,
/// and the analysers passed on "0 packages". Every granted entry is listed now, and an
/// analyser that finds nothing to analyse fails, naming what it could see.
#[test]
fn every_granted_entry_is_listed_and_analysers_never_pass_on_nothing() {
    let ws = probe_ws();
    ws.file("go.mod", "module example.com/m\n\ngo 1.19\n")
        .file("a/a.go", "package a\n\nfunc Exported() {}\n")
        .file("b/b.go", "package b\n");
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
allow = { read = ["go.mod", "a"] }
with = { actions = [{ op = "list", path = "/workspace" }] }

[steps.lint]
uses = "golint"
allow = { read = ["go.mod", "a"] }

[steps.empty]
uses = "golint"
allow = { read = ["go.mod"] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let run = ws.last_run();
    assert_eq!(
        probe_report(&run, "probe")[0],
        ("list".into(), true, "a,go.mod".into())
    );
    let lint = step(&run, "lint");
    assert_eq!(lint["status"], "passed", "{lint:#}");
    assert!(
        lint["summary"].as_str().unwrap().contains("1 package"),
        "{lint:#}"
    );
    assert!(
        lint["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "exported"),
        "{lint:#}"
    );
    let empty = step(&run, "empty");
    assert_eq!(empty["status"], "errored");
    assert_eq!(
        empty["error"],
        "invalid configuration: no Go files to analyse in `.` for packages [\"./...\"]: the step sees go.mod there; grant the module's packages in `allow.read` (e.g. `read = [\".\"]`) or fix `dir` / `packages`"
    );
}

/// `.sluice/` is never visible inside a step, not even under `read = ["."]`.
#[test]
fn sluice_state_is_never_visible_to_a_step() {
    let ws = probe_ws();
    ws.file("src/a.txt", "a");
    ws.manifest("[steps.first]\nuses = \"./probe.wasm\"\nwith = { actions = [{ op = \"log\", text = \"first run\" }] }\n");
    assert_eq!(ws.sluice(SLUICE, &["run"]).code, 0);
    assert!(ws.dir().join(".sluice/runs").is_dir());
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
allow = { read = ["."] }
with = { actions = [
  { op = "list", path = "/workspace" },
  { op = "list", path = "/workspace/.sluice" },
  { op = "raw-open", preopen = "/workspace", path = ".sluice/cache", write = false },
  { op = "read", path = "/workspace/src/a.txt" },
] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&ws.last_run(), "probe");
    assert_eq!(
        report[0],
        ("list".into(), true, "probe.wasm,sluice.toml,src".into())
    );
    assert!(!report[1].1 && !report[2].1, "{report:?}");
    assert_eq!(report[3], ("read".into(), true, "a".into()));

    ws.manifest("[steps.probe]\nuses = \"./probe.wasm\"\nallow = { read = [\".sluice/runs\"] }\n");
    let out = ws.sluice(SLUICE, &["validate"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("`.sluice/runs` would let the step read sluice's own state (.sluice/runs)"),
        "{}",
        out.stderr
    );
}

// --- Secrets at every sink -------------------------------------------------------------

/// Secrets reached `run.json` and SARIF raw through suppression annotations and
/// justifications, JSON object keys, media types, and numbers. Every sink is masked now,
/// lines of a multi-line secret included.
#[test]
fn secrets_never_reach_any_sink() {
    let ws = probe_ws();
    const TOKEN: &str = "tok-4f9a8b7c";
    const PIN: &str = "98765432";
    const KEY: &str =
        "-----BEGIN TEST KEY-----\nkeyline-one-aaaa\nkeyline-two-bbbb\n-----END TEST KEY-----";
    ws.file("secrets.env", format!("TOKEN={TOKEN}\nPIN={PIN}\n"));
    // Where the console's table (80 characters) and the finding message limit (4 KiB) cut,
    // right through a secret: not even its first part may be shown.
    let (pad72, pad4090) = ("s".repeat(72), "m".repeat(4090));
    ws.manifest(&format!(
        r##"[steps.probe]
uses = "./probe.wasm"
allow = {{ secrets = ["TOKEN", "PIN", "KEY"], write = ["out"] }}
with = {{ actions = [
  {{ op = "finding", rule = "R", message = "m", path = "x.go", line = 1, column = 1, annotation = "#nosec {TOKEN}", justification = "because {TOKEN}", tags = ["t-{TOKEN}"] }},
  {{ op = "json-output", json = '{{"k-{TOKEN}": [{PIN}, "{TOKEN}"], "n": {PIN}}}' }},
  {{ op = "artifact", name = "a.txt", contents = "artifact" }},
  {{ op = "summary", text = "pin {PIN} key keyline-two-bbbb" }},
  {{ op = "print", text = "stdout keyline-one-aaaa\r" }},
  {{ op = "log", text = "log {TOKEN}" }},
] }}

[steps.media]
uses = "./probe.wasm"
allow = {{ secrets = ["TOKEN"] }}
with = {{ actions = [
  {{ op = "artifact", name = "m.txt", contents = "m" }},
  {{ op = "artifact-at", path = "/outputs/m.txt", media_type = "text/{TOKEN}" }},
  {{ op = "summary", text = "{pad72}{TOKEN}" }},
  {{ op = "finding", rule = "R", message = "{pad4090}{TOKEN}" }},
] }}

[steps.number]
uses = "./probe.wasm"
allow = {{ secrets = ["PIN"] }}
with = {{ actions = [{{ op = "integer-output", value = {PIN} }}] }}
"##
    ));
    let out = ws
        .command(SLUICE, &["run", "--secrets-file", "secrets.env"])
        .env("KEY", KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let json = ws
        .command(SLUICE, &["run", "--json", "--secrets-file", "secrets.env"])
        .env("KEY", KEY)
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&json.stdout).into_owned();
    let records = ws.all_records();
    let stored = ws.all_stored();
    for secret in [&TOKEN[..6], PIN, "keyline-one-aaaa", "keyline-two-bbbb"] {
        for (name, text) in [
            ("stdout", &stdout),
            ("stderr", &stderr),
            ("--json", &json),
            ("record", &records),
            ("store (SARIF logs, artifacts)", &stored),
        ] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {name}:\n{text}"
            );
        }
    }
    let run = ws.last_run();
    let probe = step(&run, "probe");
    assert_eq!(
        probe["findings"][0]["suppression"]["annotation"],
        "#nosec ***"
    );
    assert_eq!(
        probe["outputs"]["json"]["value"],
        r#"{"k-***":["***","***"],"n":"***"}"#
    );
    assert_eq!(
        step(&run, "media")["outputs"]["artifact"]["value"]["media_type"],
        "text/***"
    );
    assert_eq!(
        step(&run, "number")["error"],
        "output `number` holds the value of a secret; secrets never flow into other steps' inputs"
    );
    let sarif = stored_sarif(&ws, &run, "probe");
    assert_eq!(
        sarif["runs"][0]["results"][0]["suppressions"][0]["justification"],
        "because ***"
    );
}

// --- Exhaustion and hangs --------------------------------------------------------------

/// Floods from a 64 MiB guest: 1000 × 1 MiB `log()`, a million `progress()`, two million
/// denied `secret()`, 24 MiB of stdout. The host stays small, the logs bounded, and each
/// log says what it cut.
#[test]
fn floods_are_bounded_per_step() {
    let ws = probe_ws();
    ws.manifest(
        r#"[pipeline]
memory = "64MiB"

[steps.logs]
uses = "./probe.wasm"
with = { actions = [{ op = "flood-log", count = 1000, bytes = 1048576 }] }

[steps.progress]
uses = "./probe.wasm"
with = { actions = [{ op = "flood-progress", count = 1000000 }] }

[steps.secrets]
uses = "./probe.wasm"
with = { actions = [{ op = "flood-secret", count = 2000000 }] }

[steps.stdout]
uses = "./probe.wasm"
with = { actions = [{ op = "flood-print", bytes = 25165824 }] }
"#,
    );
    let (code, rss_kib, took) = ws.run_measuring(SLUICE, &["run"]);
    eprintln!("floods: host peak RSS {} MiB, {took:?}", rss_kib / 1024);
    assert_eq!(code, 0);
    assert!(rss_kib < 300 * 1024, "host peak RSS {} MiB", rss_kib / 1024);
    let run = ws.last_run();
    for id in ["logs", "progress", "secrets", "stdout"] {
        assert_eq!(step(&run, id)["status"], "passed", "{id}");
    }
    let logs = ws.dir().join(format!(
        ".sluice/runs/{}/logs",
        run["run_id"].as_str().unwrap()
    ));
    for id in ["logs", "secrets", "stdout"] {
        let size = std::fs::metadata(logs.join(format!("{id}.log")))
            .unwrap()
            .len();
        assert!(size < 9 << 20, "{id}.log is {size} bytes");
    }
    let log = |id: &str| std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
    assert!(log("logs").contains("log cut: the step's log reached the limit of 8 MiB per step;"));
    assert!(log("logs").contains("more bytes cut from this line)"));
    assert!(log("stdout").contains("log cut: the step's log reached the limit of 8 MiB per step;"));
    assert!(
        log("secrets")
            .contains("1999995 more denied host calls were not logged (at most 5 are, per step)")
    );
    assert_eq!(
        log("secrets")
            .matches("denied: the step asked for secret")
            .count(),
        5
    );
}

/// A 4 GiB sparse file returned as an artifact was copied whole into the store; now the
/// artifact limit refuses it before a byte is read, and storing stops at the deadline.
#[test]
fn artifacts_are_bounded_in_size_and_time() {
    let ws = probe_ws();
    ws.manifest(
        r#"[steps.big]
uses = "./probe.wasm"
with = { actions = [
  { op = "sparse", path = "/outputs/big", bytes = 4294967296 },
  { op = "artifact-at", path = "/outputs/big" },
] }

[steps.slow]
uses = "./probe.wasm"
timeout = "1s"
artifact-limit = "64GiB"
with = { actions = [
  { op = "sparse", path = "/outputs/huge", bytes = 34359738368 },
  { op = "artifact-at", path = "/outputs/huge" },
] }
"#,
    );
    let (code, rss_kib, took) = ws.run_measuring(SLUICE, &["run"]);
    eprintln!("artifacts: host peak RSS {} MiB, {took:?}", rss_kib / 1024);
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let run = ws.last_run();
    assert_eq!(
        step(&run, "big")["error"],
        "output `artifact`: the step's artifacts come to more than its artifact limit of 1GiB (this one is 4GiB); raise it with `artifact-limit = \"…\"` on the step or in [pipeline]"
    );
    assert_eq!(
        step(&run, "slow")["error"],
        "timed out after 1s (the step's timeout) while storing output `artifact`"
    );
    let store = ws.dir().join(".sluice/store/sha256");
    for e in std::fs::read_dir(store).unwrap() {
        let e = e.unwrap();
        assert!(
            e.metadata().unwrap().len() < 1 << 20,
            "{:?} stayed in the store",
            e.file_name()
        );
    }
}

/// `digest()` of a 12 GiB sparse file ran 33 s past a 1 s timeout; host calls now stop at
/// the deadline.
#[test]
fn a_host_call_stops_at_the_deadline() {
    let ws = probe_ws();
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
timeout = "1s"
with = { actions = [
  { op = "sparse", path = "/outputs/huge", bytes = 12884901888 },
  { op = "digest", path = "/outputs/huge" },
] }
"#,
    );
    let (code, _, took) = ws.run_measuring(SLUICE, &["run"]);
    eprintln!("digest of 12 GiB with a 1s timeout: stopped after {took:?}");
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(
        step(&ws.last_run(), "probe")["error"],
        "timed out after 1s (the step's timeout)"
    );
}

/// A FIFO in a read grant blocked the worker for good: neither the timeout nor Ctrl-C
/// acted. Now the watchdog interrupts the blocked read at the deadline, and Ctrl-C stops it
/// too.
#[test]
fn a_step_blocked_on_a_fifo_is_stopped_by_its_timeout_and_by_ctrl_c() {
    let ws = probe_ws();
    ws.fifo("granted/fifo");
    ws.manifest(
        "[steps.probe]\nuses = \"./probe.wasm\"\ntimeout = \"1s\"\nallow = { read = [\"granted\"] }\nwith = { actions = [{ op = \"read\", path = \"/workspace/granted/fifo\" }] }\n",
    );
    let (code, _, took) = ws.run_measuring(SLUICE, &["run"]);
    eprintln!("FIFO read with a 1s timeout: stopped after {took:?}");
    assert_eq!(code, 1);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(
        step(&ws.last_run(), "probe")["error"],
        "timed out after 1s (the step's timeout)"
    );

    ws.manifest(
        "[steps.probe]\nuses = \"./probe.wasm\"\ntimeout = \"5m\"\nallow = { read = [\"granted\"] }\nwith = { actions = [{ op = \"read\", path = \"/workspace/granted/fifo\" }] }\n",
    );
    let child = ws
        .command(SLUICE, &["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    // SAFETY: our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "Ctrl-C of a step blocked on a FIFO: exited after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "Ctrl-C took {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
}

/// `uses` naming a symlink to `/dev/zero` ran validation out of memory, and a FIFO hung it.
#[test]
fn uses_must_name_a_regular_file() {
    let ws = Workspace::new();
    ws.symlink("/dev/zero", "zero.wasm").fifo("fifo.wasm");
    ws.manifest("[steps.zero]\nuses = \"./zero.wasm\"\n\n[steps.fifo]\nuses = \"./fifo.wasm\"\n");
    let (code, rss_kib, took) = ws.run_measuring(SLUICE, &["validate"]);
    eprintln!(
        "uses /dev/zero and a FIFO: validate took {took:?}, peak RSS {} MiB",
        rss_kib / 1024
    );
    assert_eq!(code, 2);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(rss_kib < 300 * 1024, "peak RSS {} MiB", rss_kib / 1024);
    let out = ws.sluice(SLUICE, &["validate"]);
    assert!(
        out.stderr
            .contains("cannot read plugin `./zero.wasm`: not a regular file"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("cannot read plugin `./fifo.wasm`: not a regular file"),
        "{}",
        out.stderr
    );
}

// --- The console -------------------------------------------------------------------------

/// Step text reached the terminal raw: screen clears, OSC 52 clipboard writes, and newlines
/// forging sluice's own lines. Now control characters are shown escaped and continuation
/// lines are marked.
#[test]
fn step_text_cannot_drive_the_terminal_or_forge_lines() {
    let ws = probe_ws();
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
with = { actions = [
  { op = "log", text = "\u001b[2Jcleared\n[deploy] passed in 3ms" },
  { op = "finding", rule = "R\u001b]8;;http://x\u0007", message = "copy \u001b]52;c;aGk=\u0007 done", path = "a\rb.go", line = 1, column = 1 },
  { op = "summary", text = "ok\r[deploy] passed in 3ms" },
] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\r'),
            "{name}: {text:?}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("[deploy]")),
            "{name} has a forged line: {text}"
        );
    }
    let stderr: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("[probe] info") || l.starts_with("[probe]     |"))
        .collect();
    assert_eq!(
        stderr,
        [
            "[probe] info: \\e[2Jcleared",
            "[probe]     | [deploy] passed in 3ms"
        ]
    );
    assert!(
        out.stdout
            .contains("a\\rb.go:1:1  warning  R\\e]8;;http://x\\x07  copy \\e]52;c;aGk=\\x07 done"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("ok\\r[deploy] passed in 3ms"),
        "{}",
        out.stdout
    );
}

/// A single writable file is a hard link: a step that replaces it instead of writing in place
/// changes nothing in the workspace, and its log says so rather than losing the change
/// silently.
#[test]
fn a_replaced_single_file_grant_is_reported() {
    let ws = probe_ws();
    ws.file("gen/out.txt", "old");
    ws.manifest(
        r#"[steps.probe]
uses = "./probe.wasm"
allow = { write = ["gen/out.txt"] }
with = { actions = [
  { op = "write", path = "/workspace/gen/out.txt.tmp", contents = "new" },
  { op = "rename", from = "/workspace/gen/out.txt.tmp", to = "/workspace/gen/out.txt" },
] }
"#,
    );
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(probe_report(&ws.last_run(), "probe").iter().all(|r| r.1));
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("gen/out.txt")).unwrap(),
        "old"
    );
    assert!(!ws.dir().join("gen/out.txt.tmp").exists());
    assert!(ws.all_records().contains(
        "warn: `gen/out.txt` was removed or replaced instead of written in place, so the workspace file is unchanged; grant its directory for writing to let the step replace it"
    ));
}
