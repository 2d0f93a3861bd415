"""The one declaration of a request: what to run, with which spec, data, parent and AutoML choice.

``plan(request)`` and ``run(request)`` take it; the CLI's options (:func:`add_arguments`, :func:`from_args`) and
the MCP tools' input schemas (:func:`input_schema`) are derived from its fields, so the four interfaces cannot
drift. Lists of ``key=value`` strings (the CLI's form) are accepted wherever a mapping is expected.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import ConfigDict, Field, ValidationError, field_validator

from tao_skill.errors import Issue, LazyModel, UserError
from tao_skill.launchers import BACKENDS

__all__ = [
    "Request",
    "CliOption",
    "POLICIES",
    "add_arguments",
    "from_args",
    "input_schema",
    "plain_schema",
    "settings_schema",
    "parse",
    "as_request",
]

#: ``auto`` leaves the choice to the request's words, then the default (on for train).
POLICIES = ("on", "off", "auto")


def _any_case(word: str) -> str:
    """A JSON Schema (ECMA 262) pattern for ``word`` in any letter case (no inline flags there)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


#: best | latest | epoch=N | step=N, as :func:`tao_skill.checkpoints.parse_selector` reads them.
_SELECTOR_PATTERN = (
    rf"^\s*({_any_case('best')}|{_any_case('latest')}|({_any_case('epoch')}|{_any_case('step')})\s*[=:]\s*\d+)\s*$"
)
_POLICY_ALIASES = {"true": "on", "false": "off", "yes": "on", "no": "off", "1": "on", "0": "off", "": "auto"}


@dataclass(frozen=True)
class CliOption:
    """How a field appears on the command line.

    ``kind``: ``positional``; ``value`` (one value); ``append`` (repeatable, a list); ``pairs`` (repeatable
    ``NAME=VALUE``, a mapping; ``typed`` values are read as YAML); ``assignments`` (``key=value`` as trailing
    arguments and with the flags, a mapping read as YAML).
    """

    flags: tuple[str, ...] = ()
    kind: Literal["positional", "value", "append", "pairs", "assignments"] = "value"
    metavar: str | None = None
    typed: bool = False
    choices: tuple[str, ...] | None = None


def _pairs(value: Any, *, what: str, typed: bool) -> Any:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (YAML-typed when ``typed``); a mapping passes through."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return value
    from tao_skill import overrides as ov

    result: dict[str, Any] = {}
    bad = []
    for item in value:
        name, sep, raw = str(item).partition("=")
        if not sep or not name.strip() or (not typed and not raw.strip()):
            bad.append(str(item))
            continue
        result[name.strip()] = ov.parse_assignments([f"x={raw}"])["x"] if typed else raw.strip()
    if bad:
        example = "max_trials=8" if typed else "train_datasets=s3://bucket/oi/train"
        raise ValueError(f"{', '.join(repr(b) for b in bad)} not NAME=VALUE (e.g. {example})")
    return result


class Request(LazyModel):
    """A plan/run request. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    skill: Annotated[
        str,
        CliOption(kind="positional"),
        Field(description="skill name (a folder of the skill bank, as `tao-skill list` shows) or its network_arch"),
    ]
    action: Annotated[
        str,
        CliOption(kind="positional"),
        Field(description="an action of the skill, e.g. train, evaluate, inference, export, gen_trt_engine"),
    ]
    overrides: Annotated[
        dict[str, Any],
        CliOption(("-o", "--override"), kind="assignments", metavar="KEY=VALUE"),
        Field(
            default_factory=dict,
            description="spec overrides: dotted keys or shorthands -> values (YAML-typed from the CLI); "
            "applied after spec files",
        ),
    ]
    override_files: Annotated[
        list[str],
        CliOption(("-f", "--override-file"), kind="append", metavar="FILE"),
        Field(
            default_factory=list,
            description="spec files (YAML or JSON, e.g. a whole TAO spec), applied in order over the template and "
            "under inline overrides",
        ),
    ]
    data_sources: Annotated[
        dict[str, str],
        CliOption(("--data",), kind="pairs", metavar="NAME=URI"),
        Field(
            default_factory=dict,
            description="data source name -> local folder or s3:// prefix holding images.tar.gz + dataset.csv",
        ),
    ]
    parent_job_id: Annotated[
        str | None,
        CliOption(("--parent",), metavar="JOB_ID"),
        Field(default=None, description="chain from this job: its model file is used (an AutoML job: its best trial)"),
    ]
    checkpoint: Annotated[
        str,
        CliOption(("--checkpoint",)),
        Field(
            default="best",
            json_schema_extra={"pattern": _SELECTOR_PATTERN},
            description="which checkpoint of a train parent: best (by the skill's metric), latest, epoch=N (epochs "
            "count from 0) or step=N",
        ),
    ]
    automl_policy: Annotated[
        Literal["on", "off", "auto"] | None,
        CliOption(("--automl-policy",)),
        Field(
            default=None,
            description="train only: on routes through AutoML, off trains directly, auto (or none) decides from "
            "request_text, then the default (on)",
        ),
    ]
    automl_settings: Annotated[
        dict[str, Any] | None,
        CliOption(("--automl-setting",), kind="pairs", metavar="KEY=VALUE", typed=True),
        Field(
            default=None,
            description="AutoML study settings (algorithm, max_trials, max_epochs, metric, parallel, timeout, ...); "
            "used on the AutoML route",
        ),
    ]
    request_text: Annotated[
        str | None,
        CliOption(("--request",), metavar="TEXT"),
        Field(
            default=None,
            description="the user's words; 'no AutoML', 'AutoML is not needed', 'plain training' turn AutoML off",
        ),
    ]
    backend: Annotated[
        str | None,
        CliOption(("--backend",), choices=tuple(BACKENDS)),
        Field(
            default=None,
            json_schema_extra={"enum": list(BACKENDS)},
            description="where the job runs: local (the embedded trainer), docker (TAO's containers) or ray (a Ray "
            "cluster: RAY_ADDRESS and TAO_SKILL_RESULTS_URI in the environment); default: the skill's first backend",
        ),
    ]

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str | None) -> str | None:
        if value is not None and value not in BACKENDS:
            raise ValueError(f"'{value}' is not a backend; one of: {', '.join(BACKENDS)}")
        return value

    @field_validator("overrides", mode="before")
    @classmethod
    def _assignments(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, (list, tuple, str)):
            from tao_skill import overrides as ov

            return ov.parse_assignments([value] if isinstance(value, str) else list(value))
        return value

    @field_validator("data_sources", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> Any:
        value = _pairs(value, what="data_sources", typed=False)
        return {} if value is None else {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("automl_settings", mode="before")
    @classmethod
    def _settings(cls, value: Any) -> Any:
        return _pairs(value, what="automl_settings", typed=True) or None

    @field_validator("override_files", mode="before")
    @classmethod
    def _files(cls, value: Any) -> Any:
        if value is None:
            return []
        return [str(value)] if isinstance(value, str) else [str(v) for v in value]

    @field_validator("checkpoint")
    @classmethod
    def _selector(cls, value: str) -> str:
        from tao_skill.checkpoints import parse_selector

        try:
            parse_selector(value)
        except UserError as exc:  # reported with the request's other problems
            raise ValueError(f"{exc.issues[0].message} ({exc.issues[0].hint})") from None
        return value.strip()

    @field_validator("automl_policy", mode="before")
    @classmethod
    def _policy(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, str):
            text = value.strip().lower()
            return _POLICY_ALIASES.get(text, text)
        return value


def _issues(error: ValidationError) -> list[Issue]:
    issues = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "request"
        field = Request.model_fields.get(str(item["loc"][0])) if item["loc"] else None
        choices = _choices(field.annotation) if field is not None else None
        hint = f"one of: {', '.join(choices)}" if choices else (field.description or "" if field else "")
        if item["type"] == "extra_forbidden":
            from tao_skill._suggest import did_you_mean

            hint = did_you_mean(path, list(Request.model_fields)) or f"fields: {', '.join(Request.model_fields)}"
        issues.append(
            Issue(path=path, value=item.get("input") if not isinstance(item.get("input"), dict) else None,
                  rule=f"request.{item['type']}", message=f"{path}: {item['msg']}", hint=hint)
        )  # fmt: skip
    return issues


def as_request(request: Request | str | None, action: str | None, fields: dict[str, Any]) -> Request:
    """The Request behind ``plan(request)`` or ``plan(skill, action, **fields)`` (both forms are accepted)."""
    if isinstance(request, Request):
        if action is not None or fields:
            update = {"action": action} if action is not None else {}
            return parse({**request.model_dump(), **update, **fields})
        return request
    return parse({"skill": request, "action": action, **fields})


def parse(data: Request | dict[str, Any]) -> Request:
    """A Request from a mapping; every problem at once as a UserError (exit code 2)."""
    if isinstance(data, Request):
        return data
    try:
        return Request.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"invalid request: {len(exc.errors())} problem(s)", _issues(exc)) from None


# ------------------------------------------------------------------------------------------------ CLI
def _choices(annotation: Any) -> list[str] | None:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        return [str(a) for a in get_args(annotation)]
    for arg in args:
        if get_origin(arg) is Literal:
            return [str(a) for a in get_args(arg)]
    return None


def _option(name: str) -> CliOption:
    return next(m for m in Request.model_fields[name].metadata if isinstance(m, CliOption))


def _dest(name: str) -> str:
    """The argparse destination of a field: its long flag's name (``--data`` -> ``data``), as argparse would."""
    option = _option(name)
    if option.kind == "positional":
        return name
    long = next(f for f in option.flags if f.startswith("--"))
    return long[2:].replace("-", "_")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The request's fields as argparse arguments (help from each field's description)."""
    for name, field in Request.model_fields.items():
        option = _option(name)
        text = (field.description or "").replace("%", "%%")
        if option.kind == "positional":
            parser.add_argument(name, help=text)
            continue
        if option.kind == "assignments":
            parser.add_argument("assignments", nargs="*", metavar="key=value", help="spec overrides (dotted keys)")
        kwargs: dict[str, Any] = {"dest": _dest(name), "help": text}
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if option.kind in ("append", "pairs", "assignments"):
            kwargs["action"] = "append"
        else:
            choices = list(option.choices) if option.choices else _choices(field.annotation)
            if choices and name == "automl_policy":
                choices = [*choices, "true", "false"]
            if choices:
                kwargs["choices"] = choices
            if field.default not in (None, ...) and not callable(field.default):
                kwargs["default"] = field.default
                kwargs["help"] = f"{text} (default {field.default})"
        parser.add_argument(*option.flags, **kwargs)


def from_args(args: argparse.Namespace) -> Request:
    """The Request an argparse namespace (built by :func:`add_arguments`) holds."""
    data: dict[str, Any] = {}
    for name in Request.model_fields:
        value = getattr(args, _dest(name), None)
        if _option(name).kind == "assignments":
            value = list(getattr(args, "assignments", None) or []) + list(value or [])
        if value is not None and value != []:
            data[name] = value
    return parse(data)


# ------------------------------------------------------------------------------------------------ MCP
def plain_schema(node: Any) -> Any:
    """Pydantic's schema made plain for tool clients: optional fields lose the ``null`` branch, titles go."""
    if isinstance(node, dict):
        node = {k: plain_schema(v) for k, v in node.items() if k != "title"}
        options = node.get("anyOf")
        if isinstance(options, list):
            kept = [o for o in options if o != {"type": "null"}]
            if len(kept) == 1 and len(kept) < len(options):
                node.pop("anyOf")
                node = {**kept[0], **node}
                if node.get("default", ...) is None:
                    node.pop("default")  # "not given", which a client expresses by leaving the key out
        return node
    if isinstance(node, list):
        return [plain_schema(v) for v in node]
    return node


def input_schema(**extra: dict[str, Any]) -> dict[str, Any]:
    """The request as a tool input schema (JSON Schema, object); ``extra`` adds properties (e.g. ``wait``)."""
    schema = plain_schema(Request.model_json_schema())
    schema["properties"].update(extra)
    schema["additionalProperties"] = False
    return schema


def settings_schema() -> dict[str, Any]:
    """The AutoML settings' properties (from the engine's Settings model, which imports no engine)."""
    from tao_skill.automl.settings import ALIASES, Settings

    properties = plain_schema(Settings.model_json_schema()).get("properties", {})
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": True,
        "description": "AutoML study settings, used on the AutoML route; TAO's names are accepted too ("
        + ", ".join(sorted(ALIASES))
        + ")",
    }
