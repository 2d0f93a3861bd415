"""The contract's expression language (derived values, cross-key rules): what it computes, what it refuses, and
rules applied by the validator as a JSON Schema keyword."""

from __future__ import annotations

import pytest

from tao_skill.expressions import ExpressionError, MissingKey, compile_expression, render
from tao_skill.rules import derived_values
from tao_skill.schema_errors import issues_from_errors
from tao_skill.validation import validator_for

SPEC = {"d": {"n": 4, "lights": {"a": 0, "b": 1}, "h": 32, "kind": "grid", "grid": {"x": 2}}}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("d.n == len(d.lights)", False),
        ("d.n * d.h if d.kind != 'grid' else int(get(d.grid, 'y', 1)) * d.h", 32),
        ("max(d.n, 9) // 2 + abs(-1) - d.n % 3", 4),
        ("'c' in d.lights or not d.n < 4", True),
        ("'a' in d.lights and d.missing_flag != 1", False),
        ("[d.n, d.h] if d.kind == 'grid' else None", [4, 32]),
    ],
)
def test_expressions_compute_over_dotted_keys(text: str, value: object) -> None:
    try:
        result = compile_expression(text).evaluate(SPEC)
    except MissingKey:
        result = False
    assert result == value


@pytest.mark.parametrize(
    "text",
    ["__import__('os')", "d.__class__", "open('x')", "(lambda: 1)()", "[x for x in d]", "d.n(1)", "f'{d}'", "d[0]"],
)
def test_expressions_refuse_anything_else(text: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(text)


def test_missing_keys_and_rendering() -> None:
    expression = compile_expression("d.n + d.absent.x")
    assert expression.keys() == ["d.n", "d.absent.x"]
    with pytest.raises(MissingKey):
        expression.evaluate(SPEC)
    assert render("n={d.n}, lights={len(d.lights)}, gone={d.gone}", SPEC) == "n=4, lights=2, gone=?"


def test_rules_are_a_schema_keyword_and_derived_values_follow_the_spec() -> None:
    schema = {
        "type": "object",
        "properties": {
            "d": {"type": "object", "properties": {"n": {"type": "integer"}, "h2": {"x-derived": "d.h * 2"}}}
        },
        "x-rules": [
            {"name": "n_matches", "path": "d.n", "check": "d.n == len(d.lights)", "message": "{d.n} vs {len(d.lights)}",
             "hint": "set d.n={len(d.lights)}"},
            {"name": "skipped", "path": "d.n", "check": "d.n > d.absent"},
        ],
    }  # fmt: skip
    issues = issues_from_errors(validator_for(schema).iter_errors(SPEC))
    assert [(i.path, i.rule, i.message, i.hint, i.value) for i in issues] == [
        ("d.n", "n_matches", "4 vs 2", "set d.n=2", 4)
    ]
    assert validator_for(schema).is_valid({"d": {"n": 2, "lights": {"a": 0, "b": 1}}})
    assert list(derived_values(schema, SPEC)) == [("d.h2", 64, ["d.h"])]
    assert list(derived_values(schema, {"d": {}})) == []
