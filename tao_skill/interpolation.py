"""``${a.b}`` references in a spec resolved as TAO does (OmegaConf), before validation.

NVIDIA's own specs use them (``batch_size: ${<section>.batch_size}``, ``onnx_file: "${export.results_dir}/m.onnx"``).
Only references to other spec keys are resolved; resolvers (``${oc.env:AWS_SECRET_ACCESS_KEY}``) are refused, so a
spec file cannot copy the environment into a stored, printed spec. The cost of resolving is bounded before OmegaConf
runs: it re-resolves a reference each time it is used, so keys that each use the previous one twice make an
"interpolation bomb" (40 such keys: 2**40 steps); references are counted along the graph they form, and a spec
needing more than ``MAX_RESOLUTION_STEPS`` (or a nested ``${a.${b}}`` reference, which cannot be counted) is refused.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tao_skill import overrides as ov
from tao_skill.errors import Issue

__all__ = ["has_interpolation", "resolve_interpolations", "MAX_RESOLUTION_STEPS"]

MAX_RESOLUTION_STEPS = 100_000
_REFERENCE = re.compile(r"(?<!\\)\$\{")
_RESOLVER = re.compile(r"(?<!\\)\$\{\s*[\w.\-]+\s*:")
_PLAIN = re.compile(r"(?<!\\)\$\{\s*(\.*)([\w\-]+(?:\.[\w\-]+|\[\d+\])*)\s*\}")
_PART = re.compile(r"[\w\-]+|\[\d+\]")


def has_interpolation(value: Any) -> bool:
    """Whether ``value`` is a string holding a ``${...}`` reference."""
    return isinstance(value, str) and bool(_REFERENCE.search(value))


def resolve_interpolations(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[Issue]]:
    """(spec with every reference resolved, {dotted key: the expression it held}, issues).

    A reference to a missing key, to a ``???`` or in a cycle is an issue
    with the key path; the key keeps its text so the plan still shows what was written.
    """
    issues: list[Issue] = []
    safe = copy.deepcopy(spec)
    for key, text in ov.flatten(spec).items():
        if has_interpolation(text) and _RESOLVER.search(text):
            issues.append(
                Issue(
                    path=key,
                    value=text,
                    rule="interpolation",
                    message=f"{key}: '{text}' calls a resolver; only references to spec keys (${{a.b}}) are resolved",
                    hint="write the value itself (environment variables are not read into specs)",
                )
            )
            ov.set_dotted(safe, key, _REFERENCE.sub(r"\\${", text))  # literal text for anything referring to it
    wanted = {k: v for k, v in ov.flatten(spec).items() if has_interpolation(v) and not _RESOLVER.search(v)}
    if not wanted:
        return spec, {}, issues
    costly = _resolution_issues(safe, wanted)
    if costly:
        return spec, {}, issues + costly
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    config = OmegaConf.create(safe)
    result = copy.deepcopy(spec)
    for key, text in wanted.items():
        try:
            value = OmegaConf.select(config, key, throw_on_missing=True, throw_on_resolution_failure=True)
        except OmegaConfBaseException as exc:
            reason = str(exc).splitlines()[0]
            issues.append(
                Issue(
                    path=key,
                    value=text,
                    rule="interpolation",
                    message=f"{key}: cannot resolve '{text}': {reason}",
                    hint="refer to a key that holds a value, e.g. ${train.num_epochs}",
                )
            )
            continue
        if hasattr(value, "_content"):  # a section or list node
            value = OmegaConf.to_container(value, resolve=True)
        ov.set_dotted(result, key, value)
    return result, {k: v for k, v in wanted.items() if not any(i.path == k for i in issues)}, issues


def _target(path: list[str], text: str) -> list[str] | None:
    """The path a plain reference in the string at ``path`` points to (``${a.b}``, ``${.sibling}``, ``${a[0]}``)."""
    match = _PLAIN.fullmatch(text)
    if match is None:
        return None
    dots, key = match.groups()
    parts = [p.strip("[]") for p in _PART.findall(key)]
    if not dots:
        return parts
    up = len(dots) - 1  # ${.x}: a sibling; each further dot goes one level up
    base = path[:-1]
    return None if up > len(base) else base[: len(base) - up] + parts


def _lookup(spec: Any, parts: list[str]) -> Any:
    node = spec
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _resolution_issues(spec: dict[str, Any], wanted: dict[str, str]) -> list[Issue]:
    """Issues for references whose resolution would take more than ``MAX_RESOLUTION_STEPS`` steps, counted as
    OmegaConf takes them (every use of a reference resolves it again), and for nested references."""
    memo: dict[tuple[str, ...], int] = {}

    def cost(value: Any, path: list[str], stack: set[tuple[str, ...]]) -> int:
        key = tuple(path)
        if key in memo:
            return memo[key]
        if key in stack:
            return 1  # a cycle: OmegaConf reports it
        stack.add(key)
        total = 1
        if isinstance(value, str) and has_interpolation(value):
            for match in _PLAIN.finditer(value):
                target = _target(path, match.group(0))
                if target is not None:
                    total += cost(_lookup(spec, target), target, stack)
        elif isinstance(value, dict):
            total += sum(cost(v, [*path, str(k)], stack) for k, v in value.items())
        elif isinstance(value, list):
            total += sum(cost(v, [*path, str(i)], stack) for i, v in enumerate(value))
        stack.discard(key)
        memo[key] = min(total, MAX_RESOLUTION_STEPS + 1)
        return memo[key]

    issues = []
    for key, text in wanted.items():
        if len(_PLAIN.findall(text)) != len(_REFERENCE.findall(text)):
            issues.append(
                Issue(
                    path=key,
                    value=text,
                    rule="interpolation",
                    message=f"{key}: '{text}' nests references; only plain ones (${{a.b}}, ${{.sibling}}) are resolved",
                    hint="refer to the key itself",
                )
            )
        elif cost(text, key.split("."), set()) > MAX_RESOLUTION_STEPS:
            issues.append(
                Issue(
                    path=key,
                    value=text,
                    rule="interpolation_too_costly",
                    message=f"{key}: resolving '{text}' takes more than {MAX_RESOLUTION_STEPS} steps (its references "
                    "repeat references, which doubles the work at every level)",
                    hint="write the values out instead of building them from repeated references",
                )
            )
            break  # the keys built on this one cost more still: one issue says it
    return issues
