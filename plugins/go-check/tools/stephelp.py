"""Shared by the analysers' agreement harnesses (plugins/gosec/tools/fidelity.py and
plugins/golint/tools/testdata.py): reading a tool's tests with a standard-library Go program,
and running one step of a pipeline as a user would."""

import json
import subprocess
import sys


def go_json(program, arg, what):
    """Runs `go run PROGRAM ARG` and returns its JSON output; exits naming WHAT if it fails."""
    out = subprocess.run(
        ["go", "run", program, arg], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        sys.exit(f"reading {what} failed:\n{out.stderr}")
    return json.loads(out.stdout)


def run_step(sluice, workspace, step_id):
    """`sluice run --json --no-step-cache sluice.toml` in WORKSPACE: the step's record, or None
    and what went wrong."""
    out = subprocess.run(
        [sluice, "run", "--json", "--no-step-cache", "sluice.toml"],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(out.stdout)
        return next(s for s in report["steps"] if s["id"] == step_id), None
    except (ValueError, StopIteration):
        return None, f"sluice run failed ({out.returncode}): {out.stderr.strip()[-500:]}"
