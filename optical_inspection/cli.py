"""``optical_inspection <verb> -e spec.yaml [key=value ...]``: TAO's verbs and override syntax.

Exit codes: 0 success; 2 a user mistake (bad spec, bad data, missing file: one paragraph on stderr, no traceback);
1 an internal failure (traceback); 143 cancelled by SIGTERM (a FAILURE status line saying so). ``synth`` and
``board_crops`` take their own arguments (``optical_inspection synth OUT_DIR --pairs 200``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import textwrap
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optical_inspection.errors import EXIT_INTERNAL, EXIT_OK, EXIT_USER, UserError

__all__ = ["main", "SPEC_VERBS", "TOOL_VERBS", "SpecVerb", "ToolVerb", "Cancelled"]

EXIT_CANCELLED = 143


@dataclass(frozen=True)
class SpecVerb:
    """A verb that reads a TAO spec (``-e spec.yaml key=value ...``): ``entry`` is ``module:function``, called with the
    loaded spec and returning the exit code; ``runs_network`` verbs tune the allocator and thread counts first."""

    entry: str
    runs_network: bool = True

    def run(self, cfg: Any) -> int:
        if self.runs_network:
            from optical_inspection.allocator import retain_freed_memory
            from optical_inspection.machine import configure_threads

            retain_freed_memory()
            configure_threads(busy_workers=int(cfg.dataset.workers or 0))
        module, _, function = self.entry.partition(":")
        return int(getattr(importlib.import_module(module), function)(cfg))


@dataclass(frozen=True)
class ToolVerb:
    """A verb with its own arguments: ``module`` has ``add_arguments(parser)`` and ``main(args) -> int``."""

    module: str
    help: str

    def load(self) -> Any:
        return importlib.import_module(self.module)


def convert_dataset(cfg: Any) -> int:
    """``dataset_convert``: write the pair CSVs and name them (its errors are user errors, reported by the CLI)."""
    from optical_inspection.tools.dataset_convert import convert_raw_dataset

    for path in convert_raw_dataset(cfg):
        print(f"Wrote {path}")
    return EXIT_OK


#: TAO's verbs, in the order ``--help`` lists them (imported only when run: ``dataset_convert`` needs no torch).
SPEC_VERBS: dict[str, SpecVerb] = {
    "train": SpecVerb("optical_inspection.tasks.train:run"),
    "evaluate": SpecVerb("optical_inspection.tasks.evaluate:run"),
    "inference": SpecVerb("optical_inspection.tasks.inference:run"),
    "export": SpecVerb("optical_inspection.tasks.export:run"),
    "gen_trt_engine": SpecVerb("optical_inspection.tasks.gen_trt_engine:run", runs_network=False),
    "dataset_convert": SpecVerb("optical_inspection.cli:convert_dataset", runs_network=False),
}
TOOL_VERBS: dict[str, ToolVerb] = {
    "synth": ToolVerb("optical_inspection.tools.synth", "Generate a synthetic dataset."),
    "board_crops": ToolVerb("optical_inspection.tools.board_crops", "Cut component pairs from board images."),
}


class Cancelled(BaseException):
    """Raised in the main thread when SIGTERM arrives (BaseException: no ``except Exception`` swallows it)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Cancelled()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optical_inspection", description="Embedded TAO Optical Inspection trainer.")
    metavar = "{" + ",".join([*SPEC_VERBS, *TOOL_VERBS]) + "}"
    sub = parser.add_subparsers(dest="verb", required=True, metavar=metavar)
    for verb in SPEC_VERBS:
        p = sub.add_parser(verb, help=f"{verb} (TAO spec)")
        p.add_argument(
            "-e", "--experiment_spec_file", "--experiment_spec", dest="spec", required=True, help="Spec YAML."
        )
        p.add_argument("overrides", nargs="*", help="dotted.key=value overrides (YAML-typed).")
        p.add_argument("-v", "--verbose", action="store_true", help="Debug logging.")
    for name, tool in TOOL_VERBS.items():
        tool.load().add_arguments(sub.add_parser(name, help=tool.help))
    return parser


def _user_error(verb: str, message: str) -> int:
    print(textwrap.fill(f"optical_inspection {verb}: error: {message}", width=120), file=sys.stderr)
    return EXIT_USER


def _status_failure(cfg: Any, verb: str, message: str) -> None:
    """Best-effort FAILURE status line in the task's results folder (never masks the original error)."""
    try:
        from optical_inspection.spec import task_results_dir
        from optical_inspection.status import FAILURE, StatusLogger
        from optical_inspection.tasks._common import is_rank_zero

        if cfg is None or verb == "dataset_convert" or not is_rank_zero():
            return
        results = task_results_dir(cfg, verb)
        results.mkdir(parents=True, exist_ok=True)
        StatusLogger(results).write(FAILURE, message, verbosity="ERROR")
    except Exception:  # noqa: BLE001 - reporting must not hide the real error
        pass


def _run_spec_verb(verb: str, args: argparse.Namespace) -> int:
    from optical_inspection.data import DatasetError
    from optical_inspection.spec import load_spec
    from optical_inspection.tasks._common import setup_logging
    from optical_inspection.tools._common import ToolError

    setup_logging(args.verbose)
    cfg = None
    try:
        cfg = load_spec(args.spec, args.overrides, action=verb)
        return SPEC_VERBS[verb].run(cfg)
    except (UserError, DatasetError, ToolError) as exc:
        _status_failure(cfg, verb, str(exc))
        return _user_error(verb, str(exc))
    except Cancelled:
        _status_failure(cfg, verb, f"{verb} cancelled (SIGTERM); the last completed checkpoint is kept.")
        print(f"optical_inspection {verb}: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        _status_failure(cfg, verb, f"{verb} cancelled (interrupt).")
        return EXIT_CANCELLED
    except Exception as exc:  # an internal failure (traceback for the bug report) unless memory ran out
        if _out_of_memory(exc):
            message = (
                f"{verb} ran out of memory ({str(exc).splitlines()[0][:160] or type(exc).__name__}). Lower "
                "dataset.batch_size or dataset.image_width/image_height (or dataset.workers); nothing was saved."
            )
            _status_failure(cfg, verb, message)
            return _user_error(verb, message)
        traceback.print_exc()
        _status_failure(cfg, verb, f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


def _out_of_memory(exc: BaseException) -> bool:
    """An allocation failure (Python's, PyTorch's CPU allocator, CUDA's) rather than a bug."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc)
    return "can't allocate memory" in text or "out of memory" in text.lower()


def main(argv: Sequence[str] | None = None) -> int:
    from optical_inspection.machine import passive_openmp_waits

    passive_openmp_waits()  # before torch loads its OpenMP runtime
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.verb in TOOL_VERBS:
            return int(TOOL_VERBS[args.verb].load().main(args))
        return _run_spec_verb(args.verb, args)
    finally:
        signal.signal(signal.SIGTERM, previous)
        logging.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
