//! The `exec` capability attacked from inside a real plugin (`tests/plugins/probe`), which is
//! granted a shell and tries to break every confinement rule of issue #10: filesystem,
//! network, processes, environment, privileges, limits. Each test is one rule.

use std::path::Path;
use std::time::{Duration, Instant};

use sluice_test_support::{Workspace, probe_report, run_ok, step};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn probe_ws() -> Workspace {
    let ws = Workspace::new();
    ws.with_probe();
    ws
}

/// A manifest with one probe step, `allow` and `extra` lines as given, whose actions are
/// `actions` (TOML inline tables).
fn manifest(allow: &str, extra: &str, actions: &[String]) -> String {
    format!(
        "[steps.probe]\nuses = \"./probe.wasm\"\nallow = {{ {allow} }}\n{extra}\nwith = {{ actions = [\n{}\n] }}\n",
        actions.join(",\n")
    )
}

/// An `exec` action running `sh -c script`.
fn sh(script: &str) -> String {
    format!(
        "{{ op = \"exec\", program = \"sh\", args = [\"-c\", {}] }}",
        toml_str(script)
    )
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Runs the workspace's pipeline and returns the probe's exec results, parsed.
fn run_execs(ws: &Workspace) -> Vec<serde_json::Value> {
    let out = ws.sluice(SLUICE, &["run"]);
    assert!(
        out.code == 0 || out.code == 1,
        "exit {}: {}",
        out.code,
        out.stderr
    );
    probe_report(&ws.last_run(), "probe")
        .into_iter()
        .map(|(op, ok, detail)| {
            assert_eq!(op, "exec");
            assert!(ok, "exec failed: {detail}");
            serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail))
        })
        .collect()
}

fn stdout(v: &serde_json::Value) -> &str {
    v["stdout"].as_str().unwrap_or_default()
}

/// Whether a process whose command line contains `needle` runs on the host.
fn host_process_with(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(needle)
            })
            .unwrap_or(false)
    })
}

fn wait_until_gone(needle: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if !host_process_with(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

// --- Filesystem ------------------------------------------------------------------------------

/// The child sees the step's grants at the same guest paths, read-only or writable as
/// granted, and nothing else: not the rest of the workspace, not `.sluice/`, not `$HOME`,
/// `/root`, the host's `/etc`, files outside the workspace, or other users' files.
#[test]
fn children_see_only_the_step_grants() {
    let ws = probe_ws();
    ws.file("src/main.go", "package main")
        .file("private/key", "top secret")
        .file("out/.keep", "");
    std::fs::write(ws.outside().join("outside.txt"), "outside").unwrap();
    // Another user's private file inside a granted directory.
    ws.file("src/theirs", "not yours");
    let theirs = ws.dir().join("src/theirs");
    std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
    std::fs::set_permissions(&theirs, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let outside = ws.outside().join("outside.txt");
    let checks = [
        "ls /workspace".to_string(),
        "cat /workspace/src/main.go".into(),
        "echo new > /workspace/out/made && cat /workspace/out/made".into(),
        "echo pwned > /workspace/src/main.go".into(),
        "cat /workspace/private/key".into(),
        "ls /workspace/.sluice".into(),
        format!("cat {}", outside.display()),
        format!("ls {}", ws.dir().display()),
        "ls /root".into(),
        "cat /etc/shadow".into(),
        "cat /workspace/src/theirs".into(),
        "mount -o remount,rw /workspace/src".into(),
        "mkdir /usr/pwned".into(),
        "echo pwned > /etc/passwd".into(),
        "pwd".into(),
    ];
    let actions: Vec<String> = checks.iter().map(|c| sh(c)).collect();
    ws.manifest(&manifest(
        r#"read = ["src"], write = ["out"], exec = ["sh"]"#,
        "",
        &actions,
    ));
    let results = run_execs(&ws);
    let codes: Vec<i64> = results
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    let expect_ok = [
        true, true, true, false, false, false, false, false, false, false, false, false, false,
        false, true,
    ];
    for ((check, code), ok) in checks.iter().zip(&codes).zip(expect_ok) {
        assert_eq!(*code == 0, ok, "`{check}` exited {code}: {results:?}");
    }
    assert_eq!(stdout(&results[0]), "out\nsrc\n");
    assert_eq!(stdout(&results[1]), "package main");
    assert_eq!(stdout(&results[14]), "/workspace\n");
    assert!(
        results[3]["stderr"]
            .as_str()
            .unwrap()
            .contains("Read-only file system"),
        "{results:?}"
    );
    assert!(
        results[10]["stderr"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{results:?}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("src/main.go")).unwrap(),
        "package main"
    );
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("out/made")).unwrap(),
        "new\n"
    );
}

// --- Network ---------------------------------------------------------------------------------

/// No network: a listener on the host's loopback is unreachable, name lookup fails (only
/// `localhost` resolves, from the child's own `/etc/hosts`), and loopback inside works.
#[test]
fn children_have_no_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = probe_ws();
    let actions = [
        format!(
            "{{ op = \"exec\", program = \"bash\", args = [\"-c\", \"echo hi > /dev/tcp/127.0.0.1/{port}\"] }}"
        ),
        sh("getent hosts example.com"),
        sh("getent hosts localhost"),
        sh("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '"),
    ];
    ws.manifest(&manifest(r#"exec = ["sh", "bash"]"#, "", &actions));
    let results = run_execs(&ws);
    assert_ne!(results[0]["code"], 0, "{results:?}");
    assert!(
        stdout(&results[0]).is_empty()
            && results[0]["stderr"]
                .as_str()
                .unwrap()
                .contains("Connection refused"),
        "{results:?}"
    );
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the host listener was reached"
    );
    assert_ne!(results[1]["code"], 0, "{results:?}");
    assert_eq!(results[2]["code"], 0, "{results:?}");
    assert_eq!(stdout(&results[3]), "lo\n", "{results:?}");
}

// --- Processes -------------------------------------------------------------------------------

/// Its own PID namespace: host processes are invisible and cannot be signalled.
#[test]
fn host_processes_are_invisible_and_unsignalable() {
    let mut victim = std::process::Command::new("sleep")
        .arg("976431")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = victim.id();
    let ws = probe_ws();
    let actions = [
        sh("ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '"),
        sh(&format!("kill -9 {pid}")),
        sh(&format!("kill -9 {}", std::process::id())),
    ];
    ws.manifest(&manifest(r#"exec = ["sh"]"#, "", &actions));
    let results = run_execs(&ws);
    // init (1), the shell (2) and its `ls` pipeline: nothing of the host's.
    let pids: Vec<u32> = stdout(&results[0])
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(pids.iter().all(|&p| p < 10), "{pids:?}");
    assert_ne!(results[1]["code"], 0, "{results:?}");
    assert_ne!(results[2]["code"], 0, "{results:?}");
    assert!(
        victim.try_wait().unwrap().is_none(),
        "the host process was killed"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
}

/// Every descendant dies: when the program exits (a `sleep &` left behind), when the plugin
/// drops the child without waiting, and when the step times out.
#[test]
fn every_descendant_dies_with_the_step() {
    let ws = probe_ws();
    let actions = [
        sh("sleep 976432 & echo left behind"),
        "{ op = \"exec\", program = \"sh\", args = [\"-c\", \"sleep 976433\"], detach = true }"
            .to_string(),
    ];
    ws.manifest(&manifest(r#"exec = ["sh"]"#, "", &actions));
    let started = Instant::now();
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        wait_until_gone("sleep 976432"),
        "a background sleep survived"
    );
    assert!(wait_until_gone("sleep 976433"), "a dropped child survived");

    let ws = probe_ws();
    ws.manifest(&manifest(
        r#"exec = ["sh"]"#,
        "timeout = \"2s\"",
        &[sh("sleep 976434 & sleep 976435")],
    ));
    let started = Instant::now();
    let out = ws.sluice(SLUICE, &["run"]);
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let error = step(&ws.last_run(), "probe")["error"].to_string();
    assert!(error.contains("2s"), "{error}");
    eprintln!("the step's error: {error}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        wait_until_gone("sleep 976434"),
        "a sleep survived the timeout"
    );
    assert!(
        wait_until_gone("sleep 976435"),
        "the program survived the timeout"
    );
    eprintln!("a timed-out step with a sleeping child ended after {took:?}");
}

/// A fork bomb is held by the step's process limit and reported; the host is unaffected.
#[test]
fn a_fork_bomb_is_contained_and_reported() {
    let ws = probe_ws();
    ws.manifest(&manifest(
        r#"exec = ["sh"]"#,
        "timeout = \"60s\"",
        &[sh("f() { f | f; }; f")],
    ));
    let started = Instant::now();
    let results = run_execs(&ws);
    let limit = results[0]["limit"].as_str().unwrap_or_default();
    assert!(
        limit.starts_with("process limit (1024) reached"),
        "{results:?}"
    );
    eprintln!("fork bomb: {limit}, ended after {:?}", started.elapsed());
    let log = ws.all_records();
    assert!(
        log.contains("a program of this step hit a limit: process limit"),
        "{log}"
    );
}

// --- Environment -----------------------------------------------------------------------------

/// The environment is cleared: only the host's minimal variables, the step's `env` and what
/// the plugin passes. A canary in sluice's own environment does not leak.
#[test]
fn the_environment_is_only_what_is_granted() {
    let ws = probe_ws();
    ws.manifest(&manifest(
        r#"exec = ["sh"]"#,
        "env = { GOFLAGS = \"-mod=vendor\" }",
        &["{ op = \"exec\", program = \"sh\", args = [\"-c\", \"env | sort\"], env = [[\"FROM_PLUGIN\", \"yes\"]] }".to_string()],
    ));
    run_ok(
        ws.command(SLUICE, &["run"])
            .env("SLUICE_CANARY", "canary-7f3a"),
    );
    let report = probe_report(&ws.last_run(), "probe");
    let result: serde_json::Value = serde_json::from_str(&report[0].2).unwrap();
    let names: Vec<&str> = stdout(&result)
        .lines()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "FROM_PLUGIN",
            "GOFLAGS",
            "HOME",
            "LANG",
            "PATH",
            "PWD",
            "SLUICE_CACHE",
            "TMPDIR",
            "XDG_CACHE_HOME"
        ],
        "{result}"
    );
    assert!(!stdout(&result).contains("canary-7f3a"));
    assert!(stdout(&result).contains("GOFLAGS=-mod=vendor\n"));
}

// --- Privileges ------------------------------------------------------------------------------

/// No capabilities, `no_new_privs`: a setuid binary does not elevate, mounts are refused.
#[test]
fn privileges_cannot_be_gained() {
    let ws = probe_ws();
    let actions = [
        sh("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status"),
        sh("ls -l /usr/bin/mount | cut -c1-10; mount -t tmpfs none /tmp"),
        sh("echo x > /proc/sys/kernel/hostname"),
    ];
    ws.manifest(&manifest(r#"exec = ["sh"]"#, "", &actions));
    let results = run_execs(&ws);
    assert_eq!(
        stdout(&results[0]),
        "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
    );
    assert_eq!(stdout(&results[1]), "-rwsr-xr-x\n", "mount is setuid root");
    assert_ne!(results[1]["code"], 0, "{results:?}");
    assert_ne!(results[2]["code"], 0, "{results:?}");
}

// --- Limits ----------------------------------------------------------------------------------

/// The step's memory limit holds its children too, and the kill is named.
#[test]
fn the_memory_limit_holds_children() {
    let ws = probe_ws();
    ws.manifest(&manifest(
        r#"exec = ["sh"]"#,
        "memory = \"128MiB\"",
        &[sh(
            "head -c 400000000 /dev/zero | tail -c 400000000 | wc -c",
        )],
    ));
    let results = run_execs(&ws);
    assert!(
        results[0]["limit"]
            .as_str()
            .unwrap_or_default()
            .starts_with("memory limit (128MiB) reached"),
        "{results:?}"
    );
    assert!(
        results[0]["peak_rss"].as_u64().unwrap() <= 140 << 20,
        "{results:?}"
    );
}

/// Output sent to the log is bounded by the step's log limit.
#[test]
fn child_output_is_bounded_and_masked_in_the_log() {
    let ws = probe_ws();
    ws.manifest(&manifest(
        r#"exec = ["sh"], secrets = ["TOKEN"]"#,
        "",
        &[
            "{ op = \"exec\", program = \"sh\", args = [\"-c\", \"echo token=$T; head -c 20000000 /dev/zero | tr '\\\\0' 'a' | fold -w 1000\"], env = [[\"T\", \"s3cr3t-value-42\"]], output = \"log\" }".to_string(),
        ],
    ));
    run_ok(ws.command(SLUICE, &["run"]).env("TOKEN", "s3cr3t-value-42"));
    let log = ws.all_records();
    assert!(log.contains("token=***"), "masked line missing");
    assert!(!log.contains("s3cr3t-value-42"));
    assert!(log.contains("log cut: the step's log reached the limit of 8 MiB"));
    assert!(log.len() < 12 << 20, "{} bytes of record", log.len());
}

// --- Grants ----------------------------------------------------------------------------------

/// A program that is not granted is denied, naming the grant that would allow it.
#[test]
fn ungranted_programs_are_denied_with_the_grant() {
    let ws = probe_ws();
    ws.manifest(&manifest(
        r#"exec = ["sh"]"#,
        "",
        &[
            "{ op = \"exec\", program = \"ls\" }".to_string(),
            "{ op = \"exec\", program = \"/usr/bin/ls\" }".to_string(),
        ],
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&ws.last_run(), "probe");
    insta::assert_snapshot!(
        "ungranted_program",
        format!("{}\n{}", report[0].2, report[1].2)
    );

    // Without any `exec` grant, too.
    ws.manifest(&manifest(
        "",
        "",
        &["{ op = \"exec\", program = \"sh\" }".to_string()],
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&ws.last_run(), "probe");
    insta::assert_snapshot!("no_exec_grant", report[0].2);
}

/// Programs are resolved when the pipeline is planned: a missing one is a located error
/// with how to install it; `sluice audit` shows each program's path and digest and the
/// confinement.
#[test]
fn programs_are_resolved_at_planning_and_audited() {
    let ws = probe_ws();
    ws.manifest(&manifest(r#"exec = ["go", "no-such-tool"]"#, "", &[]));
    let out = ws
        .command(SLUICE, &["validate"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    insta::assert_snapshot!("program_not_found", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2));
    ws.manifest(&manifest(r#"exec = ["rel/x"]"#, "", &[]));
    let out = ws.sluice(SLUICE, &["validate"]);
    insta::assert_snapshot!("program_name_invalid", out.stderr);
    assert_eq!(out.code, 2);

    ws.manifest(&manifest(r#"exec = ["sh"]"#, "", &[]));
    let out = ws.sluice(SLUICE, &["audit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sh_path = std::fs::canonicalize("/bin/sh").unwrap();
    let digest = {
        use sha2::Digest;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(std::fs::read(&sh_path).unwrap()))
        )
    };
    assert!(
        out.stdout
            .contains(&format!("exec     sh = {} {digest}", sh_path.display())),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("programs run confined: user, mount, PID, network")
    );
    let json = ws.sluice(SLUICE, &["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(audit["steps"][0]["exec"][0]["digest"], digest.as_str());
    assert_eq!(
        audit["steps"][0]["exec"][0]["path"],
        sh_path.display().to_string()
    );

    // And the run record.
    ws.manifest(&manifest(r#"exec = ["sh"]"#, "", &[sh("true")]));
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = ws.last_run();
    assert_eq!(
        step(&run, "probe")["grants"]["exec"][0]["digest"],
        digest.as_str()
    );
}

/// The plugin's stdin reaches the program; output can go to a file the step may write (and
/// not to one it may only read); the working directory is a guest path.
#[test]
fn stdin_cwd_and_output_files() {
    let ws = probe_ws();
    ws.file("src/a.txt", "A").file("out/.keep", "");
    let actions = [
        "{ op = \"exec\", program = \"sh\", args = [\"-c\", \"tr a-z A-Z\"], stdin = \"hello\" }".to_string(),
        "{ op = \"exec\", program = \"sh\", args = [\"-c\", \"cat a.txt; pwd\"], cwd = \"/workspace/src\" }".to_string(),
        "{ op = \"exec\", program = \"sh\", args = [\"-c\", \"echo to-file\"], output = \"/workspace/out/log.txt\" }".to_string(),
    ];
    ws.manifest(&manifest(
        r#"read = ["src"], write = ["out"], exec = ["sh"]"#,
        "",
        &actions,
    ));
    let results = run_execs(&ws);
    assert_eq!(stdout(&results[0]), "HELLO");
    assert_eq!(stdout(&results[1]), "A/workspace/src\n");
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("out/log.txt")).unwrap(),
        "to-file\n"
    );

    ws.manifest(&manifest(
        r#"read = ["src"], write = ["out"], exec = ["sh"]"#,
        "",
        &["{ op = \"exec\", program = \"sh\", args = [\"-c\", \"echo x\"], output = \"/workspace/src/a.txt\" }".to_string()],
    ));
    let out = ws.sluice(SLUICE, &["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = probe_report(&ws.last_run(), "probe");
    assert_eq!(
        report[0],
        (
            "exec".to_string(),
            false,
            "/workspace/src/a.txt: not writable by this step".to_string()
        )
    );
    assert_eq!(
        std::fs::read_to_string(ws.dir().join("src/a.txt")).unwrap(),
        "A"
    );
}

/// Where the kernel lacks a mechanism, `exec` is refused before anything runs, naming what is
/// missing: never an unconfined fallback. Run as an unprivileged user (`nobody`), who may not
/// create cgroups on this machine.
#[test]
fn exec_is_refused_where_a_mechanism_is_missing() {
    use std::os::unix::fs::PermissionsExt;
    if rustix::process::geteuid().as_raw() != 0 || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv to run sluice as nobody");
        return;
    }
    let ws = probe_ws();
    ws.manifest(&manifest(r#"exec = ["sh"]"#, "", &[sh("echo has-run-7c1")]));
    for dir in [ws.outside(), ws.dir()] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    for file in ["probe.wasm", "sluice.toml"] {
        std::fs::set_permissions(ws.dir().join(file), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    // The binary, where nobody can run it.
    let bin = ws.outside().join("sluice");
    std::fs::copy(SLUICE, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    for command in ["validate", "run"] {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&bin)
            .arg(command)
            .current_dir(ws.dir())
            .env("SLUICE_CACHE_DIR", ws.outside().join("cache"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("this machine cannot confine programs: no cgroup with memory and pids controllers can be created"),
            "{stderr}"
        );
        assert!(
            stderr.contains("sluice never runs a program unconfined"),
            "{stderr}"
        );
        assert!(!stderr.contains("has-run-7c1"), "{stderr}");
    }
}
