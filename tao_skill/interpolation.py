"""``${a.b}`` references in a spec resolved as TAO does (OmegaConf), before validation.

NVIDIA's own specs use them (``batch_size: ${<section>.batch_size}``, ``onnx_file: "${export.results_dir}/m.onnx"``).
Only references to other spec keys are resolved; resolvers (``${oc.env:AWS_SECRET_ACCESS_KEY}``) are refused, so a
spec file cannot copy the environment into a stored, printed spec.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tao_skill import overrides as ov
from tao_skill.errors import Issue

__all__ = ["has_interpolation", "resolve_interpolations"]

_REFERENCE = re.compile(r"(?<!\\)\$\{")
_RESOLVER = re.compile(r"(?<!\\)\$\{\s*[\w.\-]+\s*:")


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
