"""Write Sluice pipeline steps in Python.

A step is a WebAssembly component. With this package you write a class that derives from
:class:`Plugin`, export it with :func:`export`, and build the directory with
``sdk/python/build-plugin <dir>`` (componentize-py, pinned, in a local environment)::

    import sluice_sdk as sluice

    class Greet(sluice.Plugin):
        def describe(self) -> sluice.PluginInfo:
            return sluice.plugin_info(
                "greet", "0.1.0", "Greets someone",
                inputs=[sluice.port("name", "text", "Who to greet", required=True)],
                outputs=[sluice.port("message", "text", "The greeting")],
                options=[sluice.option("greeting", "the word to greet with", kind="text", default="Hello")],
            )

        def run(self, invocation: sluice.Invocation) -> sluice.Outcome:
            greeting = invocation.config().get("greeting", "Hello")
            message = f"{greeting}, {invocation.text('name')}!"
            sluice.info(message)
            return sluice.outcome(message, outputs={"message": message})

    WitWorld = sluice.export(Greet)

What a step sees is only what the pipeline grants: ``/workspace/<path>`` for each
``allow.read``/``allow.write`` entry, ``/inputs/<input>/`` for artifacts wired into it, a
private writable ``/outputs/``, the step's ``env`` table, the secrets of ``allow.secrets``.

Failing: ``raise sluice.Failure.gate(outcome)`` (the step ran and its result must stop the
pipeline; its findings are still reported), ``raise sluice.Failure.invalid(message)`` (bad
configuration), ``raise sluice.Failure.error(message)`` (the work could not be done). Any
other exception becomes the step's error, with its type and message, and its traceback goes to
the step's log.
"""

from __future__ import annotations

import dataclasses
import json
import traceback
import typing
from collections.abc import Iterable, Mapping, Sequence
from types import UnionType
from typing import Any, TypeVar, Union

from componentize_py_types import Err
from wit_world.imports import host, types
from wit_world.imports import provenance as _provenance

__all__ = [
    "OUTPUTS",
    "WORKSPACE",
    "Artifact",
    "ConfigOption",
    "Failure",
    "Finding",
    "Invocation",
    "Outcome",
    "Plugin",
    "PluginInfo",
    "Port",
    "Rule",
    "Span",
    "debug",
    "digest",
    "error",
    "export",
    "finding",
    "info",
    "log",
    "option",
    "option_specs",
    "outcome",
    "plugin_info",
    "port",
    "progress",
    "provenance",
    "rule",
    "run_info",
    "secret",
    "span",
    "trace",
    "uncacheable",
    "warn",
    "workspace_path",
    "write_artifact",
]

#: Where the step's workspace grants are mounted: ``allow.read = ["src"]`` is ``/workspace/src``.
WORKSPACE = "/workspace"
#: The step's private, writable output directory: artifacts are written here.
OUTPUTS = "/outputs"

Artifact = types.Artifact
ConfigOption = types.ConfigOption
Finding = types.Finding
Outcome = types.Outcome
PluginInfo = types.PluginInfo
Port = types.Port
Rule = types.Rule
Span = types.Span

#: A severity: the enum, or its name (``"note"``, ``"warning"``, ``"error"``).
SeverityLike = types.Severity | str
#: A value kind: the enum, or its name (``"text"``, ``"integer"``, ``"number"``,
#: ``"boolean"``, ``"artifact"``, ``"json"``).
KindLike = types.ValueKind | str

T = TypeVar("T")


# --- Failures -------------------------------------------------------------------------------


class Failure(Exception):
    """Why a step did not pass; raise one from :meth:`Plugin.run`.

    Build it with :meth:`gate`, :meth:`invalid` or :meth:`error`.
    """

    def __init__(self, kind: str, message: str, outcome: Outcome | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.outcome = outcome

    @classmethod
    def gate(cls, outcome: Outcome) -> Failure:
        """A failed gate: the step ran and must stop the pipeline; ``outcome``'s findings and
        outputs are still reported."""
        return cls("gate", outcome.summary, outcome)

    @classmethod
    def invalid(cls, message: str) -> Failure:
        """Invalid configuration (``with``, inputs): say what is wrong and how to fix it."""
        return cls("invalid", message)

    @classmethod
    def error(cls, message: str) -> Failure:
        """The step could not do its work."""
        return cls("error", message)

    def to_wit(self) -> types.Failure:
        """The contract's ``failure`` variant."""
        if self.kind == "gate":
            assert self.outcome is not None
            return types.Failure_Gate(self.outcome)
        if self.kind == "invalid":
            return types.Failure_Invalid(self.message)
        return types.Failure_Error(self.message)


# --- Builders -------------------------------------------------------------------------------


def _enum(enum: Any, value: Any, what: str) -> Any:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum[value.upper()]
        except KeyError:
            pass
    names = ", ".join(f"`{m.name.lower()}`" for m in enum)
    raise ValueError(f"{value!r} is not a {what}: expected one of {names}")


def port(name: str, kind: KindLike, description: str, *, required: bool = False) -> Port:
    """An input or output: its name (kebab-case), kind, one line of documentation, and
    whether the pipeline must set it (inputs) or ``run`` always returns it (outputs)."""
    return types.Port(name, _enum(types.ValueKind, kind, "value kind"), required, description)


_OPTION_KINDS: dict[str, type] = {
    "text": types.OptionKind_Text,
    "integer": types.OptionKind_Integer,
    "number": types.OptionKind_Number,
    "boolean": types.OptionKind_Boolean,
    "text-list": types.OptionKind_TextList,
    "table": types.OptionKind_Table,
    "any": types.OptionKind_Any,
}

_NO_DEFAULT = object()


def option(
    name: str,
    summary: str,
    *,
    kind: str | Sequence[str] | None = None,
    default: Any = _NO_DEFAULT,
) -> ConfigOption:
    """A ``with`` key the plugin reads besides its inputs: its name and one line saying what
    it sets. A plugin that declares options has every other key rejected by the host before
    the run, pointing at it in ``sluice.toml``.

    ``kind`` is the kind of value it takes: ``"text"``, ``"integer"``, ``"number"``,
    ``"boolean"``, ``"text-list"``, ``"table"``, ``"any"``, or a list of the strings it may be
    (a choice); the host checks the pipeline's value against it, pointing at a wrong one.
    ``default`` (a JSON-able value) is shown by ``sluice plugins``. Without either the option
    takes any value."""
    opt = types.ConfigOption(name, summary)
    if kind is None and default is _NO_DEFAULT:
        return opt
    if kind is None:
        wit_kind: Any = types.OptionKind_Any()
    elif isinstance(kind, str):
        if kind not in _OPTION_KINDS:
            names = ", ".join(f"`{k}`" for k in _OPTION_KINDS)
            raise ValueError(f"option {name!r}: {kind!r} is not a kind: expected one of {names} or a list of choices")
        wit_kind = _OPTION_KINDS[kind]()
    else:
        choices = list(kind)
        if not choices or not all(isinstance(c, str) for c in choices):
            raise ValueError(f"option {name!r}: a choice is a non-empty list of strings")
        wit_kind = types.OptionKind_Choice(choices)
    shown = None if default is _NO_DEFAULT else json.dumps(default)
    opt._sluice_spec = types.OptionSpec(name, wit_kind, shown)  # type: ignore[attr-defined]
    return opt


def option_specs(info: PluginInfo) -> list[types.OptionSpec]:
    """The kinds and defaults of ``info``'s options (what the component's ``describe-options``
    returns)."""
    return [spec for o in info.options or [] if (spec := getattr(o, "_sluice_spec", None)) is not None]


def rule(
    id: str,  # noqa: A002 - the contract's field name
    name: str,
    summary: str,
    severity: SeverityLike,
    *,
    help: str = "",  # noqa: A002 - the contract's field name
    confidence: float | None = None,
    tags: Iterable[str] = (),
    security_severity: float | None = None,
) -> Rule:
    """A rule the plugin's findings come from, shown by ``sluice plugins`` and in SARIF."""
    return types.Rule(
        id,
        name,
        summary,
        help,
        _enum(types.Severity, severity, "severity"),
        confidence,
        list(tags),
        security_severity,
    )


def plugin_info(
    name: str,
    version: str,
    description: str,
    *,
    inputs: Iterable[Port] = (),
    outputs: Iterable[Port] = (),
    wants: Iterable[str] = (),
    rules: Iterable[Rule] = (),
    options: Iterable[ConfigOption] | None = None,
) -> PluginInfo:
    """What :meth:`Plugin.describe` returns. ``wants``: ``fs:read``, ``fs:write``,
    ``secret:<NAME>``, ``exec:<program>``, ``net`` (``?`` for optional grants). ``options``:
    every ``with`` key read besides the inputs; ``None`` takes any key."""
    return types.PluginInfo(
        name,
        version,
        description,
        list(inputs),
        list(outputs),
        list(wants),
        list(rules),
        None if options is None else list(options),
    )


def span(path: str, line: int, column: int = 1, end_line: int = 0, end_column: int = 0) -> Span:
    """A region of a workspace file (path relative to the workspace, 1-based line and byte
    column; the end inclusive, 0 when unknown)."""
    if path.startswith(WORKSPACE + "/"):
        path = path[len(WORKSPACE) + 1 :]
    return types.Span(path, line, column, end_line, end_column)


def finding(
    rule: str,
    severity: SeverityLike,
    message: str,
    *,
    span: Span | None = None,
    tags: Iterable[str] = (),
    confidence: float | None = None,
    suppressed: tuple[str, str] | None = None,
) -> Finding:
    """One result of an analysis. ``suppressed``: ``(annotation, justification)`` when the
    source asks for it to be ignored: it is reported but neither counts nor fails a gate."""
    return types.Finding(
        rule,
        _enum(types.Severity, severity, "severity"),
        message,
        span,
        list(tags),
        confidence,
        None if suppressed is None else types.Suppression(*suppressed),
    )


class Json:
    """Marks a value to be returned as the ``json`` kind (dicts and lists are, already)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def to_value(value: Any) -> types.Value:
    """The contract's ``value`` for a Python value: ``str`` is text, ``bool`` boolean,
    ``int`` integer, ``float`` number, an :class:`Artifact` (see :func:`write_artifact`) an
    artifact, a ``dict``, ``list`` or :class:`Json` JSON."""
    if isinstance(value, bool):
        return types.Value_Boolean(value)
    if isinstance(value, int):
        return types.Value_Integer(value)
    if isinstance(value, float):
        return types.Value_Number(value)
    if isinstance(value, str):
        return types.Value_Text(value)
    if isinstance(value, types.Artifact):
        return types.Value_Artifact(value)
    if isinstance(value, Json):
        return types.Value_Json(json.dumps(value.value))
    if isinstance(value, (dict, list)):
        return types.Value_Json(json.dumps(value))
    if isinstance(
        value,
        (
            types.Value_Text,
            types.Value_Integer,
            types.Value_Number,
            types.Value_Boolean,
            types.Value_Artifact,
            types.Value_Json,
        ),
    ):
        return value
    raise TypeError(f"cannot return a {type(value).__name__} as a step output")


def from_value(value: types.Value) -> Any:
    """The Python value of an input: text ``str``, integer ``int``, number ``float``, boolean
    ``bool``, artifact :class:`Artifact`, JSON parsed."""
    if isinstance(value, types.Value_Json):
        return json.loads(value.value)
    return value.value


def outcome(
    summary: str = "",
    *,
    outputs: Mapping[str, Any] | None = None,
    findings: Iterable[Finding] = (),
) -> Outcome:
    """What a step produced: a one-line summary, outputs by name (Python values, see
    :func:`to_value`) and findings."""
    return types.Outcome(
        [(name, to_value(v)) for name, v in (outputs or {}).items()],
        list(findings),
        summary,
    )


# --- The invocation and its configuration ----------------------------------------------------


def _expected(names: Sequence[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    if not quoted:
        return "there are no fields"
    if len(quoted) == 1:
        return f"expected {quoted[0]}"
    if len(quoted) == 2:
        return f"expected {quoted[0]} or {quoted[1]}"
    return "expected one of " + ", ".join(quoted)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "a sequence"
    return "a map"


_KIND_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}


def _check(key: str, value: Any, hint: Any) -> Any:
    """``value`` converted to ``hint`` (a type annotation), or ``Failure.invalid``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is typing.Any:
        return value
    if origin is Union or origin is UnionType:
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(key, value, arg)
            except Failure as e:
                errors.append(e)
        raise errors[0]
    if origin in (list, Sequence, typing.List) or hint is list:  # noqa: UP006
        if not isinstance(value, list):
            raise Failure.invalid(
                f"invalid `with` table: `{key}`: invalid type: {_describe(value)}, expected a sequence"
            )
        item = args[0] if args else Any
        return [_check(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if origin in (dict, Mapping, typing.Dict) or hint is dict:  # noqa: UP006
        if not isinstance(value, dict):
            raise Failure.invalid(f"invalid `with` table: `{key}`: invalid type: {_describe(value)}, expected a map")
        return value
    if hint in _KIND_WORDS:
        ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise Failure.invalid(
                f"invalid `with` table: `{key}`: invalid type: {_describe(value)}, expected {_KIND_WORDS[hint]}"
            )
        return value
    return value


def parse_config(text: str, into: type[T] | None = None, *, known: Iterable[str] | None = None) -> Any:
    """Parses the ``with`` table (JSON text) into the dataclass ``into`` or a ``dict``.

    Keys are kebab-case in ``sluice.toml`` and snake_case fields in the dataclass
    (``max-words`` is ``max_words``). An unknown key, a missing field without a default or a
    value of the wrong type is :meth:`Failure.invalid` naming it. For a ``dict``, ``known``
    lists the accepted keys (``None``: any)."""
    try:
        table = json.loads(text) if text else {}
    except json.JSONDecodeError as e:
        raise Failure.invalid(f"invalid `with` table: {e.msg}") from None
    if not isinstance(table, dict):
        raise Failure.invalid("invalid `with` table: expected a table")
    if into is None or into is dict:
        if known is not None:
            names = list(known)
            for key in table:
                if key not in names:
                    raise Failure.invalid(f"invalid `with` table: unknown field `{key}`, {_expected(names)}")
        return table
    if not dataclasses.is_dataclass(into):
        raise TypeError(f"config() takes a dataclass or dict, not {into!r}")
    fields = [f for f in dataclasses.fields(into) if f.init]
    hints = typing.get_type_hints(into)
    by_key = {f.name.replace("_", "-"): f for f in fields}
    names = list(by_key)
    values: dict[str, Any] = {}
    for key, value in table.items():
        field = by_key.get(key) or by_key.get(key.replace("_", "-"))
        if field is None:
            raise Failure.invalid(f"invalid `with` table: unknown field `{key}`, {_expected(names)}")
        values[field.name] = _check(key, value, hints.get(field.name, Any))
    for key, field in by_key.items():
        no_default = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if field.name not in values and no_default:
            raise Failure.invalid(f"invalid `with` table: missing field `{key}`")
    return into(**values)


class Invocation:
    """One call of the step: its id, its ``with`` configuration and its inputs."""

    def __init__(self, raw: types.Invocation) -> None:
        #: The contract's record, as the host sent it.
        self.raw = raw
        #: The step id from the manifest.
        self.step: str = raw.step
        #: Declared inputs the pipeline set, as Python values (see :func:`from_value`).
        self.inputs: dict[str, Any] = {name: from_value(v) for name, v in raw.inputs}

    def config(self, into: type[T] | None = None, *, known: Iterable[str] | None = None) -> Any:
        """The ``with`` table less the declared inputs, as the dataclass ``into`` or a dict
        (see :func:`parse_config`)."""
        return parse_config(self.raw.config, into, known=known)

    def input(self, name: str, default: Any = None) -> Any:
        """An input's value, or ``default`` when the pipeline did not set it."""
        return self.inputs.get(name, default)

    def text(self, name: str, default: str | None = None) -> str | None:
        """A text input."""
        value = self.inputs.get(name)
        return value if isinstance(value, str) else default

    def artifact(self, name: str) -> Artifact | None:
        """An artifact input: ``.path`` (under ``/inputs/``, read-only) and ``.digest``."""
        value = self.inputs.get(name)
        return value if isinstance(value, types.Artifact) else None


# --- Host functions --------------------------------------------------------------------------


def log(level: str | host.Level, message: str) -> None:
    """Writes a line to the step's log (to the console at ``info`` and above); the host masks
    secret values."""
    host.log(_enum(host.Level, level, "log level"), message)


def trace(message: str) -> None:
    """Logs at ``trace`` level."""
    host.log(host.Level.TRACE, message)


def debug(message: str) -> None:
    """Logs at ``debug`` level."""
    host.log(host.Level.DEBUG, message)


def info(message: str) -> None:
    """Logs at ``info`` level."""
    host.log(host.Level.INFO, message)


def warn(message: str) -> None:
    """Logs at ``warn`` level."""
    host.log(host.Level.WARN, message)


def error(message: str) -> None:
    """Logs at ``error`` level (to fail the step, raise :meth:`Failure.error`)."""
    host.log(host.Level.ERROR, message)


def progress(done: int, total: int, message: str = "") -> None:
    """Reports progress: ``done`` of ``total`` units of work."""
    host.progress(done, total, message)


def secret(name: str) -> str | None:
    """A secret granted by ``allow.secrets``; ``None`` otherwise (the host logs the denial)."""
    return host.secret(name)


def digest(path: str) -> str:
    """``sha256:<hex>`` of a file the step can see, computed natively by the host. Raises
    ``OSError`` when the step cannot see it."""
    try:
        return host.digest(path)
    except Err as e:
        raise OSError(str(e.value)) from None


def run_info() -> host.RunDetails:
    """The run's id, the pipeline's name, this step's id and the milliseconds left before the
    step's deadline. A step that asks is never replayed from the step-result cache."""
    return host.run_info()


def uncacheable(reason: str) -> None:
    """Tells the host not to replay this call's result in a later run (shown by
    ``sluice run --explain-cache``)."""
    host.uncacheable(reason)


def provenance(path: str) -> Any:
    """How an artifact input was made in this run, as the host recorded it (a parsed JSON
    document; see ``docs/provenance.md``). Raises ``ValueError`` for a path that is not an
    artifact input made by a step of this run."""
    try:
        return json.loads(_provenance.artifact(path))
    except Err as e:
        raise ValueError(str(e.value)) from None


def workspace_path(relative: str) -> str:
    """The guest path of a workspace-relative path: ``workspace_path("go.mod")`` is
    ``/workspace/go.mod``."""
    relative = relative.removeprefix("./").lstrip("/")
    return f"{WORKSPACE}/{relative}" if relative not in ("", ".") else WORKSPACE


def write_artifact(name: str, data: bytes | str, media_type: str | None = None) -> Artifact:
    """Writes ``data`` to ``/outputs/<name>`` and returns it as an artifact, ready to be
    returned as an output (the host computes its digest)."""
    if not name or "/" in name or name in (".", ".."):
        raise Failure.error(f"artifact name {name!r} must be a plain file name")
    path = f"{OUTPUTS}/{name}"
    try:
        with open(path, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    except OSError as e:
        raise Failure.error(f"cannot write {path}: {e.strerror or e}") from None
    return types.Artifact(path, "", media_type)


# --- The plugin and its export ---------------------------------------------------------------


class Plugin:
    """A pipeline step: override :meth:`describe` and :meth:`run`, then export the class
    with ``WitWorld = sluice_sdk.export(MyPlugin)``."""

    def describe(self) -> PluginInfo:
        """What the plugin is, takes, returns and needs (see :func:`plugin_info`). Must not
        depend on anything but the plugin."""
        raise NotImplementedError

    def run(self, invocation: Invocation) -> Outcome:
        """Runs the step once; raise a :class:`Failure` to fail it."""
        raise NotImplementedError


#: At most this many bytes of a traceback go to the step's log.
TRACEBACK_LIMIT = 8192


def call_run(plugin: Plugin, raw: types.Invocation) -> Outcome:
    """Runs ``plugin`` on ``raw`` the way the component does: a :class:`Failure` becomes the
    contract's ``failure``; any other exception becomes ``error`` with its type and message,
    and its traceback goes to the log."""
    try:
        result = plugin.run(Invocation(raw))
        if not isinstance(result, types.Outcome):
            raise TypeError(f"run() returned {type(result).__name__}, not an Outcome (use sluice_sdk.outcome)")
        return result
    except Failure as failure:
        raise Err(failure.to_wit()) from None
    except Exception as e:  # noqa: BLE001 - every exception is the step's error
        tb = traceback.format_exc()
        if len(tb) > TRACEBACK_LIMIT:
            tb = "…" + tb[-TRACEBACK_LIMIT:]
        host.log(host.Level.ERROR, tb.rstrip())
        message = str(e)
        raise Err(types.Failure_Error(f"{type(e).__name__}: {message}" if message else type(e).__name__)) from None


def export(plugin: type[Plugin]) -> type:
    """The class componentize-py exports as the component's ``describe`` and ``run``; bind it
    to ``WitWorld`` in the plugin's module."""
    instance = plugin()

    class WitWorld:
        def describe(self) -> types.PluginInfo:
            return instance.describe()

        def describe_options(self) -> list[types.OptionSpec]:
            return option_specs(instance.describe())

        def run(self, invocation: types.Invocation) -> types.Outcome:
            return call_run(instance, invocation)

    WitWorld.__name__ = WitWorld.__qualname__ = f"WitWorld[{plugin.__name__}]"
    return WitWorld
