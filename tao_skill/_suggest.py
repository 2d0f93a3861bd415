"""Did-you-mean suggestions for misspelt keys, actions and skills."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean", "close_matches"]


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` choices close to ``word`` (difflib ratio >= 0.6), best first."""
    options = list(choices)
    found = difflib.get_close_matches(word, options, n=n, cutoff=0.6)
    if not found and "." in word:
        tail = word.rsplit(".", 1)[1]
        found = [c for c in options if c.rsplit(".", 1)[-1] == tail][:n]
    return found


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean 'x'?"`` or an empty string."""
    found = close_matches(word, choices)
    if not found:
        return ""
    return "did you mean " + " or ".join(f"'{f}'" for f in found) + "?"
