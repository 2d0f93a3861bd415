"""Run a job as a detached local process (its own session), supervised so its exit code is recorded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tao_skill.errors import RuntimeFailure, UserError
from tao_skill.launchers._base import EXIT_NAME, LOG_NAME, Launcher, LaunchHandle, PollResult
from tao_skill.models import Job
from tao_skill.preflight import Check, extra_check, gpu_check, tensorrt_check, uses_engine

__all__ = ["LocalLauncher", "resolve_executable"]


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
        return PollResult(
            state="cancelled" if job.cancel_requested else "failed",
            message="the job's process ended without recording an exit code",
        )

    def cancel(self, job: Job) -> None:
        if job.pid is None:
            return
        try:
            os.killpg(job.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        except PermissionError as exc:
            raise RuntimeFailure(f"cannot signal job {job.id} (pid {job.pid}): {exc}") from None
