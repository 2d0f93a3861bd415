"""``tao-skill automl {worker,resume,report,status}``: follow, join, resume and read AutoML studies."""

from __future__ import annotations

import argparse
import json
from typing import Any


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def worker_main(job_id: str, home: str | None = None) -> int:
    """Run a worker for AutoML job ``job_id`` in this process."""
    from runtime.automl.study import run_worker

    return run_worker(job_id, home=home)


def cmd_worker(args: argparse.Namespace) -> int:
    """Join a study: run trials until its budget is met (any number of workers may share it)."""
    return worker_main(args.job_id, home=args.home)


def cmd_resume(args: argparse.Namespace) -> int:
    from runtime.automl.study import resume

    job = resume(args.job_id, home=args.home)
    if args.json:
        _print_json(job.model_dump(mode="json"))
    else:
        print(f"{job.id}: resumed (worker pid {job.pid}); follow it with `tao-skill automl status {job.id}`")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from runtime.automl.report import format_report, report

    data = report(args.job_id, home=args.home, plots=not args.no_plots)
    if args.json:
        _print_json(data)
    else:
        print(format_report(data))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from runtime.automl.report import format_report, report

    data = report(args.job_id, home=args.home, plots=False)
    if args.json:
        _print_json({k: data[k] for k in ("job_id", "state", "trial_counts", "max_trials", "best")})
    else:
        print(format_report(data))
    return 0


def register(subparsers: Any) -> None:
    """Add ``automl`` and its sub-commands to the ``tao-skill`` parser."""
    parser = subparsers.add_parser("automl", help="AutoML studies: worker, resume, report, status")
    verbs = parser.add_subparsers(dest="automl_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("job_id", help="the AutoML (parent) job id")
        p.add_argument("--home", default=None, help="TAO_SKILL_HOME to use")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = verbs.add_parser("worker", help="join a study and run trials until its budget is met")
    common(p)
    p.set_defaults(func=cmd_worker)
    p = verbs.add_parser("resume", help="continue an interrupted study")
    common(p)
    p.set_defaults(func=cmd_resume)
    p = verbs.add_parser("report", help="trials table, best trial and its checkpoint, PNG plots")
    common(p)
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=cmd_report)
    p = verbs.add_parser("status", help="trial counts and the best trial so far")
    common(p)
    p.set_defaults(func=cmd_status)
