"""``tao-skill``: the runtime's command line. Tables for people, ``--json`` for agents.

Exit codes: 0 ok, 2 user error (structured issues with ``--json``), 1 failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tao_skill.cli_output import (
    dump,
    job_rows,
    print_checkpoints,
    print_checks,
    print_job,
    print_json,
    print_outcome,
    print_plan,
    table,
)
from tao_skill.errors import RuntimeFailure, UserError

__all__ = ["main", "build_parser"]

# The CLI is a short process: skip pydantic's plugin discovery (a scan of every installed distribution's metadata).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

EXIT_OK, EXIT_FAILURE, EXIT_USER = 0, 1, 2


# ------------------------------------------------------------------------------------------------ commands
def _request(args: argparse.Namespace) -> Any:
    """The request on the command line; ``--ray-address``/``--results-uri`` become this process's cluster settings."""
    from tao_skill.cluster import use_settings
    from tao_skill.request import from_args

    use_settings(ray_address=args.ray_address, results_uri=args.results_uri)
    return from_args(args)


def cmd_list(args: argparse.Namespace) -> int:
    from tao_skill.api import list_skills

    skills = list_skills()
    if args.json:
        print_json(dump(skills))
        return EXIT_OK
    rows = [
        (s.name, s.kind, s.network_arch or "-", ",".join(s.actions) or "-", "yes" if s.automl_enabled else "no")
        for s in skills
    ]
    print(table(rows, ("skill", "kind", "network", "actions", "automl")))
    for s in skills:
        print(f"\n{s.name}: {s.description}")
    return EXIT_OK


def cmd_describe(args: argparse.Namespace) -> int:
    from tao_skill.api import describe
    from tao_skill.describe_table import print_describe

    info = describe(args.skill, args.action)
    if args.json:
        print_json(info)
    else:
        print_describe(info)
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from tao_skill.api import plan

    result = plan(_request(args))
    if args.json:
        print_json(dump(result))
    else:
        print_plan(result, args.verbose)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from tao_skill.api import run

    job = run(_request(args))
    if args.wait:
        job = _wait_with_progress(job.id, args.timeout)
    if args.json:
        print_json(dump(job))
    else:
        print_job(job)
        if not job.finished:
            print(f"\nfollow it: tao-skill logs --follow {job.id}   state: tao-skill status {job.id}")
    return EXIT_FAILURE if args.wait and job.state in ("failed", "cancelled") else EXIT_OK


def _wait_with_progress(job_id: str, timeout: float | None) -> Any:
    """Wait for a job, printing each new status line (stage, one line per epoch with its KPIs) to stderr as it is
    written, and the job's state when it ends."""
    from tao_skill.api import follow
    from tao_skill.status_file import find, records

    printed, last, job = 0, None, None
    for job in follow(job_id, timeout=timeout):
        lines = records(find(job.results_dir, job.action))
        messages = [str(r["message"]) for r in lines[printed:] if r.get("message")]
        printed = max(printed, len(lines))
        if not lines and job.progress and job.progress.message:
            messages = [job.progress.message]  # a job without its own status.json (an AutoML study)
        for line in messages:
            if line != last:
                last = line
                print(f"[{job.id}] {line}", file=sys.stderr, flush=True)
    if job is not None and job.finished:
        print(f"[{job.id}] {job.state}", file=sys.stderr, flush=True)
    return job


def cmd_status(args: argparse.Namespace) -> int:
    from tao_skill.api import status

    job = status(args.job_id)
    if args.json:
        print_json(dump(job))
        return EXIT_OK
    print_job(job, _kpi_notes(job.skill))
    print_outcome(job, _best_checkpoint(job))
    return EXIT_OK


def _kpi_notes(skill: str) -> dict[str, str]:
    """What the skill's contract says each KPI means (nothing for a skill that is gone)."""
    from tao_skill.skill import load_skill

    try:
        return dict(load_skill(skill).info.runtime.kpis)
    except (UserError, RuntimeFailure, OSError):
        return {}


def _best_checkpoint(job: Any) -> Any:
    """The checkpoint a finished train job's children use by default, or None."""
    from tao_skill.api import checkpoints

    if job.action != "train" or job.state != "done":
        return None
    try:
        return checkpoints(job.id).chosen
    except (UserError, RuntimeFailure):
        return None


def cmd_logs(args: argparse.Namespace) -> int:
    from tao_skill.api import follow, logs

    if not args.follow:
        sys.stdout.write(logs(args.job_id, tail=args.tail))
        return EXIT_OK
    from pathlib import Path

    from tao_skill.launchers import get_launcher
    from tao_skill.launchers._base import LOG_NAME

    position = 0
    for job in follow(args.job_id):
        path = Path(job.results_dir) / LOG_NAME
        if path.is_file():  # a job.log here: read on from where the last read ended
            with path.open("rb") as handle:
                handle.seek(position)
                raw = handle.read()
            position += len(raw)
            chunk = raw.decode("utf-8", errors="replace")
        else:  # a cluster's log of the job, whole at every poll
            text = get_launcher(job.backend).read_log(job) or ""
            chunk, position = text[position:], max(position, len(text))
        if chunk:
            sys.stdout.write(chunk)
            sys.stdout.flush()
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    from tao_skill.api import cancel, wait

    job = cancel(args.job_id)
    if not job.finished:
        job = wait(job.id, timeout=args.timeout)
    if args.json:
        print_json(dump(job))
    else:
        print(f"{job.id}: {job.state}")
    return EXIT_OK


def cmd_jobs(args: argparse.Namespace) -> int:
    from tao_skill.api import jobs

    filters = {
        k: v
        for k, v in (("state", args.state), ("action", args.action), ("kind", args.kind), ("group_id", args.group))
        if v
    }
    found = jobs(limit=args.limit, **filters)
    if args.json:
        print_json(dump(found))
    else:
        print(job_rows(found) if found else "no jobs")
    return EXIT_OK


def cmd_checkpoints(args: argparse.Namespace) -> int:
    from tao_skill.api import checkpoints

    report = checkpoints(args.job_id, select=args.select)
    if args.json:
        print_json(dump(report))
        return EXIT_OK
    print_checkpoints(report)
    return EXIT_OK


def cmd_mcp(args: argparse.Namespace) -> int:
    from tao_skill.mcp_server import require_sdk, serve

    require_sdk()
    serve()
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from tao_skill.doctor import run_checks

    checks = run_checks()
    if args.json:
        print_json(dump(checks))
        return EXIT_OK
    print_checks(checks)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------ parser
def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")


def _add_request(parser: argparse.ArgumentParser) -> None:
    """The request's options, derived from :class:`tao_skill.request.Request` (one declaration for every interface)."""
    from tao_skill.request import add_arguments

    add_arguments(parser)
    parser.add_argument("--ray-address", metavar="URL", help="--backend ray: the Ray dashboard (or RAY_ADDRESS)")
    parser.add_argument("--results-uri", metavar="S3", help="--backend ray: results under it, or TAO_SKILL_RESULTS_URI")
    _add_common(parser)


def build_parser(with_automl: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tao-skill", description="Plan, run and follow TAO skill jobs.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list skills")
    _add_common(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("describe", help="what a skill or action takes")
    p.add_argument("skill")
    p.add_argument("action", nargs="?")
    _add_common(p)
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("plan", help="build and validate a spec without running it")
    _add_request(p)
    p.add_argument("-v", "--verbose", action="store_true", help="show template defaults too")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("run", help="plan, stage data, record and launch a job")
    _add_request(p)
    p.add_argument("--wait", action="store_true", help="wait for the job to end (exit 1 if it fails)")
    p.add_argument("--timeout", type=float, default=None, help="with --wait: give up waiting after SECONDS")
    p.set_defaults(func=cmd_run)

    for name, func, text in (("status", cmd_status, "a job's state"), ("cancel", cmd_cancel, "stop a job")):
        p = sub.add_parser(name, help=text)
        p.add_argument("job_id")
        if name == "cancel":
            p.add_argument("--timeout", type=float, default=30.0)
        _add_common(p)
        p.set_defaults(func=func)

    p = sub.add_parser("logs", help="a job's output")
    p.add_argument("job_id")
    p.add_argument("--tail", type=int, default=None)
    p.add_argument("--follow", action="store_true", help="keep printing until the job ends")
    _add_common(p)
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("jobs", help="list jobs")
    p.add_argument("--state")
    p.add_argument("--action")
    p.add_argument("--kind")
    p.add_argument("--group")
    p.add_argument("--limit", type=int, default=50)
    _add_common(p)
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("checkpoints", help="a train job's checkpoints and the chosen one")
    p.add_argument("job_id")
    p.add_argument("--select", default="best", help="best | latest | epoch=N | step=N")
    _add_common(p)
    p.set_defaults(func=cmd_checkpoints)

    p = sub.add_parser("mcp", help="serve the skills over MCP (stdio)")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("doctor", help="what this machine has for running jobs: packages, GPUs, Docker, credentials")
    _add_common(p)
    p.set_defaults(func=cmd_doctor)

    automl_cli = None
    if with_automl:  # imported only for `tao-skill automl ...`: it may pull in optuna
        try:
            from tao_skill.automl import cli as automl_cli
        except ImportError:
            automl_cli = None
    if automl_cli is not None and hasattr(automl_cli, "register"):
        automl_cli.register(sub)
    else:
        p = sub.add_parser("automl", help="AutoML studies (needs the AutoML engine)", add_help=with_automl)
        p.set_defaults(func=_automl_missing)
    return parser


def _automl_missing(args: argparse.Namespace) -> int:
    raise UserError.single(
        "automl", "the AutoML engine is not installed", rule="dependency", hint="pip install 'tao-skill-bank[automl]'"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(with_automl=command == "automl")
    args, extra = parser.parse_known_args(argv)
    stray = [item for item in extra if "=" not in item or item.startswith("-")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        if not hasattr(args, "assignments"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.assignments = list(args.assignments or []) + extra
    as_json = bool(getattr(args, "json", False))
    args.json = as_json
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if as_json:
            print_json(exc.to_dict())
        else:
            print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER
    except RuntimeFailure as exc:
        if as_json:
            print_json({"error": "failure", "message": str(exc)})
        else:
            print(f"failure: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
