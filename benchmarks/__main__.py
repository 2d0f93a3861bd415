"""Run every ``benchmarks/bench_*.py`` module's ``run()`` and print one table.

Usage: ``python -m benchmarks [--strict] [NAME ...]`` (names without the ``bench_`` prefix select modules).

A benchmark reports: the table ends with the targets missed on this run and the exit code is 0 unless a benchmark
crashed (a timing ratio moves with the machine's load). ``--strict`` (for CI) also fails on a missed target.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time

import benchmarks
from benchmarks._table import Row, format_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Speed and memory, side by side.")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed (CI)")
    parser.add_argument("names", nargs="*", help="modules to run, without the bench_ prefix (default: all)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    selected = set(args.names)
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    rows: list[Row] = []
    for name in names:
        if selected and name.removeprefix("bench_") not in selected:
            continue
        started = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        rows.extend(module.run())
        print(f"[bench] {name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(format_table(rows))
    print(summary(rows))
    missed = [row for row in rows if row.met is False]
    return 1 if args.strict and missed else 0


def summary(rows: list[Row]) -> str:
    """The targets of this run and the ones missed (timings move with the machine's load: compare side by side)."""
    targets = [row for row in rows if row.met is not None]
    missed = [row for row in targets if row.met is False]
    text = f"\n{len(targets)} targets, {len(targets) - len(missed)} met, {len(missed)} missed on this run"
    for row in missed:
        shown = f"{row.ratio:.2f}x" if row.ratio is not None else f"{row.value:.4g} {row.unit}"
        text += f"\n  missed: {row.group} / {row.name}: {shown}, target {row.target}"
    return text


if __name__ == "__main__":
    raise SystemExit(main())
