"""Compare generated artifacts with the files on disk and say which keys drifted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def json_differences(old: Any, new: Any, pointer: str = "") -> list[str]:
    """JSON pointers where ``old`` and ``new`` differ (added, removed or changed)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in list(new) + [k for k in old if k not in new]:
            child = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in old:
                out.append(f"{child} (added)")
            elif key not in new:
                out.append(f"{child} (removed)")
            else:
                out.extend(json_differences(old[key], new[key], child))
        if not out and list(old) != list(new):
            out.append(f"{pointer or '/'} (key order)")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            out.extend(json_differences(a, b, f"{pointer}/{index}"))
        return out
    return [] if old == new and type(old) is type(new) else [f"{pointer or '/'} (changed)"]


def text_differences(old: str, new: str, limit: int = 5) -> list[str]:
    """Line numbers and the expected text of the first differing lines."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    out = []
    for number in range(max(len(old_lines), len(new_lines))):
        a = old_lines[number] if number < len(old_lines) else "<missing>"
        b = new_lines[number] if number < len(new_lines) else "<missing>"
        if a != b:
            out.append(f"line {number + 1}: expected {b.strip()!r}, found {a.strip()!r}")
            if len(out) >= limit:
                break
    return out


def yaml_differences(old: str, new: str) -> list[str]:
    """Dotted keys whose values differ between two YAML texts, then the first differing lines (comments)."""
    import yaml  # only when a template drifted

    try:
        keys = [_dotted(p) for p in json_differences(yaml.safe_load(old), yaml.safe_load(new))]
    except yaml.YAMLError as exc:
        keys = [f"not valid YAML ({str(exc).splitlines()[0]})"]
    return keys + text_differences(old, new, limit=3)


def _dotted(pointer: str) -> str:
    path, _, note = pointer.partition(" ")
    key = ".".join(part.replace("~1", "/").replace("~0", "~") for part in path.strip("/").split("/")) or "<root>"
    return f"key {key} {note}".strip()


def drift(files: dict[str, str], root: Path) -> dict[str, list[str]]:
    """Files (relative to ``root``) whose content differs from the generated text -> what differs.

    Also reports stale ``schemas/*.schema.json`` files that the config no longer generates (templates are not
    checked that way: ``references/`` holds hand-written files too).
    """
    report: dict[str, list[str]] = {}
    for relative, expected in files.items():
        path = root / relative
        if not path.is_file():
            report[relative] = ["missing"]
            continue
        found = path.read_text(encoding="utf-8")
        if found == expected:
            continue
        if relative.endswith(".json"):
            try:
                details = json_differences(json.loads(found), json.loads(expected))
            except json.JSONDecodeError as exc:
                details = [f"not valid JSON ({exc.msg} at line {exc.lineno})"]
            report[relative] = details or ["formatting"]
        elif relative.endswith((".yaml", ".yml")):
            report[relative] = yaml_differences(found, expected) or ["formatting"]
        else:
            report[relative] = text_differences(found, expected) or ["formatting"]
    schemas = root / "schemas"
    if schemas.is_dir():
        for path in sorted(schemas.glob("*.schema.json")):
            relative = path.relative_to(root).as_posix()
            if relative not in files:
                report[relative] = ["stale: no longer generated (delete it, or restore its action)"]
    return report
