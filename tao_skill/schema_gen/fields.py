"""A small typed vocabulary for config fields, stored as dataclass metadata under TAO's key names.

Our configs declare fields with :func:`config_field`; TAO Core's configs use their own ``*_FIELD`` helpers. Both
end up as ``dataclasses.Field.metadata`` dicts with the same keys (``default_value``, ``valid_min``,
``valid_options``, ``automl_enabled``, ``math_cond``, ...), so one reader, :meth:`FieldMeta.from_metadata`,
serves both. TAO stores flags as strings (``"TRUE"``, ``"yes"``) and bounds as ``"inf"``; the reader normalises
them and reports contradictions as warnings instead of failing.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FieldMeta",
    "MathCondition",
    "config_field",
    "parse_math_cond",
    "KNOWN_METADATA_KEYS",
    "ActionSpec",
    "CrossKeyRule",
]

#: Metadata keys TAO Core's field helpers write (nvidia_tao_core.config.utils.types) plus ours.
KNOWN_METADATA_KEYS = frozenset(
    {
        "display_name",
        "value_type",
        "description",
        "default_value",
        "examples",
        "valid_min",
        "valid_max",
        "valid_options",
        "option_weights",
        "required",
        "popular",
        "regex",
        "automl_enabled",
        "math_cond",
        "parent_param",
        "depends_on",
        "union_types",
        "literal_values",
        # ours: a key TAO's container does not have (the embedded trainer only), values of a key only the embedded
        # trainer runs, a key a child job takes from its parent, a value computed from other keys
        "tao_extension",
        "extension_options",
        "inherit",
        "derived",
    }
)

_TRUE_STRINGS = {"true", "yes", "y", "1", "on"}
_FALSE_STRINGS = {"false", "no", "n", "0", "off", ""}
_MATH_COND = re.compile(r"^\s*(>=|<=|>|<|==|!=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class MathCondition:
    """A bound written as text in TAO's ``math_cond`` (``"> 0.0"``)."""

    operator: str
    value: float

    def __str__(self) -> str:
        return f"{self.operator} {self.value:g}"


def parse_math_cond(text: Any) -> MathCondition | None:
    """Parse ``"> 0.0"``-style conditions; return None for empty or unparseable text."""
    if text in (None, ""):
        return None
    match = _MATH_COND.match(str(text))
    if not match:
        return None
    return MathCondition(match.group(1), float(match.group(2)))


def _as_bool_flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE_STRINGS:
        return True
    if text in _FALSE_STRINGS:
        return False
    return None


def _as_bound(value: Any) -> float | None:
    """Return a finite bound, or None for "no bound" (empty, "inf", "-inf", None)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isinf(number) or math.isnan(number):
        return None
    if number == int(number) and not isinstance(value, float) and "." not in str(value):
        return int(number)
    return number


def _as_options(value: Any) -> list[Any] | None:
    if value in (None, ""):
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    return [item.strip() for item in str(value).split(",") if item.strip() != ""]


def _as_weights(value: Any) -> list[float] | None:
    if value in (None, ""):
        return None
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        return [float(item) for item in items]
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class FieldMeta:
    """Typed view of one field's metadata, whichever helper wrote it.

    ``warnings`` lists what could not be read as declared (unknown keys, malformed values); the caller decides
    how to report it, with the field's key path.
    """

    description: str = ""
    display_name: str = ""
    default_value: Any = None
    has_default_value: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    math_cond: str = ""
    options: list[Any] | None = None
    option_weights: list[float] | None = None
    automl_enabled: bool | None = None
    popular: bool = False
    required: bool = False
    depends_on: str = ""
    value_type: str = ""
    tao_extension: bool = False
    extension_options: list[Any] | None = None
    inherit: bool = False
    derived: str = ""
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_metadata(cls, metadata: Any) -> FieldMeta:
        """Read a field's metadata mapping (ours or TAO Core's)."""
        meta = dict(metadata or {})
        warnings: list[str] = []
        unknown = sorted(set(meta) - KNOWN_METADATA_KEYS)
        if unknown:
            warnings.append(f"unknown metadata key(s) {', '.join(unknown)} ignored")
        minimum = _as_bound(meta.get("valid_min"))
        maximum = _as_bound(meta.get("valid_max"))
        for key in ("valid_min", "valid_max"):
            raw = meta.get(key)
            if raw not in (None, "") and _as_bound(raw) is None and str(raw).strip().lower().lstrip("+-") != "inf":
                warnings.append(f"{key}={raw!r} is not a number; ignored")
        exclusive_minimum = exclusive_maximum = None
        raw_cond = meta.get("math_cond") or ""
        cond = parse_math_cond(raw_cond)
        if raw_cond and cond is None:
            warnings.append(f"math_cond={raw_cond!r} is not of the form '<op> <number>'; kept as annotation only")
        if cond is not None:
            if cond.operator == ">":
                exclusive_minimum = cond.value
                if minimum is not None and minimum <= cond.value:
                    minimum = None
            elif cond.operator == ">=":
                minimum = cond.value if minimum is None else max(minimum, cond.value)
            elif cond.operator == "<":
                exclusive_maximum = cond.value
                if maximum is not None and maximum >= cond.value:
                    maximum = None
            elif cond.operator == "<=":
                maximum = cond.value if maximum is None else min(maximum, cond.value)
        automl_raw = meta.get("automl_enabled")
        automl = None if automl_raw in (None, "") else _as_bool_flag(automl_raw)
        if automl_raw not in (None, "") and automl is None:
            warnings.append(f"automl_enabled={automl_raw!r} is not a boolean flag; ignored")
        weights_raw = meta.get("option_weights")
        weights = _as_weights(weights_raw)
        if weights_raw not in (None, "") and weights is None:
            warnings.append(f"option_weights={weights_raw!r} are not numbers; ignored")
        return cls(
            description=" ".join(str(meta.get("description") or "").split()),
            display_name=str(meta.get("display_name") or ""),
            default_value=meta.get("default_value"),
            has_default_value="default_value" in meta and meta.get("default_value") not in (None, ""),
            minimum=minimum,
            maximum=maximum,
            exclusive_minimum=exclusive_minimum,
            exclusive_maximum=exclusive_maximum,
            math_cond=str(raw_cond),
            options=_as_options(meta.get("valid_options")),
            option_weights=weights,
            automl_enabled=automl,
            popular=bool(_as_bool_flag(meta.get("popular"))),
            required=bool(_as_bool_flag(meta.get("required"))),
            depends_on=str(meta.get("depends_on") or ""),
            value_type=str(meta.get("value_type") or ""),
            tao_extension=bool(_as_bool_flag(meta.get("tao_extension"))),
            extension_options=_as_options(meta.get("extension_options")),
            inherit=bool(_as_bool_flag(meta.get("inherit"))),
            derived=str(meta.get("derived") or ""),
            warnings=tuple(warnings),
        )


def _bound_text(value: float | None) -> str | float:
    return "inf" if value is None else value


def config_field(
    default: Any = dataclasses.MISSING,
    *,
    description: str = "",
    display_name: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    exclusive_maximum: float | None = None,
    options: list[Any] | None = None,
    option_weights: list[float] | None = None,
    automl: bool | None = None,
    popular: bool = False,
    required: bool = False,
    depends_on: str = "",
    extension: bool = False,
    extension_options: list[Any] | None = None,
    inherit: bool = False,
    derived: str = "",
) -> Any:
    """Declare a config field; metadata is written under TAO's key names and in TAO's formats.

    - ``default``: the value that runs. Mutable defaults (lists, dicts, dataclass instances) are deep-copied per
      instance. ``dataclasses.MISSING`` (no default) marks a value the user must give (``???`` in templates).
    - ``minimum``/``maximum``: inclusive bounds (``valid_min``/``valid_max``; None means unbounded, "inf").
    - ``exclusive_minimum``/``exclusive_maximum``: written as TAO's ``math_cond`` (``"> 0.0"``).
    - ``options`` and ``option_weights``: the allowed values and their AutoML sampling weights.
    - ``automl``: True: searched by AutoML by default; False: never searchable (structural keys); None: not searched
      by default, but a user may add it to a study.
    - ``extension``: a key TAO's container does not know (runs on the embedded trainer only);
      ``extension_options``: the values of ``options`` that only the embedded trainer runs (e.g. a model type).
    - ``inherit``: a child job (evaluate, export...) takes this key (a whole section, for a dataclass field) from its
      parent job, so the model it loads matches.
    - ``derived``: an expression (:mod:`tao_skill.expressions`) over other keys whose value this key takes unless
      the user sets it.
    """
    if exclusive_minimum is not None and exclusive_maximum is not None:
        raise ValueError("TAO's math_cond holds one condition: give exclusive_minimum or exclusive_maximum")
    if option_weights is not None and (options is None or len(option_weights) != len(options)):
        raise ValueError("option_weights needs options of the same length")
    math_cond = ""
    if exclusive_minimum is not None:
        math_cond = f"> {exclusive_minimum}"
    elif exclusive_maximum is not None:
        math_cond = f"< {exclusive_maximum}"
    metadata: dict[str, Any] = {
        "description": description,
        "display_name": display_name,
        "default_value": None if default is dataclasses.MISSING else copy.deepcopy(default),
        "valid_min": "" if minimum is None and exclusive_minimum is None else _bound_min(minimum, exclusive_minimum),
        "valid_max": "" if maximum is None and exclusive_maximum is None else _bound_max(maximum, exclusive_maximum),
        "valid_options": ",".join(str(option) for option in options) if options else "",
        "option_weights": list(option_weights) if option_weights else None,
        "automl_enabled": "" if automl is None else ("TRUE" if automl else "FALSE"),
        "popular": "yes" if popular else "",
        "required": "yes" if required or default is dataclasses.MISSING else "",
        "math_cond": math_cond,
        "depends_on": depends_on,
    }
    if extension:
        metadata["tao_extension"] = "TRUE"
    if extension_options:
        metadata["extension_options"] = list(extension_options)
    if inherit:
        metadata["inherit"] = "TRUE"
    if derived:
        metadata["derived"] = derived
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    if isinstance(default, (list, dict, set)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def _bound_min(minimum: float | None, exclusive_minimum: float | None) -> str | float:
    return _bound_text(minimum if minimum is not None else exclusive_minimum)


def _bound_max(maximum: float | None, exclusive_maximum: float | None) -> str | float:
    return _bound_text(maximum if maximum is not None else exclusive_maximum)


@dataclass(frozen=True)
class ActionSpec:
    """What one action of a model reads: its config sections and the key paths it cannot run without.

    ``required`` holds dotted key paths; ``"a.b|a.c"`` means one of them must be given. ``trains`` marks the
    actions whose schema advertises the AutoML (training) search space.
    """

    name: str
    sections: tuple[str, ...]
    required: tuple[str, ...] = ()
    trains: bool = False
    description: str = ""


@dataclass(frozen=True)
class CrossKeyRule:
    """A rule between keys that one key's schema cannot state, written into the schemas as ``x-rules`` data.

    ``check`` is an expression (:mod:`tao_skill.expressions`) that must hold; ``path`` is the key an issue names;
    ``message`` and ``hint`` may embed ``{expressions}``. The rule goes into every action schema that validates all
    the keys it reads (only ``actions`` when given).
    """

    name: str
    check: str
    path: str
    message: str = ""
    hint: str = ""
    actions: tuple[str, ...] = ()

    def as_schema(self) -> dict[str, Any]:
        """The rule as it appears in a schema's ``x-rules`` list."""
        out: dict[str, Any] = {"name": self.name, "path": self.path, "check": self.check}
        if self.message:
            out["message"] = self.message
        if self.hint:
            out["hint"] = self.hint
        return out
