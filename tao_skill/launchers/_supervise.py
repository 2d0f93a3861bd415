"""A small supervisor that runs a job's command detached and records its exit code (stdlib only).

``python -m tao_skill.launchers._supervise --log LOG --exit-file FILE [--cleanup F ...] -- CMD ...``

It writes the command's output to LOG, then ``{"exit_code", "ended_at", "signal"}`` to FILE atomically, so the
job's state is known after the CLI that started it has exited. SIGTERM (``tao-skill cancel`` signals the process
group) is passed on to the command; a command still alive after a grace period is killed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

from tao_skill._files import atomic_write

GRACE_SECONDS = 15.0


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
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
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
