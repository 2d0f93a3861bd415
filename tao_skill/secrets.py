"""Secret spec values (``encryption_key``): kept out of job records, printed plans and logs.

A plan holds secrets apart from its spec (the spec shows :data:`REDACTED`); they are written only into the private
spec file a job runs with, or handed to an AutoML worker in its environment.
"""

from __future__ import annotations

import json
from typing import Any

from tao_skill import overrides as ov

__all__ = ["SECRET_KEYS", "REDACTED", "is_secret", "redacted", "with_secrets"]

#: Spec keys (or last key parts) whose values are secrets: never stored, printed or logged.
SECRET_KEYS = frozenset({"encryption_key"})
REDACTED = "***redacted***"


def is_secret(key: str) -> bool:
    """Whether the dotted ``key`` names a secret."""
    return key in SECRET_KEYS or key.rsplit(".", 1)[-1] in SECRET_KEYS


def redacted(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as stored and shown: secret placeholders become null."""
    flat = ov.flatten(spec)
    return ov.unflatten({k: (None if v == REDACTED else v) for k, v in flat.items()})


def with_secrets(spec: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    """A copy of ``spec`` with the secret values filled in (for the private file a job reads)."""
    full = json.loads(json.dumps(spec))
    for key, value in secrets.items():
        ov.set_dotted(full, key, value)
    return full
