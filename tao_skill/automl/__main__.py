"""``python -m tao_skill.automl worker --job ID``: the detached worker process an AutoML job starts."""

from __future__ import annotations

import argparse
import sys

from tao_skill.automl.cli import worker_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tao_skill.automl")
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker")
    worker.add_argument("--job", required=True)
    args = parser.parse_args(argv)
    return worker_main(args.job)


if __name__ == "__main__":
    sys.exit(main())
