#!/usr/bin/env python3
"""The gosec step against gosec's own rule tests: per-rule agreement on gosec's samples.

`just fidelity-gosec GOSEC_CHECKOUT` runs it. gosec's sources are not vendored: clone
https://github.com/securego/gosec anywhere (`git clone --depth 1 https://github.com/securego/gosec
/tmp/gosec`) and pass the checkout. The samples are read from it by `samples/main.go` (standard
library Go, so it needs only `go`): the pairs `runner("G101", testutils.SampleCodeG101)` of
rules/rules_test.go and the samples of testutils/*_samples.go, each with the number of issues
gosec's test expects.

Each sample of a rule Sluice claims is written to its own workspace (`sample_N_I.go` files, no
go.mod, as gosec's test package) with a one-step pipeline that runs the `gosec` step on it with
`include = [RULE]` (gosec's test loads only that rule), and `sluice run --json` is run there, as a
user would. A sample agrees when the step reports exactly as many active (not suppressed)
findings of that rule as gosec expects. gosec's configuration is mapped to the step's options
(`Audit: "enabled"` to `audit = true`, a G104 allow-list to `g104-allow`); a sample whose
configuration cannot be mapped is counted as a disagreement and listed.

Needs a built sluice (`cargo build`, or `--sluice target/release/sluice`).
"""

import argparse
import collections
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "go-check", "tools"))
from stephelp import go_json, run_step  # noqa: E402

def samples(checkout):
    return go_json(os.path.join(HERE, "samples", "main.go"), checkout, "gosec's samples")


def options(config):
    """The step's `with` for gosec's configuration source text, or None."""
    config = " ".join(config.split())
    if config == "gosec.NewConfig()":
        return {}
    if config == 'gosec.Config{gosec.Globals: map[gosec.GlobalOption]string{gosec.Audit: "enabled"}}':
        return {"audit": True}
    if config == 'gosec.Config{"G104": map[string]interface{}{"ioutil": []interface{}{"WriteFile"}}}':
        return {"g104-allow": {"ioutil": ["WriteFile"]}}
    return None


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def run_one(sluice, scratch, n, sample, with_):
    ws = os.path.join(scratch, f"s{n}")
    os.makedirs(os.path.join(ws, "src"))
    for i, code in enumerate(sample["files"]):
        with open(os.path.join(ws, "src", f"sample_{n}_{i}.go"), "w", encoding="utf-8") as f:
            f.write(code)
    with_ = dict(with_, dir="src", include=[sample["rule"]])
    with_["fail-on"] = "none"
    with open(os.path.join(ws, "sluice.toml"), "w", encoding="utf-8") as f:
        f.write(
            '[pipeline]\nname = "fidelity"\n\n[steps.gosec]\nuses = "gosec"\n'
            'allow = { read = ["src"] }\n'
            f"with = {toml_value(with_)}\n"
        )
    step, problem = run_step(sluice, ws, "gosec")
    if step is None:
        return None, problem
    if step["status"] not in ("passed",):
        return None, f"step {step['status']}: {step.get('error') or step.get('summary')}"
    found = [
        f
        for f in step["findings"]
        if f["rule"] == sample["rule"] and not f.get("suppression")
    ]
    return found, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("checkout", help="a gosec checkout (git clone https://github.com/securego/gosec)")
    ap.add_argument("--sluice", default="target/debug/sluice")
    ap.add_argument("--rule", action="append", help="only these rules (repeatable)")
    ap.add_argument("--show", action="store_true", help="print each disagreeing sample's code")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--json", help="also write per-sample results to this file")
    args = ap.parse_args()

    sluice = os.path.abspath(args.sluice)
    claimed = json.loads(
        subprocess.run(
            [sluice, "plugins", "--json"], capture_output=True, text=True, check=True
        ).stdout
    )
    gosec = next(p["info"] for p in claimed if p["uses"] == "gosec")
    ours = {r["id"] for r in gosec["rules"] if r["id"].startswith("G")}
    todo = [s for s in samples(args.checkout) if s["rule"] in ours]
    if args.rule:
        todo = [s for s in todo if s["rule"] in args.rule]

    results = [None] * len(todo)
    with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        jobs = {}
        for n, s in enumerate(todo):
            with_ = options(s["config"]) if not s.get("unreadable") else None
            if with_ is None:
                results[n] = (None, "configuration or code not mapped: " + (s.get("unreadable") or s["config"]))
                continue
            jobs[pool.submit(run_one, sluice, scratch, n, s, with_)] = n
        for job in concurrent.futures.as_completed(jobs):
            results[jobs[job]] = job.result()

    per_rule = collections.OrderedDict()
    rows = []
    for s, (found, problem) in zip(todo, results):
        got = None if found is None else len(found)
        r = per_rule.setdefault(s["rule"], collections.Counter())
        r["samples"] += 1
        if got == s["errors"]:
            r["exact"] += 1
        elif got is None:
            r["failed"] += 1
        else:
            r["missed"] += max(0, s["errors"] - got)
            r["extra"] += max(0, got - s["errors"])
        rows.append(
            {
                "rule": s["rule"],
                "set": s["set"],
                "index": s["index"],
                "expected": s["errors"],
                "got": got,
                "problem": problem,
                "findings": [
                    f"{f['span']['line']}:{f['span']['column']} {f['message']}"
                    for f in (found or [])
                    if f.get("span")
                ],
            }
        )

    print("| rule | samples | exact | agreement | missed | extra | did not run |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    total = collections.Counter()
    for rule, r in per_rule.items():
        print(
            f"| {rule} | {r['samples']} | {r['exact']} | {100 * r['exact'] / r['samples']:.1f}% "
            f"| {r['missed']} | {r['extra']} | {r['failed']} |"
        )
        total.update(r)
    print(
        f"| all | {total['samples']} | {total['exact']} | "
        f"{100 * total['exact'] / max(1, total['samples']):.1f}% | "
        f"{total['missed']} | {total['extra']} | {total['failed']} |"
    )
    bad = [row for row in rows if row["got"] != row["expected"]]
    if bad:
        print("\ndisagreements:")
        for row in bad:
            got = row["problem"] if row["got"] is None else f"got {row['got']}"
            print(f"  {row['set']}[{row['index']}] {row['rule']}: expected {row['expected']}, {got}")
            for f in row["findings"]:
                print(f"      {f}")
            if args.show:
                s = next(x for x in todo if x["set"] == row["set"] and x["index"] == row["index"])
                for i, code in enumerate(s["files"]):
                    print(f"    --- sample_{i}.go")
                    for k, line in enumerate(code.splitlines(), 1):
                        print(f"    {k:3} {line}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
