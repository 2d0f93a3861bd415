"""The AutoML search space, read from the packaged train schema.

Rules (documented in skills/tao-run-automl/references/search-space.md):
- Parameters: the schema's ``automl_default_parameters``, plus the user's additions, minus the user's removals. A
  parameter in ``automl_disabled_parameters``, or one the schema does not have, is refused (with a did-you-mean).
- Numbers: bounds from ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``. An exclusive bound is
  nudged inwards by a relative 1e-6 (Optuna samples closed intervals). An infinite (absent) upper bound becomes
  ``max(default * 10, lower * 10)``; an absent lower bound becomes ``default / 10`` for positive defaults, else
  ``-|default| * 10`` (so TAO's learning rate is searched in (0, 5e-3] around its default, not [0, 5e-4]).
- Log scale: learning rates, weight decay and other positive scale parameters whose range spans more than a decade
  and whose lower bound is > 0 (an exclusive minimum of 0 becomes default / 10).
- Integers: as numbers, rounded; log scale when the range spans more than a decade.
- Enums: a categorical choice; ``option_weights`` are honoured by sampling a uniform number and mapping it through
  the cumulative weights (Optuna's categorical distribution has no weights).
- Booleans: categorical [false, true].
- ``depends_on`` (a dotted path to a boolean): the parameter is sampled only when that flag is sampled true (or, if
  the flag is not searched, when its spec value is true). Without an explicit depends_on, a field of a section whose
  sibling ``enable`` flag is searched depends on that flag; otherwise a ``depends_on`` on an enclosing section (e.g.
  an augmentation section switched by its own ``augment`` flag) applies to every parameter in it but the flag,
  when the flag is searched.
- ``math_cond`` ("> 0.0", ">= 1 and < 10"): its bounds apply where the schema states none (our generator already
  turns them into exclusiveMinimum/...; schemas from elsewhere may carry only the condition).
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from tao_skill._schema_walk import leaf_schemas, walk
from tao_skill.errors import Issue, UserError
from tao_skill.overrides import get_dotted

LOG_SCALE_HINTS = ("lr", "learning_rate", "weight_decay", "eps", "decay")


@dataclass(frozen=True)
class Param:
    """One searched parameter."""

    path: str
    kind: str  # "float" | "int" | "categorical" | "bool"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    weights: tuple[float, ...] | None = None
    depends_on: str | None = None
    default: Any = None

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (for reports and agents)."""
        out: dict[str, Any] = {"path": self.path, "kind": self.kind, "default": self.default}
        if self.kind in ("float", "int"):
            out.update(low=self.low, high=self.high, log=self.log)
        else:
            out["choices"] = list(self.choices)
            if self.weights:
                out["weights"] = list(self.weights)
        if self.depends_on:
            out["depends_on"] = self.depends_on
        return out


@dataclass
class SearchSpace:
    """The parameters of a study, in a fixed order (so samplers see the same space in every worker)."""

    params: list[Param] = field(default_factory=list)

    def by_path(self) -> dict[str, Param]:
        return {p.path: p for p in self.params}

    def sample(self, trial: Any, base_spec: dict[str, Any] | None = None) -> dict[str, Any]:
        """Ask ``trial`` (an optuna.Trial) for a value of every active parameter; returns dotted path -> value."""
        values: dict[str, Any] = {}
        for param in self.params:
            if not self._active(param, values, base_spec or {}):
                continue
            values[param.path] = suggest(trial, param)
        return values

    def _active(self, param: Param, values: dict[str, Any], base_spec: dict[str, Any]) -> bool:
        if not param.depends_on:
            return True
        if param.depends_on in values:
            return bool(values[param.depends_on])
        return bool(get_dotted(base_spec, param.depends_on))

    def grid(self, points: int = 3) -> dict[str, list[Any]]:
        """A finite grid for Optuna's GridSampler: low/mid/high for numbers, every choice otherwise."""
        out: dict[str, list[Any]] = {}
        for param in self.params:
            if param.kind == "float":
                assert param.low is not None and param.high is not None
                if param.log:
                    ratio = (param.high / param.low) ** (1 / (points - 1))
                    out[param.path] = [param.low * ratio**i for i in range(points)]
                else:
                    out[param.path] = [param.low + (param.high - param.low) * i / (points - 1) for i in range(points)]
            elif param.kind == "int":
                assert param.low is not None and param.high is not None
                out[param.path] = sorted(
                    {round(param.low + (param.high - param.low) * i / (points - 1)) for i in range(points)}
                )
            else:
                out[param.path] = list(param.choices)
        return out


def suggest(trial: Any, param: Param) -> Any:
    """One value of ``param`` from an Optuna trial."""
    if param.kind == "float":
        return trial.suggest_float(param.path, param.low, param.high, log=param.log)
    if param.kind == "int":
        return trial.suggest_int(param.path, int(param.low), int(param.high), log=param.log)
    if param.weights:
        u = trial.suggest_float(f"{param.path}#u", 0.0, 1.0)
        cumulative = list(_cumulative(param.weights))
        index = min(bisect.bisect_right(cumulative, u * cumulative[-1]), len(param.choices) - 1)
        value = param.choices[index]
        trial.set_user_attr(param.path, value)
        return value
    return trial.suggest_categorical(param.path, list(param.choices))


def _cumulative(weights: tuple[float, ...]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += max(weight, 0.0)
        out.append(total)
    return out


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    return [k for k in ([kind] if isinstance(kind, str) else list(kind or [])) if k != "null"]


_MATH_COND = re.compile(r"(>=|<=|>|<)\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_COND_KEYWORD = {">=": "minimum", ">": "exclusiveMinimum", "<=": "maximum", "<": "exclusiveMaximum"}


def with_math_cond(schema: dict[str, Any]) -> dict[str, Any]:
    """Bounds a bare ``math_cond`` (e.g. "> 0.0", ">= 1 and < 10") states, added where the schema has none."""
    cond = schema.get("math_cond")
    if not isinstance(cond, str):
        return schema
    out = dict(schema)
    for op, number in _MATH_COND.findall(cond):
        keyword = _COND_KEYWORD[op]
        pair = {"minimum": "exclusiveMinimum", "exclusiveMinimum": "minimum"}.get(keyword) or {
            "maximum": "exclusiveMaximum",
            "exclusiveMaximum": "maximum",
        }[keyword]
        if keyword not in out and pair not in out:
            out[keyword] = float(number)
    return out


def _numeric_range(path: str, schema: dict[str, Any], default: Any) -> tuple[float, float, bool]:
    schema = with_math_cond(schema)
    low = schema.get("minimum")
    exclusive_low = schema.get("exclusiveMinimum")
    high = schema.get("maximum")
    exclusive_high = schema.get("exclusiveMaximum")
    default_f = float(default) if isinstance(default, (int, float)) and not isinstance(default, bool) else None
    if low is None and exclusive_low is not None:
        low = exclusive_low
        if low == 0 and default_f and default_f > 0:
            low = default_f / 10.0
        else:
            low = low + abs(low) * 1e-6 if low != 0 else 1e-12
    if high is None and exclusive_high is not None:
        high = exclusive_high - abs(exclusive_high) * 1e-6 if exclusive_high != 0 else -1e-12
    if low is None:
        low = default_f / 10.0 if default_f and default_f > 0 else -(abs(default_f or 1.0) * 10.0)
    if high is None:
        anchor = max(default_f or 0.0, float(low), 0.0)
        high = anchor * 10.0 if anchor > 0 else float(low) + 10.0
    name = path.rsplit(".", 1)[-1]
    spans_decades = low > 0 and high / low >= 10.0
    log = spans_decades and (name in LOG_SCALE_HINTS or name.endswith("_lr") or high / low >= 100.0)
    return float(low), float(high), log


def param_from_schema(path: str, schema: dict[str, Any]) -> Param:
    """A Param for one leaf of the train schema."""
    default = schema.get("default")
    depends_on = schema.get("depends_on") or None
    kinds = _types(schema)
    if "enum" in schema:
        choices = tuple(v for v in schema["enum"] if v is not None)
        weights = schema.get("option_weights")
        return Param(
            path,
            "categorical",
            choices=choices,
            weights=tuple(weights) if weights else None,
            depends_on=depends_on,
            default=default,
        )
    if kinds == ["boolean"]:
        return Param(path, "bool", choices=(False, True), depends_on=depends_on, default=default)
    if kinds in (["number"], ["integer"]):
        low, high, log = _numeric_range(path, schema, default)
        if kinds == ["integer"]:
            return Param(
                path,
                "int",
                low=math.ceil(low),
                high=math.floor(high),
                log=log and low >= 1,
                depends_on=depends_on,
                default=default,
            )
        return Param(path, "float", low=low, high=high, log=log, depends_on=depends_on, default=default)
    raise UserError.single(
        f"automl.parameters.{path}",
        f"{path} ({'/'.join(kinds) or 'untyped'}) cannot be searched: only numbers, integers, booleans and enums can",
        rule="automl_parameter_type",
        value=path,
    )


def build_search_space(
    schema: dict[str, Any], *, add: list[str] | tuple[str, ...] = (), remove: list[str] | tuple[str, ...] = ()
) -> SearchSpace:
    """The search space of a train schema, with the user's additions and removals."""
    leaves = leaf_schemas(schema)
    defaults = list(schema.get("automl_default_parameters") or [])
    disabled = set(schema.get("automl_disabled_parameters") or [])
    issues: list[Issue] = []
    for path in [*add, *remove]:
        if path not in leaves:
            close = difflib.get_close_matches(path, list(leaves), n=1, cutoff=0.6)
            issues.append(
                Issue(
                    path=f"automl.parameters.{path}",
                    value=path,
                    rule="automl_unknown_parameter",
                    message=f"{path} is not a key of the train schema",
                    hint=f"did you mean {close[0]}?" if close else "see `tao-skill describe ... train`",
                )
            )
        elif path in add and path in disabled:
            issues.append(
                Issue(
                    path=f"automl.parameters.{path}",
                    value=path,
                    rule="automl_disabled_parameter",
                    message=f"{path} is disabled for AutoML (automl_disabled_parameters)",
                    hint="search another parameter; structural keys such as sizes and intervals are fixed",
                )
            )
    if issues:
        raise UserError("AutoML search space: bad parameter list", issues)
    chosen = [p for p in defaults if p not in set(remove)]
    chosen += [p for p in add if p not in chosen]
    params = [param_from_schema(path, leaves[path]) for path in chosen]
    sections = {
        key: node["depends_on"]
        for key, node in walk(schema)
        if node.get("properties") and isinstance(node.get("depends_on"), str) and node["depends_on"]
    }
    params = _with_implicit_dependencies(params, sections)
    return SearchSpace(params=_dependency_order(params))


def _with_implicit_dependencies(params: list[Param], sections: dict[str, str]) -> list[Param]:
    """Fill in the dependencies a parameter has through its section: a searched sibling ``enable`` flag, else the
    ``depends_on`` flag of the nearest enclosing section (``sections``: section key -> flag) when it is searched."""
    searched_bools = {p.path for p in params if p.kind == "bool"}
    out = []
    for param in params:
        depends = param.depends_on
        if depends is None:
            section = param.path.rsplit(".", 1)[0]
            sibling = f"{section}.enable"
            if param.path != sibling and sibling in searched_bools:
                depends = sibling
            else:
                enclosing = [k for k in sections if param.path.startswith(k + ".")]
                flag = sections[max(enclosing, key=len)] if enclosing else None
                if flag is not None and param.path != flag and flag in searched_bools:
                    depends = flag
        out.append(Param(**{**param.__dict__, "depends_on": depends}))
    return out


def _dependency_order(params: list[Param]) -> list[Param]:
    """Flags before the parameters that depend on them; otherwise schema order."""
    placed: list[Param] = []
    remaining = list(params)
    names: set[str] = set()
    while remaining:
        progressed = False
        for param in list(remaining):
            if not param.depends_on or param.depends_on in names or param.depends_on not in {p.path for p in params}:
                placed.append(param)
                names.add(param.path)
                remaining.remove(param)
                progressed = True
        if not progressed:  # a cycle: keep the rest as they are
            placed.extend(remaining)
            break
    return placed
