"""Run every ``benchmarks/bench_*.py`` module's ``run()`` and print one table.

Usage: ``python -m benchmarks [NAME ...]`` (names without the ``bench_`` prefix select modules).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks
from benchmarks._table import Row, format_table


def main(argv: list[str] | None = None) -> int:
    selected = set(argv if argv is not None else sys.argv[1:])
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
    return 0 if all(row.met is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
