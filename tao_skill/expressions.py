"""Safe expressions over a spec, the language of a skill's derived values and cross-key rules.

``dataset.lights == len(dataset.light_names)``: a dotted name is the spec value at that key; numbers, strings,
``None``/``True``/``False``, arithmetic (``+ - * / // %``), comparisons (``in`` included), ``and``/``or``/``not``,
``x if cond else y`` and the functions ``len``, ``min``, ``max``, ``abs``, ``int``, ``float`` and
``get(mapping, key, default)`` are allowed; nothing else (no attribute of a Python object, no call of anything
else). Expressions are parsed once and evaluated against a spec; a key the spec does not hold raises
:class:`MissingKey` (callers treat the expression as not applicable).
"""

from __future__ import annotations

import ast
import operator
from functools import lru_cache
from typing import Any

from tao_skill.overrides import get_dotted

__all__ = ["Expression", "ExpressionError", "MissingKey", "compile_expression", "render"]


class ExpressionError(ValueError):
    """An expression that is not in the allowed language."""


class MissingKey(LookupError):
    """The expression names a key the spec does not hold (or holds as null)."""


_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}  # fmt: skip
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}  # fmt: skip
_FUNCTIONS = {
    "len": len, "min": min, "max": max, "abs": abs, "int": int, "float": float,
    "get": lambda mapping, key, default=None: mapping.get(key, default) if isinstance(mapping, dict) else default,
}  # fmt: skip
_CONSTANTS = {"None": None, "True": True, "False": False}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class Expression:
    """A parsed expression; :meth:`keys` lists the spec keys it reads, :meth:`evaluate` computes it."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self._tree = ast.parse(text, mode="eval").body
        except SyntaxError as exc:
            raise ExpressionError(f"expression {text!r} does not parse: {exc.msg}") from None
        self._keys: list[str] = []
        self._check(self._tree)

    def keys(self) -> list[str]:
        """The dotted spec keys the expression reads, in order of appearance."""
        return list(self._keys)

    def _check(self, node: ast.AST) -> None:
        dotted = _dotted(node)
        if dotted is not None:
            if any(part.startswith("__") for part in dotted.split(".")):
                raise ExpressionError(f"expression {self.text!r}: name {dotted!r} is not allowed")
            if dotted not in _CONSTANTS and dotted not in self._keys:
                self._keys.append(dotted)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            if node.keywords:
                raise ExpressionError(f"expression {self.text!r}: keyword arguments are not allowed")
            for arg in node.args:
                self._check(arg)
            return
        children: list[ast.AST]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            children = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            children = [node.operand]
        elif isinstance(node, ast.BoolOp):
            children = list(node.values)
        elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            children = [node.left, *node.comparators]
        elif isinstance(node, ast.IfExp):
            children = [node.test, node.body, node.orelse]
        elif isinstance(node, (ast.List, ast.Tuple)):
            children = list(node.elts)
        else:
            raise ExpressionError(f"expression {self.text!r}: {type(node).__name__} is not allowed")
        for child in children:
            self._check(child)

    def evaluate(self, spec: dict[str, Any]) -> Any:
        """The value of the expression for ``spec`` (MissingKey when a key it reads is absent or null)."""
        return self._eval(self._tree, spec)

    def _eval(self, node: ast.AST, spec: dict[str, Any]) -> Any:
        dotted = _dotted(node)
        if dotted is not None:
            if dotted in _CONSTANTS:
                return _CONSTANTS[dotted]
            value = get_dotted(spec, dotted)
            if value is None:
                raise MissingKey(dotted)
            return value
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Call):
            return _FUNCTIONS[node.func.id](*(self._eval(a, spec) for a in node.args))  # type: ignore[attr-defined]
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](self._eval(node.left, spec), self._eval(node.right, spec))
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, spec)
            return (
                -operand
                if isinstance(node.op, ast.USub)
                else (+operand if isinstance(node.op, ast.UAdd) else not operand)
            )
        if isinstance(node, ast.BoolOp):
            is_and = isinstance(node.op, ast.And)
            result: Any = is_and
            for child in node.values:
                result = self._eval(child, spec)
                if bool(result) != is_and:
                    return result
            return result
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, spec)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comparator, spec)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self._eval(node.body if self._eval(node.test, spec) else node.orelse, spec)
        assert isinstance(node, (ast.List, ast.Tuple))
        return [self._eval(e, spec) for e in node.elts]


@lru_cache(maxsize=256)
def compile_expression(text: str) -> Expression:
    """A parsed (and cached) expression; ExpressionError when it is not in the allowed language."""
    return Expression(text)


def render(template: str, spec: dict[str, Any]) -> str:
    """``template`` with each ``{expression}`` replaced by its value for ``spec`` (``?`` when it cannot be computed)."""
    out: list[str] = []
    rest = template
    while "{" in rest and "}" in rest.split("{", 1)[1]:
        head, _, tail = rest.partition("{")
        text, _, rest = tail.partition("}")
        out.append(head)
        try:
            out.append(str(compile_expression(text).evaluate(spec)))
        except (ExpressionError, MissingKey, TypeError, ValueError, ZeroDivisionError):
            out.append("?")
    out.append(rest)
    return "".join(out)
