"""``make bench`` reports: a missed target is listed and exits 0; ``--strict`` (CI) exits 1; a crash is a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

import benchmarks
from benchmarks.__main__ import main

MODULE = """
from benchmarks._table import Row

def run():
    if {crash}:
        raise RuntimeError("benchmark broke")
    return [Row("g", "fast thing", 2.0, "x", "slow thing", 2.0, ">= 5x", False), Row("g", "other", 1.0, "s", met=True)]
"""


@pytest.fixture
def bench_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real benchmark module on the package path (a file importlib loads like the others)."""

    def make(crash: bool) -> str:
        name = f"bench_zz_fixture_{'crash' if crash else 'miss'}"
        (tmp_path / f"{name}.py").write_text(MODULE.format(crash=crash), encoding="utf-8")
        return name.removeprefix("bench_")

    monkeypatch.setattr(benchmarks, "__path__", [*benchmarks.__path__, str(tmp_path)])
    return make


def test_a_miss_is_reported_and_exits_0_unless_strict(bench_module, capsys) -> None:
    name = bench_module(crash=False)
    assert main([name]) == 0
    out = capsys.readouterr().out
    assert "2 targets, 1 met, 1 missed" in out and "missed: g / fast thing: 2.00x, target >= 5x" in out
    assert main(["--strict", name]) == 1


def test_a_crash_is_not_hidden(bench_module) -> None:
    with pytest.raises(RuntimeError, match="benchmark broke"):
        main([bench_module(crash=True)])
