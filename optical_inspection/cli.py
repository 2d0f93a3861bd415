"""``optical_inspection <verb> -e spec.yaml [key=value ...]``: TAO's verbs and override syntax.

Exit codes: 0 success; 2 a user mistake (bad spec, bad data, missing file: one paragraph on stderr, no traceback);
1 an internal failure (traceback); 143 cancelled by SIGTERM (a FAILURE status line saying so). ``synth`` and
``board_crops`` take their own arguments (``optical_inspection synth OUT_DIR --pairs 200``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import textwrap
import traceback
from collections.abc import Sequence
from typing import Any

from optical_inspection.errors import EXIT_INTERNAL, EXIT_OK, EXIT_USER, UserError

__all__ = ["main", "SPEC_VERBS", "Cancelled"]

SPEC_VERBS = ("train", "evaluate", "inference", "export", "gen_trt_engine", "dataset_convert")
TOOL_VERBS = ("synth", "board_crops")
EXIT_CANCELLED = 143


class Cancelled(BaseException):
    """Raised in the main thread when SIGTERM arrives (BaseException: no ``except Exception`` swallows it)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Cancelled()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optical_inspection", description="Embedded TAO Optical Inspection trainer.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="{" + ",".join(SPEC_VERBS + TOOL_VERBS) + "}")
    for verb in SPEC_VERBS:
        p = sub.add_parser(verb, help=f"{verb} (TAO spec)")
        p.add_argument(
            "-e", "--experiment_spec_file", "--experiment_spec", dest="spec", required=True, help="Spec YAML."
        )
        p.add_argument("overrides", nargs="*", help="dotted.key=value overrides (YAML-typed).")
        p.add_argument("-v", "--verbose", action="store_true", help="Debug logging.")
    from optical_inspection.tools import board_crops, synth

    synth.add_arguments(sub.add_parser("synth", help="Generate a synthetic dataset."))
    board_crops.add_arguments(sub.add_parser("board_crops", help="Cut component pairs from board images."))
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
        return _dispatch(verb, cfg)
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


def _dispatch(verb: str, cfg: Any) -> int:
    if verb in ("train", "evaluate", "inference", "export"):
        from optical_inspection.allocator import retain_freed_memory
        from optical_inspection.machine import configure_threads

        retain_freed_memory()
        configure_threads(busy_workers=int(cfg.dataset.workers or 0))
    if verb == "train":
        from optical_inspection.tasks import train as task
    elif verb == "evaluate":
        from optical_inspection.tasks import evaluate as task
    elif verb == "inference":
        from optical_inspection.tasks import inference as task
    elif verb == "export":
        from optical_inspection.tasks import export as task
    elif verb == "gen_trt_engine":
        from optical_inspection.tasks import gen_trt_engine as task
    else:
        from optical_inspection.tools.dataset_convert import convert_raw_dataset

        for path in convert_raw_dataset(cfg):
            print(f"Wrote {path}")
        return EXIT_OK
    return task.run(cfg)


def main(argv: Sequence[str] | None = None) -> int:
    from optical_inspection.machine import passive_openmp_waits

    passive_openmp_waits()  # before torch loads its OpenMP runtime
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.verb == "synth":
            from optical_inspection.tools import synth

            return synth.main(args)
        if args.verb == "board_crops":
            from optical_inspection.tools import board_crops

            return board_crops.main(args)
        return _run_spec_verb(args.verb, args)
    finally:
        signal.signal(signal.SIGTERM, previous)
        logging.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
