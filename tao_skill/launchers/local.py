"""Run a job as a detached local process (its own session), supervised so its exit code is recorded.

The job's processes (supervisor, trainer, its data workers and DDP ranks) share one process group whose id is the
supervisor's pid, and carry ``TAO_SKILL_JOB_ID`` in their environment; the group is recognised by both, so a reused
process id never makes the launcher signal an unrelated process. A supervisor found dead without an exit code gets
its leftover processes killed; ``cancel`` stops the whole group and returns once it is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tao_skill.errors import RuntimeFailure, UserError
from tao_skill.launchers._base import EXIT_NAME, LOG_NAME, Launcher, LaunchHandle, PollResult
from tao_skill.launchers._supervise import GRACE_SECONDS
from tao_skill.models import Job
from tao_skill.preflight import Check, extra_check, gpu_check, tensorrt_check, uses_engine

__all__ = ["LocalLauncher", "resolve_executable", "job_processes", "JOB_ID_ENV"]

JOB_ID_ENV = "TAO_SKILL_JOB_ID"


def resolve_executable(command: list[str]) -> list[str]:
    """Find the command's program: next to this Python first (the same venv), then on PATH."""
    if not command:
        raise RuntimeFailure("empty command")
    program = command[0]
    if os.sep in program:
        return command
    sibling = Path(sys.executable).parent / program
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return [str(sibling), *command[1:]]
    found = shutil.which(program)
    if found:
        return [found, *command[1:]]
    raise UserError.single(
        "command",
        f"'{program}' is not installed here",
        rule="executable_missing",
        value=program,
        hint="install the trainer (`make venv` or pip install -e '.[trainer]'), or use --backend docker",
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (our own finished children are reaped, so a zombie counts as gone)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    except OSError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def job_processes(job: Job) -> list[int]:
    """Live processes of the job: in its process group and carrying its id (Linux ``/proc``; elsewhere the group
    leader alone, when alive)."""
    if job.pid is None:
        return []
    proc = Path("/proc")
    if not proc.is_dir():  # pragma: no cover - not Linux
        return [job.pid] if pid_alive(job.pid) else []
    marker = f"{JOB_ID_ENV}={job.id}".encode()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            if fields[0] == "Z" or int(fields[2]) != job.pid:
                continue
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


class LocalLauncher(Launcher):
    """The action's command (``<trainer> <action> -e spec.yaml``) as a detached process group; logs in ``job.log``."""

    name = "local"

    def check(self, plan_action: str | None = None) -> None:
        return None

    @classmethod
    def preflight(cls, action: str, spec: dict[str, Any]) -> list[Check]:
        """The trainer's packages in this Python; TensorRT and a GPU for engines (and for 16-mixed training)."""
        checks = [extra_check("trainer", f"running {action} locally")]
        engine = uses_engine(action, spec)
        train = spec.get("train") if isinstance(spec.get("train"), dict) else {}
        if engine:
            checks.append(tensorrt_check(action))
            checks.append(gpu_check("TensorRT"))
        elif action == "train" and str(train.get("precision", "")) == "16-mixed":
            checks.append(gpu_check("train.precision=16-mixed", "use train.precision=32 or bf16-mixed"))
        wandb = spec.get("wandb") if isinstance(spec.get("wandb"), dict) else {}
        if action == "train" and wandb.get("enable") is True:
            checks.append(extra_check("wandb", "wandb.enable"))
        return checks

    def launch(
        self,
        job: Job,
        spec_path: Path,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        cleanup: list[Path] | None = None,
    ) -> LaunchHandle:
        results = Path(job.results_dir)
        results.mkdir(parents=True, exist_ok=True)
        argv = resolve_executable(command)
        supervisor = [
            sys.executable, "-m", "tao_skill.launchers._supervise",
            "--log", str(results / LOG_NAME), "--exit-file", str(results / EXIT_NAME),
        ]  # fmt: skip
        for path in cleanup or []:
            supervisor += ["--cleanup", str(path)]
        child_env = dict(os.environ)
        child_env.update(env or {})
        child_env[JOB_ID_ENV] = job.id
        child_env["PYTHONUNBUFFERED"] = "1"  # the log file gets every line when it is printed, not when the job ends
        repo_root = str(Path(__file__).resolve().parents[2])
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (repo_root, child_env.get("PYTHONPATH", "")) if p)
        process = subprocess.Popen(
            [*supervisor, "--", *argv],
            cwd=results,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        return LaunchHandle(pid=process.pid)

    def poll(self, job: Job) -> PollResult:
        exit_file = Path(job.results_dir) / EXIT_NAME
        if exit_file.is_file():
            try:
                record = json.loads(exit_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                record = None
            if record is not None:
                code = int(record.get("exit_code", 1))
                if job.cancel_requested or record.get("signal"):
                    state = "cancelled"
                else:
                    state = "done" if code == 0 else "failed"
                return PollResult(state=state, exit_code=code, ended_at=record.get("ended_at"))
        if job.pid is not None and pid_alive(job.pid):
            return PollResult(state="running")
        if job.pid is None:
            return PollResult(state=job.state)
        # The supervisor is gone and left no exit code: it was killed (machine restart, SIGKILL).
        if exit_file.is_file():
            return self.poll(job)
        leftovers = job_processes(job)
        _signal_all(leftovers, signal.SIGKILL)  # nothing of a job outlives its supervisor
        stopped = f"; its {len(leftovers)} remaining process(es) were stopped" if leftovers else ""
        return PollResult(
            state="cancelled" if job.cancel_requested else "failed",
            message=f"the job's supervisor ended without recording an exit code (killed?){stopped}",
        )

    def cancel(self, job: Job) -> None:
        """SIGTERM to every process of the job (the trainer saves nothing half-written and exits), SIGKILL to what
        is left after the supervisor's grace period; returns when none is left."""
        pids = job_processes(job)
        if not pids:
            return
        _signal_all(pids, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS + 5.0
        while (pids := job_processes(job)) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_all(pids, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while job_processes(job) and time.monotonic() < deadline:
            time.sleep(0.1)
