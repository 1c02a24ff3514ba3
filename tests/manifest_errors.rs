//! The exact messages `sluice validate` prints for broken manifests, one snapshot per case
//! (`tests/snapshots/manifest_errors__<case>.snap`).

use sluice_test_support::{NOT_A_STEP, Workspace};

const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

fn validate(ws: &Workspace) -> String {
    let out = ws.sluice(SLUICE, &["validate"]);
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code, out.stdout, out.stderr
    )
}

macro_rules! case {
    ($name:ident, $manifest:expr) => {
        case!($name, $manifest, |_ws: &Workspace| {});
    };
    ($name:ident, $manifest:expr, $setup:expr) => {
        #[test]
        fn $name() {
            let ws = Workspace::new();
            ws.with_probe();
            ws.file("go.mod", "module example.com/x\n\ngo 1.21\n");
            let setup: &dyn Fn(&Workspace) = &$setup;
            setup(&ws);
            ws.manifest($manifest);
            insta::assert_snapshot!(validate(&ws));
        }
    };
}

case!(
    toml_syntax_error,
    "[steps.mod]\nuses = \"go-mod\nallow = { read = [\".\"] }\n"
);

case!(
    duplicate_step_id,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\".\"] }\n\n[steps.mod]\nuses = \"go-mod\"\n"
);

case!(
    unknown_key_in_step,
    "[steps.mod]\nusez = \"go-mod\"\nallow = { read = [\".\"] }\n"
);

case!(
    unknown_key_in_allow,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { reads = [\".\"] }\n"
);

case!(
    unknown_top_level_key,
    "[pipline]\nname = \"x\"\n\n[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\".\"] }\n"
);

case!(
    bad_step_id,
    "[steps.Build_API]\nuses = \"go-mod\"\nallow = { read = [\".\"] }\n"
);

case!(missing_uses, "[steps.mod]\nallow = { read = [\".\"] }\n");

case!(no_steps, "[pipeline]\nname = \"empty\"\n");

case!(
    unknown_builtin_plugin,
    "[steps.mod]\nuses = \"go-mdo\"\nallow = { read = [\".\"] }\n"
);

case!(
    missing_plugin_file,
    "[steps.lint]\nuses = \"./plugins/lint.wasm\"\n"
);

case!(
    oci_plugin_reference,
    "[steps.lint]\nuses = \"oci://ghcr.io/acme/lint@sha256:0123\"\n"
);

case!(
    corrupt_plugin,
    "[steps.broken]\nuses = \"./corrupt.wasm\"\n",
    |ws: &Workspace| {
        ws.file("corrupt.wasm", b"\0asm\x0d\0\x01\0this is not a component");
    }
);

case!(
    plugin_of_the_wrong_world,
    "[steps.cmd]\nuses = \"./command.wasm\"\n",
    |ws: &Workspace| {
        std::fs::copy(NOT_A_STEP, ws.dir().join("command.wasm")).unwrap();
    }
);

case!(
    path_escaping_the_workspace,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\"../other-project\"] }\n"
);

case!(
    absolute_path,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\"/etc\"] }\n"
);

case!(
    grant_that_does_not_exist,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\"src\"] }\n"
);

case!(
    grant_escaping_through_a_symlink,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\"vendor\"] }\n",
    |ws: &Workspace| {
        std::os::unix::fs::symlink("/usr", ws.dir().join("vendor")).unwrap();
    }
);

case!(
    needs_an_unknown_step,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\".\"] }\n\n[steps.build]\nuses = \"./probe.wasm\"\nneeds = [\"mdo\"]\n"
);

case!(
    reference_to_an_unknown_step,
    "[steps.build]\nuses = \"./probe.wasm\"\nwith = { in-text = \"${{ steps.mod.outputs.module }}\" }\n"
);

case!(
    reference_to_an_unknown_output,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\".\"] }\n\n[steps.build]\nuses = \"./probe.wasm\"\nwith = { in-text = \"${{ steps.mod.outputs.modul }}\" }\n"
);

case!(
    invalid_expression,
    "[steps.build]\nuses = \"./probe.wasm\"\nwith = { token = \"${{ secrets.GITHUB_TOKEN }}\" }\n"
);

case!(
    cycle,
    "[steps.a]\nuses = \"./probe.wasm\"\nneeds = [\"c\"]\n\n[steps.b]\nuses = \"./probe.wasm\"\nwith = { in-text = \"${{ steps.a.outputs.text }}\" }\n\n[steps.c]\nuses = \"./probe.wasm\"\nneeds = [\"b\"]\n"
);

case!(
    kind_mismatch_text_into_artifact,
    "[steps.a]\nuses = \"./probe.wasm\"\n\n[steps.b]\nuses = \"./probe.wasm\"\nwith = { in-artifact = \"${{ steps.a.outputs.text }}\" }\n"
);

case!(
    kind_mismatch_literal,
    "[steps.a]\nuses = \"./probe.wasm\"\nwith = { in-text = 42 }\n"
);

case!(
    artifact_interpolated_into_a_string,
    "[steps.a]\nuses = \"./probe.wasm\"\n\n[steps.b]\nuses = \"./probe.wasm\"\nwith = { in-text = \"file: ${{ steps.a.outputs.artifact }}\" }\n"
);

case!(
    wanted_but_not_granted,
    "[steps.mod]\nuses = \"go-mod\"\nenv = { GOFLAGS = \"-mod=mod\" }\n"
);

case!(
    granted_but_not_wanted_is_a_warning,
    "[steps.probe]\nuses = \"./probe.wasm\"\nallow = { read = [\".\"], write = [\"dist\"], secrets = [\"TOKEN\"] }\n"
);

case!(
    invalid_duration_and_size,
    "[pipeline]\ntimeout = \"ten minutes\"\n\n[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\".\"] }\nmemory = \"8GiB\"\n"
);

case!(
    network_grant_not_wanted,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\".\"], net = [\"https://proxy.golang.org:443\"] }\n"
);

case!(
    many_problems_at_once,
    "[steps.mod]\nuses = \"go-mod\"\ntimeout = \"soon\"\n\n[steps.lint]\nuses = \"golint-x\"\n\n[steps.test]\nuses = \"./probe.wasm\"\nneeds = [\"lnt\"]\nallow = { write = [\"/tmp\"] }\n\n[steps.Deploy]\nuses = \"./probe.wasm\"\n"
);

case!(
    write_grant_reaching_sluice_state,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\".\"], write = [\".\", \".sluice/cache\"] }\n"
);

case!(
    grant_modes_that_cannot_be_honoured,
    "[steps.probe]\nuses = \"./probe.wasm\"\nallow = { read = [\"ro.txt\", \"w/sub\", \"src\"], write = [\"rw.txt\", \"w\", \"src/gen.go\"] }\n",
    |ws: &Workspace| {
        ws.file("ro.txt", "r")
            .file("rw.txt", "w")
            .file("w/sub/x", "x")
            .file("src/gen.go", "package src");
    }
);

case!(
    read_grant_reaching_sluice_state,
    "[steps.probe]\nuses = \"./probe.wasm\"\nallow = { read = [\".sluice/runs\", \".sluice\"] }\n"
);

case!(
    unix_socket_grant_not_a_path,
    "[steps.deploy]\nuses = \"deploy\"\nallow = { net = [\"unix:run/podman/podman.sock\", \"unix:/run/../podman.sock\"] }\nwith = { engine = \"unix:/run/podman/podman.sock\", service = \"svc\", action = \"status\" }\n"
);

// Options of the wrong kind are found before the run, where they are written (the measured
// case of #17: `min-confidence = "high"` validated clean and failed at run time, unplaced).
case!(
    option_of_the_wrong_kind,
    "[steps.lint]\nuses = \"golint\"\nallow = { read = [\".\"] }\nwith = { min-confidence = \"high\" }\n"
);

case!(
    option_outside_its_choices,
    "[steps.sec]\nuses = \"gosec\"\nallow = { read = [\".\"] }\nwith = { fail-on = \"hihg\", skip-dirs = \"vendor\", include-tests = \"yes\" }\n"
);

// An integer is a number; a `${{ }}` value takes the kind of what it names, known at run time.
case!(
    options_of_the_right_kind,
    "[steps.mod]\nuses = \"go-mod\"\nallow = { read = [\".\"] }\n\n[steps.lint]\nuses = \"golint\"\nallow = { read = [\".\"] }\nwith = { min-confidence = 1, dir = \"${{ steps.mod.outputs.go-version }}\", disable = [] }\n"
);
