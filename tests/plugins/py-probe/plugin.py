# SPDX-License-Identifier: Apache-2.0
"""A hostile Python step for the tests: it tries what `with.actions` lists (reads, writes,
listings, environment, secrets, sockets) and reports each result in its `report` output; it can
also raise, or fail a gate with findings."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

import sluice_sdk as sluice


def attempt(action: dict[str, Any]) -> str:
    op = action["op"]
    if op == "read":
        with open(action["path"], encoding="utf-8") as f:
            return f.read()
    if op == "write":
        with open(action["path"], "w", encoding="utf-8") as f:
            f.write(action.get("contents", ""))
        return "written"
    if op == "list":
        return ",".join(sorted(os.listdir(action["path"])))
    if op == "env":
        if action["name"] not in os.environ:
            raise KeyError("environment variable not found")
        return os.environ[action["name"]]
    if op == "env-all":
        return "\n".join(sorted(f"{k}={v}" for k, v in os.environ.items()))
    if op == "secret":
        value = sluice.secret(action["name"])
        if value is None:
            raise LookupError(f"secret {action['name']} not available")
        sluice.warn(f"log: {action['name']}={value}")
        return "read"
    if op == "digest":
        return sluice.digest(action["path"])
    if op == "connect":
        host, port = action["address"].rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect((host, int(port)))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return s.recv(100).decode(errors="replace")
    if op == "raise":
        raise RuntimeError(action.get("message", "raised"))
    raise ValueError(f"unknown op {op}")


def describe_error(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno is not None:
        return f"errno {e.errno}: {e.strerror}"
    return str(e.args[0]) if len(e.args) == 1 else str(e)


class Probe(sluice.Plugin):
    def describe(self) -> sluice.PluginInfo:
        return sluice.plugin_info(
            "py-probe",
            "0.1.0",
            "Tries what it is told and reports what happened",
            outputs=[sluice.port("report", "text", "JSON: one {op, ok, detail} per action")],
            wants=["fs:read?", "fs:write?"],
        )

    def run(self, invocation: sluice.Invocation) -> sluice.Outcome:
        config = invocation.config(known=["actions", "gate"])
        report = []
        for action in config.get("actions", []):
            if action["op"] == "raise":
                attempt(action)
            try:
                report.append({"op": action["op"], "ok": True, "detail": attempt(action)})
            except Exception as e:  # noqa: BLE001 - the probe reports every failure
                report.append({"op": action["op"], "ok": False, "detail": describe_error(e)})
        findings = [
            sluice.finding("probe/gate", "error", f"finding {i + 1}", span=sluice.span("probe.txt", i + 1))
            for i in range(int(config.get("gate", 0)))
        ]
        result = sluice.outcome("probe done", outputs={"report": json.dumps(report)}, findings=findings)
        if findings:
            raise sluice.Failure.gate(result)
        return result


WitWorld = sluice.export(Probe)
