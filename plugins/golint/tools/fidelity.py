#!/usr/bin/env python3
"""golint (the sluice step) against staticcheck's stylecheck on the Go standard library.

`just fidelity` runs it. It copies GOROOT/src into a scratch workspace, runs a one-step
`golint` pipeline over the packages `go list std` names (every package under src/ but cmd/,
tests included, linux/amd64), runs
`go-staticcheck -checks 'ST1003,ST1005,ST1006,ST1012,ST1016,ST1020,ST1021,ST1022' std` on the
same GOROOT, maps golint's findings to those checks and prints, per check, how many findings
both tools report, only sluice's golint, and only staticcheck, with examples of each side.

Matching: by file and line (the set of places each tool reports). ST1016 (receiver names
consistent across a type's methods) is matched by package and type instead: golint reports each
method that breaks the pattern, staticcheck the type (once per package variant it checks).

`--min-confidence` is passed to golint (default 0.8, golint's): golint reports capitalised
error strings at confidence 0.6, so at its default it leaves them out; 0 shows every finding.

Needs Go 1.19 and go-staticcheck (`apt-get install golang-go go-staticcheck`) and a built
sluice (`cargo build --release`).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CHECKS = ["ST1003", "ST1005", "ST1006", "ST1012", "ST1016", "ST1020", "ST1021", "ST1022"]
ABOUT = {
    "ST1003": "naming: underscores, ALL_CAPS, initialisms",
    "ST1005": "error strings",
    "ST1006": "receiver names: not this/self/_",
    "ST1012": "error variable names",
    "ST1016": "receiver names consistent per type",
    "ST1020": "doc comment form: functions, methods",
    "ST1021": "doc comment form: types",
    "ST1022": "doc comment form: vars, consts",
}
RECEIVER = re.compile(r"^func\s*\(\s*\w*\s*\*?\s*([A-Za-z_]\w*)")


def check_of(rule, message):
    """The staticcheck check a golint finding corresponds to, or None."""
    if rule == "var-naming":
        return "ST1003"
    if rule == "error-strings":
        return "ST1005"
    if rule == "error-naming":
        return "ST1012"
    if rule == "receiver-naming":
        return "ST1016" if "should be consistent" in message else "ST1006"
    if rule == "exported" and message.startswith("comment on exported "):
        kind = message.split()[3]
        return {"function": "ST1020", "method": "ST1020", "type": "ST1021"}.get(kind, "ST1022")
    return None


def receiver_type(root, path, line):
    """The receiver type of the method declared on `line` of `path`, if any."""
    try:
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == line:
                    m = RECEIVER.match(text.strip())
                    return m.group(1) if m else None
    except OSError:
        pass
    return None


def key(root, check, path, line):
    if check == "ST1016":
        t = receiver_type(root, path, line)
        if t:
            return (os.path.dirname(path), t)
    return (path, line)


def run_sluice(sluice, goroot, scratch, min_confidence):
    ws = os.path.join(scratch, "ws")
    shutil.copytree(os.path.join(goroot, "src"), os.path.join(ws, "src"), symlinks=True)
    with open(os.path.join(ws, "sluice.toml"), "w", encoding="utf-8") as f:
        f.write(
            '[pipeline]\nname = "fidelity"\n\n[steps.lint]\nuses = "golint"\n'
            'allow = { read = ["src"] }\n'
            'with = { dir = "src", include-tests = true, skip-dirs = ["testdata", "cmd"], '
            f"min-confidence = {min_confidence} }}\n"
        )
    out = subprocess.run(
        [sluice, "run", "--json", "sluice.toml"],
        cwd=ws,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(f"sluice run failed ({out.returncode}):\n{out.stderr}")
    report = json.loads(out.stdout)
    step = next(s for s in report["steps"] if s["id"] == "lint")
    found = []
    for f in step["findings"]:
        check = check_of(f["rule"], f["message"])
        if check and f.get("span"):
            # Workspace paths are src/...; make them relative to GOROOT/src like staticcheck's.
            path = f["span"]["path"].removeprefix("src/")
            found.append((check, path, f["span"]["line"], f["message"]))
    return found, step["summary"]


def run_staticcheck(staticcheck, goroot):
    src = os.path.realpath(os.path.join(goroot, "src"))
    out = subprocess.run(
        [staticcheck, "-f", "json", "-checks", ",".join(CHECKS), "std"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode not in (0, 1):
        sys.exit(f"{staticcheck} failed ({out.returncode}):\n{out.stderr}")
    found = []
    for line in out.stdout.splitlines():
        d = json.loads(line)
        if d["code"] not in CHECKS:
            continue
        path = os.path.relpath(os.path.realpath(d["location"]["file"]), src)
        found.append((d["code"], path, d["location"]["line"], d["message"]))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sluice", default="target/release/sluice")
    ap.add_argument("--staticcheck", default="go-staticcheck")
    ap.add_argument("--min-confidence", type=float, default=0.8)
    ap.add_argument("--examples", type=int, default=3, help="examples per side and check")
    args = ap.parse_args()

    goroot = subprocess.run(
        ["go", "env", "GOROOT"], capture_output=True, text=True, check=True
    ).stdout.strip()
    src = os.path.realpath(os.path.join(goroot, "src"))
    with tempfile.TemporaryDirectory() as scratch:
        ours, summary = run_sluice(
            os.path.abspath(args.sluice), goroot, scratch, args.min_confidence
        )
    theirs = run_staticcheck(args.staticcheck, goroot)
    print(
        f"GOROOT {goroot}; sluice golint (min-confidence {args.min_confidence}): {summary}; "
        f"staticcheck: {len(theirs)} findings\n"
    )

    print("| check | what | both | only sluice golint | only staticcheck | agreement |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    details = []
    totals = [0, 0, 0]
    for check in CHECKS:
        a = {key(src, c, p, l) for c, p, l, _ in ours if c == check}
        b = {key(src, c, p, l) for c, p, l, _ in theirs if c == check}
        both = len(a & b)
        only_a = a - b
        only_b = b - a
        n_a, n_b = len(only_a), len(only_b)
        union = both + n_a + n_b
        agreement = f"{100 * both / union:.0f}%" if union else "-"
        print(f"| {check} | {ABOUT[check]} | {both} | {n_a} | {n_b} | {agreement} |")
        totals = [totals[0] + both, totals[1] + n_a, totals[2] + n_b]
        for label, only, rows in (("only sluice golint", only_a, ours), ("only staticcheck", only_b, theirs)):
            shown, seen = [], set()
            for c, p, l, m in rows:
                k = key(src, c, p, l)
                if c == check and k in only and k not in seen and len(shown) < args.examples:
                    seen.add(k)
                    shown.append(f"    {p}:{l}: {m}")
            if shown:
                details.append(f"{check} {label}:\n" + "\n".join(shown))
    union = sum(totals)
    print(
        f"| all | | {totals[0]} | {totals[1]} | {totals[2]} | "
        f"{100 * totals[0] / union:.0f}% |" if union else "| all | | 0 | 0 | 0 | - |"
    )
    if details:
        print("\nexamples:\n" + "\n".join(details))


if __name__ == "__main__":
    main()
