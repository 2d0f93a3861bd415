"""optical_inspection.allocator: glibc's thresholds are raised in a job process, and the opt-out is honoured."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

_PROBE = "from optical_inspection.allocator import retain_freed_memory; print(retain_freed_memory())"


def _probe(**env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_thresholds_raised_on_glibc_unless_turned_off() -> None:
    assert _probe() == "True"
    assert _probe(OI_KEEP_FREED_MEMORY="0") == "False"
    assert _probe(OI_KEEP_FREED_MEMORY="off") == "False"
