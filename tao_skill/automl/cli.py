"""``tao-skill automl {worker,resume,report,status}``: follow, join, resume and read AutoML studies."""

from __future__ import annotations

import argparse
import json
from typing import Any


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def worker_main(job_id: str, home: str | None = None) -> int:
    """Run a worker for AutoML job ``job_id`` in this process."""
    from tao_skill.automl.worker import run_worker

    return run_worker(job_id, home=home)


def cmd_worker(args: argparse.Namespace) -> int:
    """Join a study: run trials until its budget is met (any number of workers may share it)."""
    from tao_skill.errors import UserError

    if args.study or args.storage:
        if not (args.study and args.storage):
            raise UserError.single(
                "--study/--storage",
                "joining a study from its storage needs both --study NAME and --storage URL",
                rule="missing_argument",
                hint="tao-skill automl worker --study JOB_ID --storage sqlite:///shared/automl.db",
            )
        from tao_skill.automl.worker import join

        return join(args.study, args.storage, home=args.home)
    if not args.job_id:
        raise UserError.single(
            "job_id",
            "name the AutoML job (JOB_ID) or the study and its storage (--study NAME --storage URL)",
            rule="missing_argument",
            hint="tao-skill automl worker JOB_ID",
        )
    return worker_main(args.job_id, home=args.home)


def cmd_resume(args: argparse.Namespace) -> int:
    from tao_skill.automl.lifecycle import resume

    job = resume(args.job_id, home=args.home)
    if args.json:
        _print_json(job.model_dump(mode="json"))
    else:
        print(f"{job.id}: resumed (worker pid {job.pid}); follow it with `tao-skill automl status {job.id}`")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from tao_skill.automl.report import format_report, report

    data = report(args.job_id, home=args.home, plots=not args.no_plots)
    if args.json:
        _print_json(data)
    else:
        print(format_report(data))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from tao_skill.automl.report import format_report, report

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

    def common(p: argparse.ArgumentParser, optional_id: bool = False) -> None:
        p.add_argument("job_id", nargs="?" if optional_id else None, help="the AutoML (parent) job id")
        p.add_argument("--home", default=None, help="TAO_SKILL_HOME to use")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = verbs.add_parser("worker", help="join a study and run trials until its budget is met")
    common(p, optional_id=True)
    p.add_argument("--study", default=None, help="the study name (the AutoML job id), to join from --storage")
    p.add_argument("--storage", default=None, help="the study's Optuna storage URL (e.g. on another machine)")
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
