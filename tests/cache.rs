//! The step-result cache, end to end with the real binary and the probe plugin: what a
//! re-run replays, what invalidates a step (and how `--explain-cache` says so), what is never
//! cached, a missing artifact, concurrent runs, `kill -9` while entries are written, and
//! `sluice cache` / `gc`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use sha2::Digest;
use sluice_test_support::{Output, Workspace, kill_9_after, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// `a` reads `src/`, `b` reads `docs/`, `c` takes `a`'s artifact, `d` needs `b`, `e` has an
/// env value, a literal input and a secret.
const PIPELINE: &str = r#"[steps.a]
uses = "./probe.wasm"
allow = { read = ["src"] }
with = { actions = [{ op = "read", path = "/workspace/src/a.txt" }, { op = "artifact", name = "a.out", contents = "made by a" }, { op = "finding", rule = "R1", message = "a finding" }] }

[steps.b]
uses = "./probe.wasm"
allow = { read = ["docs"] }
with = { actions = [{ op = "read", path = "/workspace/docs/b.txt" }, { op = "log", text = "b read its docs" }] }

[steps.c]
uses = "./probe.wasm"
with = { in-artifact = "${{ steps.a.outputs.artifact }}", actions = [{ op = "read-input" }] }

[steps.d]
uses = "./probe.wasm"
needs = ["b"]
with = { actions = [{ op = "text", value = "d" }] }

[steps.e]
uses = "./probe.wasm"
env = { REGION = "eu" }
allow = { secrets = ["CACHE_TEST_TOKEN"] }
with = { in-text = "hello", actions = [{ op = "env", name = "REGION" }, { op = "text", value = "e says " }] }
"#;

/// An hour ago: files older than the racy window, so the stat index trusts them.
fn an_hour_ago() -> SystemTime {
    SystemTime::now() - Duration::from_secs(3600)
}

fn set_mtime(path: &Path, when: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.with_probe()
        .manifest(PIPELINE)
        .file("src/a.txt", "a's source")
        .file("src/other.txt", "more source")
        .file("docs/b.txt", "b's docs");
    for f in ["src/a.txt", "src/other.txt", "docs/b.txt"] {
        set_mtime(&ws.dir().join(f), an_hour_ago());
    }
    ws
}

fn run(ws: &Workspace, args: &[&str]) -> (Output, serde_json::Value) {
    let mut all = vec!["run", "--explain-cache"];
    all.extend_from_slice(args);
    let out = ws
        .command(SLUICE, &all)
        .env("CACHE_TEST_TOKEN", "token-one")
        .output()
        .unwrap();
    let out = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    (out, ws.last_run())
}

fn outcome(run: &serde_json::Value, id: &str) -> String {
    step(run, id)["cache"]["outcome"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

fn outcomes(run: &serde_json::Value) -> Vec<(String, String)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let id = s["id"].as_str().unwrap().to_string();
            let o = outcome(run, &id);
            (id, o)
        })
        .collect()
}

fn expect(run: &serde_json::Value, hits: &[&str], misses: &[&str]) {
    let mut want: Vec<(String, String)> = hits
        .iter()
        .map(|s| (s.to_string(), "hit".to_string()))
        .chain(misses.iter().map(|s| (s.to_string(), "miss".to_string())))
        .collect();
    want.sort();
    let mut got = outcomes(run);
    got.sort();
    assert_eq!(got, want);
}

/// The `--explain-cache` line of step `id`.
fn explained(out: &Output, id: &str) -> String {
    out.stdout
        .lines()
        .skip_while(|l| *l != "step cache:")
        .find(|l| l.trim_start().starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no explain line for {id}:\n{}", out.stdout))
        .to_string()
}

#[test]
fn an_unchanged_rerun_replays_every_step_with_the_same_outputs_and_timings() {
    let ws = workspace();
    let (_, first) = run(&ws, &[]);
    expect(&first, &[], &["a", "b", "c", "d", "e"]);
    let first_id = first["run_id"].as_str().unwrap().to_string();

    let (out, second) = run(&ws, &[]);
    expect(&second, &["a", "b", "c", "d", "e"], &[]);
    for id in ["a", "b", "c", "d", "e"] {
        let (was, is) = (step(&first, id), step(&second, id));
        assert_eq!(is["cache"]["from_run"], first_id.as_str(), "{id}");
        for field in [
            "status",
            "outputs",
            "findings",
            "summary",
            "duration_ms",
            "started_at",
        ] {
            assert_eq!(is[field], was[field], "{id}: {field} differs in the replay");
        }
    }
    // The replayed log is the one the step wrote.
    let second_id = second["run_id"].as_str().unwrap();
    let log = std::fs::read_to_string(
        ws.dir()
            .join(format!(".sluice/runs/{second_id}/logs/b.log")),
    )
    .unwrap();
    assert!(log.contains("b read its docs"), "{log}");
    // Downstream saw the same artifact: c's input is a's output, by digest.
    let a_made = &step(&first, "a")["outputs"]["artifact"]["value"]["digest"];
    assert!(a_made.is_string(), "{}", step(&first, "a"));
    assert_eq!(
        &step(&second, "c")["inputs"]["in-artifact"]["value"]["digest"],
        a_made
    );
    assert_eq!(
        &step(&first, "c")["inputs"]["in-artifact"]["value"]["digest"],
        a_made
    );
    // The console says where each replay came from, and the summary marks it.
    assert!(
        out.stderr
            .contains(&format!("[a] cached from run {first_id}: passed")),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("passed (cached)"), "{}", out.stdout);
    assert!(
        explained(&out, "a").contains(&format!("nothing changed since run {first_id}")),
        "{}",
        out.stdout
    );
}

#[test]
fn touching_a_granted_file_reruns_exactly_its_readers_and_their_dependants() {
    let ws = workspace();
    run(&ws, &[]);
    ws.file("src/a.txt", "a's source, edited");
    let (out, again) = run(&ws, &[]);
    // a reads src/, c takes a's artifact: both run. b, d and e replay.
    expect(&again, &["b", "d", "e"], &["a", "c"]);
    let a = explained(&out, "a");
    assert!(
        a.contains("the content of `src` changed (changed: src/a.txt)"),
        "{a}"
    );
    // c's input is the same artifact (a made the same bytes), but its upstream step ran
    // under a new key, so c runs too.
    let c = explained(&out, "c");
    assert!(c.contains("upstream step `a` changed"), "{c}");

    // docs/ now: b and d run, the rest replays.
    ws.file("docs/b.txt", "new docs");
    let (_, third) = run(&ws, &[]);
    expect(&third, &["a", "c", "e"], &["b", "d"]);
}

#[test]
fn an_identical_rewrite_with_a_new_mtime_is_rehashed_and_still_hits() {
    let ws = workspace();
    // Past the racy window of the files' ctime (changed by setting their mtime), so that the
    // index trusts them from the first run on.
    let racy = Duration::from_millis(2100);
    std::thread::sleep(racy);
    run(&ws, &[]);
    let path = ws.dir().join("src/a.txt");
    std::fs::write(&path, "a's source").unwrap();
    set_mtime(&path, an_hour_ago() + Duration::from_secs(60));
    let (out, again) = run(&ws, &[]);
    expect(&again, &["a", "b", "c", "d", "e"], &[]);
    let a = explained(&out, "a");
    assert!(
        a.contains("(re-hashed 1 file: src/a.txt, same content)"),
        "{a}"
    );
    // It was hashed within the racy window of its change, so the next run hashes it once
    // more; from then on the index trusts its new stat and nothing is re-hashed.
    std::thread::sleep(racy);
    run(&ws, &[]);
    let (out, _) = run(&ws, &[]);
    assert!(
        !explained(&out, "a").contains("re-hashed"),
        "{}",
        out.stdout
    );
}

#[test]
fn with_inputs_plugin_env_and_secrets_each_invalidate_and_are_named() {
    let ws = workspace();
    run(&ws, &[]);

    // `with` (configuration); a literal input (with d back as it was: its first entry
    // replays); an env value.
    let cases: [(&str, &str, &[&str], &str, &str); 3] = [
        (
            r#"{ op = "text", value = "d" }"#,
            r#"{ op = "text", value = "D" }"#,
            &["d"],
            "d",
            "its `with` configuration changed",
        ),
        (
            r#"in-text = "hello""#,
            r#"in-text = "bonjour""#,
            &["e"],
            "e",
            "input `in-text` changed",
        ),
        (
            r#"REGION = "eu""#,
            r#"REGION = "us""#,
            &["e"],
            "e",
            "env `REGION` changed",
        ),
    ];
    for (from, to, misses, id, said) in cases {
        ws.manifest(&PIPELINE.replace(from, to));
        let (out, r) = run(&ws, &[]);
        let hits: Vec<&str> = ["a", "b", "c", "d", "e"]
            .into_iter()
            .filter(|s| !misses.contains(s))
            .collect();
        expect(&r, &hits, misses);
        assert!(explained(&out, id).contains(said), "{}", out.stdout);
    }

    // A secret's value: only its keyed hash is in the key; the value is nowhere in the cache.
    let out = ws
        .command(SLUICE, &["run", "--explain-cache"])
        .env("CACHE_TEST_TOKEN", "token-two-0451")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    expect(&ws.last_run(), &["a", "b", "c", "d"], &["e"]);
    assert!(
        stdout.contains("secret `CACHE_TEST_TOKEN` changed"),
        "{stdout}"
    );
    let mut stored = Vec::new();
    for e in std::fs::read_dir(ws.dir().join(".sluice/cache/results")).unwrap() {
        stored.extend(std::fs::read(e.unwrap().path()).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(!stored.contains("token-two-0451") && !stored.contains("token-one"));

    // The plugin: the same component with a custom section appended has another digest.
    let mut wasm = std::fs::read(ws.dir().join("probe.wasm")).unwrap();
    let name = b"sluice-test";
    let body_len = 1 + name.len() + 4;
    wasm.extend_from_slice(&[0, body_len as u8, name.len() as u8]);
    wasm.extend_from_slice(name);
    wasm.extend_from_slice(b"v2!!");
    std::fs::write(ws.dir().join("probe2.wasm"), wasm).unwrap();
    ws.manifest(&PIPELINE.replace(
        "[steps.b]\nuses = \"./probe.wasm\"",
        "[steps.b]\nuses = \"./probe2.wasm\"",
    ));
    let (out, r) = run(&ws, &[]);
    // d needs b: it runs again too. e is back to its first secret: its first entry replays.
    expect(&r, &["a", "c", "e"], &["b", "d"]);
    assert!(
        explained(&out, "b").contains("the plugin changed ("),
        "{}",
        out.stdout
    );
    assert!(
        explained(&out, "d").contains("upstream step `b` changed"),
        "{}",
        out.stdout
    );
}

#[test]
fn net_and_write_steps_cache_false_and_no_step_cache_always_run() {
    let ws = Workspace::new();
    ws.with_probe().manifest(
        r#"[steps.net]
uses = "./probe.wasm"
allow = { net = ["http://127.0.0.1:9"] }
with = { actions = [{ op = "text", value = "n" }] }

[steps.writes]
uses = "./probe.wasm"
allow = { write = ["out"] }
with = { actions = [{ op = "write", path = "/workspace/out/x", contents = "x" }] }

[steps.off]
uses = "./probe.wasm"
cache = false
with = { actions = [{ op = "text", value = "o" }] }

[steps.plain]
uses = "./probe.wasm"
with = { actions = [{ op = "text", value = "p" }] }
"#,
    );
    run(&ws, &[]);
    let (out, r) = run(&ws, &[]);
    assert_eq!(outcome(&r, "net"), "off");
    assert_eq!(outcome(&r, "writes"), "off");
    assert_eq!(outcome(&r, "off"), "off");
    assert_eq!(outcome(&r, "plain"), "hit");
    assert!(
        explained(&out, "net").contains("it has a `net` grant"),
        "{}",
        out.stdout
    );
    assert!(
        explained(&out, "writes").contains("it may write to the workspace"),
        "{}",
        out.stdout
    );
    assert!(
        explained(&out, "off").contains("`cache = false` on the step"),
        "{}",
        out.stdout
    );
    for id in ["net", "writes", "off"] {
        assert!(
            step(&r, id)["cache"]["from_run"].is_null(),
            "{id} was replayed"
        );
    }

    let (out, r) = run(&ws, &["--no-step-cache"]);
    for (id, o) in outcomes(&r) {
        assert_eq!(o, "off", "{id}");
    }
    assert!(
        explained(&out, "plain").contains("--no-step-cache"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_plugin_that_reads_the_run_identity_or_says_so_is_never_replayed_and_its_reason_is_bounded() {
    let ws = Workspace::new();
    let long = "y".repeat(5000);
    ws.with_probe().manifest(&format!(
        r#"[steps.identity]
uses = "./probe.wasm"
with = {{ actions = [{{ op = "run-info" }}] }}

[steps.says]
uses = "./probe.wasm"
allow = {{ secrets = ["CACHE_TEST_TOKEN"] }}
with = {{ actions = [{{ op = "uncacheable", reason = "clock \u001b[2J token-one {long}" }}] }}
"#
    ));
    run(&ws, &[]);
    let (out, again) = run(&ws, &[]);
    for id in ["identity", "says"] {
        assert_eq!(outcome(&again, id), "miss", "{id} was replayed");
    }
    let identity = explained(&out, "identity");
    assert!(
        identity.contains("not recorded: it asked for the run's identity (run-info)"),
        "{identity}"
    );
    // The plugin's reason: its secret masked, its escape shown, cut at 200 bytes.
    let says = explained(&out, "says");
    assert!(
        says.contains("not recorded: the plugin said: clock \\e[2J ***"),
        "{says}"
    );
    assert!(
        !says.contains("token-one") && !says.contains('\u{1b}'),
        "{says}"
    );
    assert!(says.len() < 600, "{} bytes: {says}", says.len());
    assert!(
        !std::fs::read_dir(ws.dir().join(".sluice/cache/results"))
            .map(|d| d.count() > 0)
            .unwrap_or(false),
        "an uncacheable result was recorded"
    );
}

#[test]
fn a_file_changed_while_its_reader_ran_keeps_that_result_out_of_the_cache() {
    let ws = Workspace::new();
    ws.with_probe().file("src/a.txt", "before").manifest(
        r#"[steps.slow]
uses = "./probe.wasm"
allow = { read = ["src"] }
with = { actions = [{ op = "sleep", ms = 3000 }, { op = "read", path = "/workspace/src/a.txt" }] }
"#,
    );
    let child = ws
        .command(SLUICE, &["run", "--explain-cache"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Well after the key was computed (at the step's start), well before it reads.
    std::thread::sleep(Duration::from_millis(1200));
    ws.file("src/a.txt", "after, edited while the step ran");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("not recorded: `src` changed while it ran"),
        "{stdout}"
    );
    // Nothing was recorded under the key of the content it started with.
    ws.file("src/a.txt", "before");
    let (_, again) = run(&ws, &[]);
    assert_eq!(outcome(&again, "slow"), "miss");
}

#[test]
fn a_result_whose_artifact_left_the_store_is_a_miss_and_runs_again() {
    let ws = workspace();
    let (_, first) = run(&ws, &[]);
    let blob = ws.stored(&first, "a", "artifact");
    let mut perms = std::fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&blob, perms).unwrap();
    std::fs::remove_file(&blob).unwrap();

    let (out, again) = run(&ws, &[]);
    // c replays: its input is the artifact a makes again, by digest, and a's key is the same.
    expect(&again, &["b", "c", "d", "e"], &["a"]);
    assert!(
        explained(&out, "a").contains("the artifact of output `artifact`"),
        "{}",
        out.stdout
    );
    assert!(blob.exists(), "the re-run stored the artifact again");
    assert_eq!(step(&again, "c")["status"], "passed");
}

/// Every entry under `results/` is whole: its first line is the SHA-256 of the rest.
fn check_entries(ws: &Workspace, when: &str) -> usize {
    let Ok(dir) = std::fs::read_dir(ws.dir().join(".sluice/cache/results")) else {
        return 0;
    };
    let mut n = 0;
    for e in dir {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            continue; // a dead writer's temporary file: never read
        }
        let bytes = std::fs::read(e.path()).unwrap();
        assert!(
            bytes.len() > 65 && bytes[64] == b'\n',
            "{when}: {name} is torn"
        );
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes[65..])).as_bytes(),
            &bytes[..64],
            "{when}: {name} is torn"
        );
        n += 1;
    }
    n
}

fn many_steps(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[steps.s{i:02}]\nuses = \"./probe.wasm\"\nallow = {{ read = [\"src\"] }}\nwith = {{ actions = [{{ op = \"sleep\", ms = 15 }}, {{ op = \"artifact\", name = \"out{i}\", contents = \"{}\" }}, {{ op = \"finding\", rule = \"R{i}\", message = \"m\" }}, {{ op = \"log\", text = \"step {i}\" }}] }}\n\n",
                "x".repeat(i * 100)
            )
        })
        .collect()
}

#[test]
fn two_runs_at_once_in_one_workspace_leave_a_valid_cache() {
    let ws = Workspace::new();
    ws.with_probe().manifest(&many_steps(12)).file("src/f", "f");
    let spawn = || {
        ws.command(SLUICE, &["run", "-j", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn(), spawn());
    for child in [one, two] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(check_entries(&ws, "after two runs"), 12);
    let (_, r) = run(&ws, &[]);
    for (id, o) in outcomes(&r) {
        assert_eq!(o, "hit", "{id}");
    }
    // Both runs are remembered for gc.
    assert_eq!(
        std::fs::read_dir(ws.dir().join(".sluice/cache/runs"))
            .unwrap()
            .count(),
        3
    );
}

#[test]
fn kill_9_while_results_are_recorded_leaves_a_cache_a_later_run_trusts() {
    let ws = Workspace::new();
    ws.with_probe().manifest(&many_steps(30)).file("src/f", "f");
    let mut seed: u64 = 0x00c0_ffee_1234_5678;
    let mut killed_mid_run = 0;
    for round in 0..12 {
        // Each round starts from an empty cache, so that every run writes entries and the
        // kill lands among those writes (the last round's leftovers are what the final run
        // trusts).
        let _ = std::fs::remove_dir_all(ws.dir().join(".sluice/cache/results"));
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(30 + (seed >> 33) % 400);
        if kill_9_after(&mut ws.command(SLUICE, &["run", "-j", "2"]), delay) {
            killed_mid_run += 1;
        }
        check_entries(&ws, &format!("round {round}"));
    }
    assert!(
        killed_mid_run >= 8,
        "only {killed_mid_run} of 12 kills hit a running sluice"
    );

    let (_, after) = run(&ws, &["-j", "2"]);
    for i in 0..30 {
        assert_eq!(step(&after, &format!("s{i:02}"))["status"], "passed");
    }
    assert_eq!(check_entries(&ws, "after the kills"), 30);
    let (_, again) = run(&ws, &[]);
    for (id, o) in outcomes(&again) {
        assert_eq!(o, "hit", "{id}");
    }
}

#[test]
fn cache_reports_its_size_and_gc_keeps_what_recent_runs_used() {
    let ws = workspace();
    run(&ws, &[]);
    ws.file("src/a.txt", "changed once");
    run(&ws, &[]);
    ws.file("src/a.txt", "changed twice");
    run(&ws, &[]);

    let show = ws.sluice(SLUICE, &["cache", "--json"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let usage: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    // a and c have three entries each, b, d and e one.
    assert_eq!(usage["entries"], 9, "{usage}");
    assert_eq!(usage["runs"], 3, "{usage}");

    let gc = ws.sluice(SLUICE, &["cache", "gc", "--keep-runs", "1", "--json"]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    let gc: serde_json::Value = serde_json::from_str(&gc.stdout).unwrap();
    assert_eq!(gc["after"]["entries"], 5, "{gc}");
    assert_eq!(gc["after"]["runs"], 1, "{gc}");
    // What the last run used still replays.
    let (_, r) = run(&ws, &[]);
    expect(&r, &["a", "b", "c", "d", "e"], &[]);

    // A size bound of nothing removes every entry and the artifacts only they needed.
    let gc = ws.sluice(SLUICE, &["cache", "gc", "--max-size", "1B"]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    let (_, r) = run(&ws, &[]);
    expect(&r, &[], &["a", "b", "c", "d", "e"]);

    let bad = ws.sluice(SLUICE, &["cache", "gc"]);
    insta::assert_snapshot!("cache_gc_without_a_policy", bad.stderr);
    let text = ws.sluice(SLUICE, &["cache"]);
    let text = text.stdout.replace(&ws.dir().display().to_string(), "[ws]");
    let filters = vec![
        (r"\(\d+(\.\d+)? ?[kKMG]?i?B\)", "([size])"),
        (r"compiled components: .*", "compiled components: [dir]"),
    ];
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!("cache_usage", text);
    });
}

#[test]
fn explain_cache_output() {
    let ws = workspace();
    run(&ws, &[]);
    ws.file("src/a.txt", "edited");
    ws.manifest(&PIPELINE.replace(r#"REGION = "eu""#, r#"REGION = "us""#));
    let (out, _) = run(&ws, &[]);
    let block: String = out
        .stdout
        .lines()
        .skip_while(|l| *l != "step cache:")
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    // Files hashed within the racy window of their change are re-hashed (same content):
    // whether that happens depends on the machine's speed.
    let filters = vec![
        (r"\d{8}T\d{9}Z-[0-9a-f]{4}", "[run]"),
        (r" \(re-hashed [^)]*\)", ""),
    ];
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!("explain_cache", block);
    });
}
