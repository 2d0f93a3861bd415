"""A small supervisor that runs a job's command detached and records its exit code (stdlib only).

``python -m tao_skill.launchers._supervise --log LOG --exit-file FILE [--cleanup F ...] -- CMD ...``

It writes the command's output to LOG, then ``{"exit_code", "ended_at", "signal"}`` to FILE atomically, so the
job's state is known after the CLI that started it has exited. SIGTERM (``tao-skill cancel`` signals the process
group) is passed on to the command; a command still alive after a grace period is killed. On Linux the command gets
SIGKILL when this supervisor dies (parent-death signal), so a trainer never outlives it; what the trainer started
itself stays in the job's process group, which the launcher kills when it finds the supervisor gone.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from tao_skill._files import atomic_write

GRACE_SECONDS = 15.0
_PR_SET_PDEATHSIG = 1


def _die_with_supervisor() -> Callable[[], None] | None:
    """A ``preexec_fn`` arming SIGKILL for the child when this process dies (Linux), or None elsewhere.

    ``prctl`` is looked up here, before the fork; the child only calls it, then checks that its parent is still this
    process (the supervisor may have died before the signal was armed)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    supervisor = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != supervisor:
            os._exit(137)

    return arm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tao_skill.launchers._supervise")
    parser.add_argument("--log", required=True)
    parser.add_argument("--exit-file", required=True)
    parser.add_argument("--cleanup", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    received: list[int] = []
    with open(args.log, "ab", buffering=0) as log:
        log.write(f"[tao-skill] started {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command)}\n".encode())
        try:
            child = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_supervisor(),  # this process has one thread: a preexec_fn is safe
            )
        except OSError as exc:
            log.write(f"[tao-skill] could not start the command: {exc}\n".encode())
            _record(args.exit_file, 127, None)
            _cleanup(args.cleanup)
            return 127

        def forward(signum: int, _frame: object) -> None:
            received.append(signum)
            if child.poll() is None:
                child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        while True:
            try:
                code = child.wait(timeout=GRACE_SECONDS if received else None)
                break
            except subprocess.TimeoutExpired:
                child.kill()
        log.write(f"[tao-skill] exited with code {code} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    _record(args.exit_file, code, received[0] if received else None)
    _cleanup(args.cleanup)
    return 0


def _record(path: str, code: int, signum: int | None) -> None:
    atomic_write(path, json.dumps({"exit_code": code, "ended_at": time.time(), "signal": signum}))


def _cleanup(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
