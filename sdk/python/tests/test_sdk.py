"""Unit tests of the SDK's pure helpers; everything that needs the host runs through real
components in the repository's `tests/polyglot.rs`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
import sluice_sdk as sluice
from componentize_py_types import Err
from wit_world.imports import host, types


@dataclass
class Config:
    header: str
    max_words: int = 1000
    ratio: float = 0.5
    paths: list[str] = field(default_factory=lambda: ["."])
    owner: str | None = None


def invocation(config: object, **inputs: types.Value) -> types.Invocation:
    return types.Invocation("step", json.dumps(config), list(inputs.items()))


def test_builders_take_names_for_enums() -> None:
    p = sluice.port("report", "artifact", "A report", required=True)
    assert p == types.Port("report", types.ValueKind.ARTIFACT, True, "A report")
    f = sluice.finding("x/y", "warning", "msg", span=sluice.span("/workspace/a.go", 3, 2), tags=["t"])
    assert f.severity is types.Severity.WARNING
    assert f.span == types.Span("a.go", 3, 2, 0, 0)
    assert f.tags == ["t"] and f.suppression is None
    s = sluice.finding("x/y", types.Severity.NOTE, "m", suppressed=("#nosec", "tested"))
    assert s.suppression == types.Suppression("#nosec", "tested")


def test_a_wrong_enum_name_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="`note`, `warning`, `error`"):
        sluice.finding("x", "fatal", "m")
    with pytest.raises(ValueError, match="not a value kind"):
        sluice.port("p", "string", "d")


def test_plugin_info_keeps_none_options_apart_from_empty() -> None:
    info = sluice.plugin_info("n", "1.0.0", "d", wants=["fs:read"])
    assert info.options is None and info.wants == ["fs:read"]
    info = sluice.plugin_info("n", "1.0.0", "d", options=[sluice.option("a", "b")])
    assert info.options == [types.ConfigOption("a", "b")]
    r = sluice.rule("R1", "r-one", "s", "error", help="h", tags=["CWE-1"], security_severity=7.5)
    assert (r.help, r.severity, r.tags, r.security_severity) == ("h", types.Severity.ERROR, ["CWE-1"], 7.5)


def test_typed_options_go_to_describe_options() -> None:
    info = sluice.plugin_info(
        "n",
        "1.0.0",
        "d",
        options=[
            sluice.option("plain", "any value"),
            sluice.option("level", "how sure", kind="number", default=0.8),
            sluice.option("mode", "how hard", kind=["fast", "full"], default="fast"),
            sluice.option("paths", "where", kind="text-list"),
        ],
    )
    assert [o.name for o in info.options or []] == ["plain", "level", "mode", "paths"]
    assert sluice.option_specs(info) == [
        types.OptionSpec("level", types.OptionKind_Number(), "0.8"),
        types.OptionSpec("mode", types.OptionKind_Choice(["fast", "full"]), '"fast"'),
        types.OptionSpec("paths", types.OptionKind_TextList(), None),
    ]
    with pytest.raises(ValueError, match="'float' is not a kind"):
        sluice.option("x", "s", kind="float")
    with pytest.raises(ValueError, match="a choice is a non-empty list of strings"):
        sluice.option("x", "s", kind=[])


@pytest.mark.parametrize(
    ("python", "wit"),
    [
        ("text", types.Value_Text("text")),
        (True, types.Value_Boolean(True)),
        (3, types.Value_Integer(3)),
        (2.5, types.Value_Number(2.5)),
        ({"a": [1]}, types.Value_Json('{"a": [1]}')),
        ([1, 2], types.Value_Json("[1, 2]")),
        (sluice.Json("s"), types.Value_Json('"s"')),
        (types.Artifact("/outputs/x", "", None), types.Value_Artifact(types.Artifact("/outputs/x", "", None))),
    ],
)
def test_outputs_map_python_values_to_the_contract(python: object, wit: types.Value) -> None:
    assert sluice.to_value(python) == wit


def test_an_unsupported_output_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot return a set"):
        sluice.outcome("s", outputs={"x": {1}})


def test_inputs_become_python_values() -> None:
    art = types.Artifact("/inputs/a/f", "sha256:00", "text/plain")
    inv = sluice.Invocation(
        invocation(
            {},
            name=types.Value_Text("n"),
            count=types.Value_Integer(4),
            data=types.Value_Json('{"k": 1}'),
            file=types.Value_Artifact(art),
        )
    )
    assert inv.inputs == {"name": "n", "count": 4, "data": {"k": 1}, "file": art}
    assert inv.text("name") == "n" and inv.text("count") is None
    assert inv.artifact("file") is art and inv.artifact("name") is None
    assert inv.input("missing", 7) == 7


def test_config_into_a_dataclass_maps_kebab_case_and_checks_types() -> None:
    inv = sluice.Invocation(invocation({"header": "H", "max-words": 5, "ratio": 1, "paths": ["a"]}))
    c = inv.config(Config)
    assert c == Config("H", 5, 1.0, ["a"], None)
    assert isinstance(c.ratio, float)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"header": "H", "max-wrods": 1},
            "invalid `with` table: unknown field `max-wrods`, expected one of `header`, `max-words`, `ratio`, `paths`, `owner`",
        ),
        ({}, "invalid `with` table: missing field `header`"),
        ({"header": 1}, "invalid `with` table: `header`: invalid type: integer `1`, expected a string"),
        (
            {"header": "H", "max-words": True},
            "invalid `with` table: `max-words`: invalid type: boolean `true`, expected an integer",
        ),
        ({"header": "H", "paths": "a"}, 'invalid `with` table: `paths`: invalid type: string "a", expected a sequence'),
        (
            {"header": "H", "paths": [1]},
            "invalid `with` table: `paths[0]`: invalid type: integer `1`, expected a string",
        ),
        ({"header": "H", "owner": 2}, "invalid `with` table: `owner`: invalid type: integer `2`, expected a string"),
    ],
)
def test_config_errors_name_the_key(config: object, message: str) -> None:
    with pytest.raises(sluice.Failure) as e:
        sluice.Invocation(invocation(config)).config(Config)
    assert (e.value.kind, e.value.message) == ("invalid", message)


def test_config_as_a_dict_checks_known_keys_when_asked() -> None:
    inv = sluice.Invocation(invocation({"a": 1, "b": 2}))
    assert inv.config() == {"a": 1, "b": 2}
    with pytest.raises(sluice.Failure, match="unknown field `b`, expected `a`"):
        inv.config(known=["a"])
    with pytest.raises(sluice.Failure, match="unknown field `b`, expected `a` or `c`"):
        inv.config(dict, known=["a", "c"])


def test_failures_become_the_contracts_variants() -> None:
    out = sluice.outcome("2 findings")
    assert sluice.Failure.gate(out).to_wit() == types.Failure_Gate(out)
    assert sluice.Failure.invalid("bad").to_wit() == types.Failure_Invalid("bad")
    assert sluice.Failure.error("io").to_wit() == types.Failure_Error("io")


class Runs(sluice.Plugin):
    def __init__(self, behaviour: object) -> None:
        self.behaviour = behaviour

    def run(self, invocation: sluice.Invocation) -> sluice.Outcome:
        if isinstance(self.behaviour, BaseException):
            raise self.behaviour
        return self.behaviour  # type: ignore[return-value]


def test_call_run_passes_an_outcome_through(host_calls: list) -> None:
    out = sluice.outcome("fine", outputs={"n": 1})
    assert sluice.call_run(Runs(out), invocation({})) is out
    assert host_calls == []


def test_a_raised_failure_is_the_contracts_err(host_calls: list) -> None:
    with pytest.raises(Err) as e:
        sluice.call_run(Runs(sluice.Failure.invalid("set `x`")), invocation({}))
    assert e.value.value == types.Failure_Invalid("set `x`")
    assert host_calls == []


def test_any_other_exception_is_the_steps_error_and_its_traceback_is_logged(host_calls: list) -> None:
    with pytest.raises(Err) as e:
        sluice.call_run(Runs(KeyError("missing")), invocation({}))
    assert e.value.value == types.Failure_Error("KeyError: 'missing'")
    [(name, (level, text))] = host_calls
    assert name == "log" and level is host.Level.ERROR
    assert text.startswith("Traceback (most recent call last):") and "KeyError: 'missing'" in text


def test_returning_something_else_than_an_outcome_is_an_error(host_calls: list) -> None:
    with pytest.raises(Err) as e:
        sluice.call_run(Runs({"summary": "x"}), invocation({}))
    assert e.value.value == types.Failure_Error(
        "TypeError: run() returned dict, not an Outcome (use sluice_sdk.outcome)"
    )


def test_a_huge_traceback_is_bounded(host_calls: list) -> None:
    with pytest.raises(Err):
        sluice.call_run(Runs(ValueError("x" * 100_000)), invocation({}))
    assert len(host_calls[0][1][1]) <= sluice.TRACEBACK_LIMIT + 1


def test_export_wraps_describe_and_run(host_calls: list) -> None:
    class P(sluice.Plugin):
        def describe(self) -> sluice.PluginInfo:
            return sluice.plugin_info("p", "0.1.0", "d")

        def run(self, invocation: sluice.Invocation) -> sluice.Outcome:
            sluice.info(f"hello {invocation.step}")
            return sluice.outcome(invocation.config()["x"])

    world = sluice.export(P)()
    assert world.describe().name == "p"
    assert world.describe_options() == []
    assert world.run(invocation({"x": "done"})).summary == "done"
    assert host_calls == [("log", (host.Level.INFO, "hello step"))]


def test_logging_and_secrets_call_the_host(host_calls: list) -> None:
    sluice.log("warn", "w")
    sluice.progress(1, 2, "half")
    sluice.uncacheable("clock")
    assert host_calls == [("log", (host.Level.WARN, "w")), ("progress", (1, 2, "half")), ("uncacheable", ("clock",))]
    assert sluice.secret("GRANTED") == "s3cr3t" and sluice.secret("OTHER") is None


@pytest.mark.parametrize("name", ["", "a/b", ".", ".."])
def test_artifact_names_must_be_plain(name: str) -> None:
    with pytest.raises(sluice.Failure, match="must be a plain file name"):
        sluice.write_artifact(name, b"x")


def test_workspace_paths() -> None:
    assert sluice.workspace_path("go.mod") == "/workspace/go.mod"
    assert sluice.workspace_path("./a/b") == "/workspace/a/b"
    assert sluice.workspace_path(".") == "/workspace"
