#!/usr/bin/env python3
"""The golint step against golint's own testdata: how many of the problems it expects we report.

`just fidelity-golint GOLINT_CHECKOUT` runs it. golint's sources are not vendored: clone
https://github.com/golang/lint anywhere (`git clone --depth 1 https://github.com/golang/lint
/tmp/golint`) and pass the checkout (or, with `--dir`, any directory of files written the same
way, such as revive's `testdata/golint` with `--exact`, as revive reads its MATCH lines).

Each file is linted on its own, as golint's lint_test.go does: it is written to its own
workspace and a one-step pipeline runs the `golint` step on it with `min-confidence = 0` (the
test sees every problem, whatever its confidence) and `include-tests = true`, through
`sluice run --json`, as a user would. The expectations (`// MATCH /regexp/`, `// MATCH:LINE
/regexp/`) are read by `testdata/main.go` with go/parser, as golint's test reads them. A
problem matches an expectation on its line whose pattern it matches (each problem once);
expectations left are missed, problems left are extra.

Needs `go` and a built sluice (`cargo build`, or `--sluice target/release/sluice`).
"""

import argparse
import concurrent.futures
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "go-check", "tools"))
from stephelp import go_json, run_step  # noqa: E402


def expectations(directory):
    return go_json(os.path.join(HERE, "testdata", "main.go"), directory, "the testdata")


def lint(sluice, scratch, n, path):
    ws = os.path.join(scratch, f"f{n}")
    os.makedirs(os.path.join(ws, "src"))
    with open(path, "rb") as f:
        code = f.read()
    with open(os.path.join(ws, "src", os.path.basename(path)), "wb") as f:
        f.write(code)
    with open(os.path.join(ws, "sluice.toml"), "w", encoding="utf-8") as f:
        f.write(
            '[pipeline]\nname = "fidelity"\n\n[steps.lint]\nuses = "golint"\n'
            'allow = { read = ["src"] }\n'
            'with = { dir = "src", include-tests = true, build-constraints = false, '
            "min-confidence = 0.0 }\n"
        )
    step, problem = run_step(sluice, ws, "lint")
    if step is None:
        return None, problem
    return [
        (f["span"]["line"], f["message"], f["rule"])
        for f in step["findings"]
        if f.get("span") and f["rule"] != "parse-error"
    ], None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("checkout", nargs="?", help="a golint checkout (its testdata/ is read)")
    ap.add_argument("--dir", help="a directory of testdata files instead")
    ap.add_argument("--sluice", default="target/debug/sluice")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--quiet", action="store_true", help="only the totals")
    ap.add_argument(
        "--exact",
        action="store_true",
        help="a MATCH is the exact message, not a regexp (as revive's testdata/golint is read)",
    )
    args = ap.parse_args()
    directory = args.dir or (args.checkout and os.path.join(args.checkout, "testdata"))
    if not directory:
        ap.error("give a golint checkout or --dir")

    files = [f for f in expectations(directory) if f["tested"]]
    sluice = os.path.abspath(args.sluice)
    with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(
            pool.map(
                lambda nf: lint(sluice, scratch, nf[0], os.path.join(directory, nf[1]["name"])),
                enumerate(files),
            )
        )

    expected = matched = extra = 0
    lines = []
    for f, (found, problem) in zip(files, results):
        expected += len(f["instructions"])
        if found is None:
            lines.append(f"{f['name']}: {problem}")
            continue
        left = list(found)
        for ins in f["instructions"]:
            if args.exact:
                matches = lambda m, want=ins["pattern"]: m == want  # noqa: E731
            else:
                matches = re.compile(ins["pattern"]).search
            hit = next((p for p in left if p[0] == ins["line"] and matches(p[1])), None)
            if hit:
                left.remove(hit)
                matched += 1
            else:
                on_line = [p[1] for p in found if p[0] == ins["line"]]
                lines.append(f"{f['name']}:{ins['line']}: missed /{ins['pattern']}/" + (f" (got: {on_line})" if on_line else ""))
        for line, message, rule in left:
            extra += 1
            lines.append(f"{f['name']}:{line}: extra [{rule}] {message}")

    print(f"{len(files)} files; expected {expected}; matched {matched}; missed {expected - matched}; extra {extra}")
    if not args.quiet:
        for line in lines:
            print("  " + line)


if __name__ == "__main__":
    main()
