"""Runs the SDK natively against the bindings componentize-py generates from `wit/` (the
same Python code a component carries). Only the host's functions are stand-ins: outside a
component they raise NotImplementedError, so the tests record calls to them instead."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_bindings = Path(tempfile.mkdtemp(prefix="sluice-py-bindings-"))
subprocess.run(
    [
        str(Path(sys.executable).parent / "componentize-py"),
        "-d",
        str(ROOT / "wit"),
        "-w",
        "step",
        "bindings",
        str(_bindings),
    ],
    check=True,
)
sys.path[:0] = [str(_bindings), str(ROOT / "sdk" / "python" / "src")]


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_bindings, ignore_errors=True)


@pytest.fixture
def host_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[object, ...]]]:
    """Records the calls the SDK makes to the host's `log`, `progress` and `secret`."""
    from wit_world.imports import host

    calls: list[tuple[str, tuple[object, ...]]] = []
    for name in ("log", "progress", "uncacheable"):
        monkeypatch.setattr(host, name, lambda *a, _n=name: calls.append((_n, a)))
    monkeypatch.setattr(host, "secret", lambda name: "s3cr3t" if name == "GRANTED" else None)
    return calls
