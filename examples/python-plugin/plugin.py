# SPDX-License-Identifier: Apache-2.0
"""A Sluice step that checks that source files start with a license header.

Every file under the granted `paths` with one of the `extensions` must hold `header` within its
first `lines` lines. Files without it are findings (errors by default, which fail the step).
The step returns a Markdown report as an artifact and the counts as integers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import sluice_sdk as sluice

SKIP_DIRS = {"vendor", "testdata", "node_modules"}


@dataclass
class Config:
    header: str
    paths: list[str] = field(default_factory=lambda: ["."])
    extensions: list[str] = field(default_factory=lambda: [".go"])
    lines: int = 5
    severity: str = "error"


def sources(root: str, extensions: list[str]) -> list[str]:
    """The files under `root` (a workspace-relative file or directory) with a wanted extension."""
    guest = sluice.workspace_path(root)
    if os.path.isfile(guest):
        return [root]
    if not os.path.isdir(guest):
        raise sluice.Failure.invalid(
            f'`{root}` is not visible to this step: grant it with `read = ["{root}"]` in its `allow` table'
        )
    found = []
    for dirpath, dirnames, filenames in os.walk(guest):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(filenames):
            if any(name.endswith(ext) for ext in extensions):
                found.append(os.path.relpath(os.path.join(dirpath, name), sluice.WORKSPACE))
    return found


def has_header(path: str, header: str, lines: int) -> bool:
    with open(sluice.workspace_path(path), encoding="utf-8", errors="replace") as f:
        for _, line in zip(range(lines), f, strict=False):
            if header in line:
                return True
    return False


class LicenseHeader(sluice.Plugin):
    def describe(self) -> sluice.PluginInfo:
        return sluice.plugin_info(
            "license-header",
            "0.1.0",
            "Checks that source files start with a license header",
            inputs=[sluice.port("project", "text", "A name for the report's title")],
            outputs=[
                sluice.port("report", "artifact", "The files checked, as Markdown", required=True),
                sluice.port("checked", "integer", "How many files were checked", required=True),
                sluice.port("missing", "integer", "How many lack the header", required=True),
            ],
            wants=["fs:read"],
            rules=[
                sluice.rule(
                    "license-header/missing",
                    "missing-license-header",
                    "A source file does not start with the license header",
                    "error",
                    help="Add the header (say, `// SPDX-License-Identifier: Apache-2.0`) to the file's first lines.",
                    tags=["license"],
                )
            ],
            options=[
                sluice.option("header", "the text every file must hold near its top (required)", kind="text"),
                sluice.option("paths", "workspace files and directories to check", kind="text-list", default=["."]),
                sluice.option("extensions", "the file name endings to check", kind="text-list", default=[".go"]),
                sluice.option("lines", "how many leading lines may hold the header", kind="integer", default=5),
                sluice.option(
                    "severity",
                    "of a missing header: `error` fails the step, `warning` or `note` do not",
                    kind=["error", "warning", "note"],
                    default="error",
                ),
            ],
        )

    def run(self, invocation: sluice.Invocation) -> sluice.Outcome:
        config: Config = invocation.config(Config)
        if config.severity not in ("error", "warning", "note"):
            raise sluice.Failure.invalid(f"`severity` is `{config.severity}`: use `error`, `warning` or `note`")
        files = [f for root in config.paths for f in sources(root, config.extensions)]
        findings, rows = [], []
        for i, path in enumerate(files):
            sluice.progress(i, len(files), path)
            ok = has_header(path, config.header, config.lines)
            rows.append(f"| `{path}` | {'yes' if ok else '**no**'} |")
            if not ok:
                findings.append(
                    sluice.finding(
                        "license-header/missing",
                        config.severity,
                        f"`{path}` does not hold `{config.header}` in its first {config.lines} lines",
                        span=sluice.span(path, 1),
                        tags=["license"],
                    )
                )
        title = invocation.text("project") or "the workspace"
        report = "\n".join([f"# License headers of {title}", "", "| file | header |", "|---|---|", *rows, ""])
        missing = len(findings)
        summary = f"{len(files) - missing} of {len(files)} files carry the license header"
        sluice.info(summary)
        result = sluice.outcome(
            summary,
            outputs={
                "report": sluice.write_artifact("license-headers.md", report, "text/markdown"),
                "checked": len(files),
                "missing": missing,
            },
            findings=findings,
        )
        if missing and config.severity == "error":
            raise sluice.Failure.gate(result)
        return result


WitWorld = sluice.export(LicenseHeader)
