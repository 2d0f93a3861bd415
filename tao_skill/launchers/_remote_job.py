"""What a cluster job runs on its worker node: ``python -m tao_skill.launchers._remote_job job.json``.

``job.json`` (written by the launcher next to the spec, shipped in the job's runtime environment) names the skill,
the action, the command, the data sources and the results URI. On the node this entry

1. stages the data sources here (``s3://`` downloads and extraction into this node's ``TAO_SKILL_HOME``; local
   paths only when declared shared, so visible here too) and downloads ``s3://`` model inputs (a parent checkpoint);
2. runs the trainer on a node-local results folder, its output to stdout (the cluster's job log) and ``job.log``;
3. mirrors that folder to the results URI while it runs (:class:`~tao_skill.results_sync.ResultsSyncer`), then,
   after a last complete upload, writes the exit record (``.exit_code.json``) there: the sign that every file of
   the job is in place. SIGTERM (a cancel) is passed to the trainer; its files are uploaded before exiting.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tao_skill import s3_files
from tao_skill.errors import UserError
from tao_skill.home import skill_home
from tao_skill.launchers._base import EXIT_NAME, LOG_NAME
from tao_skill.results_sync import ResultsSyncer

__all__ = ["main", "PAYLOAD_NAME", "localise"]

PAYLOAD_NAME = "job.json"
SPEC_PLACEHOLDER = "{spec}"


def localise(value: Any, uri: str, local: Path) -> Any:
    """``value`` with every string naming ``uri`` (or a path under it) moved to the local folder."""
    if isinstance(value, dict):
        return {k: localise(v, uri, local) for k, v in value.items()}
    if isinstance(value, list):
        return [localise(v, uri, local) for v in value]
    if isinstance(value, str) and (value == uri or value.startswith(uri + "/")):
        return str(local / value[len(uri) :].lstrip("/")) if value != uri else str(local)
    return value


class _Output:
    """The job's output: every line to stdout (the cluster's log of the job) and to ``job.log`` (uploaded)."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()

    def write(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        self.handle.write(data)

    def say(self, message: str) -> None:
        self.write(f"{message}\n".encode())

    def close(self) -> None:
        self.handle.close()


def _prepare(payload: dict[str, Any], work: Path, results: Path, home: Path, out: _Output) -> list[str]:
    """Stage the data and inputs here and write the node-local spec; returns the command to run."""
    from tao_skill.launchers.local import resolve_executable
    from tao_skill.launching import fetch_inputs, stage_sources
    from tao_skill.skill import load_skill

    uri = payload["results_dir"]
    spec = yaml.safe_load(Path(payload["spec"]).read_text(encoding="utf-8")) or {}
    if s3_files.is_s3(uri):
        shutil.copyfile(payload.get("record_spec", payload["spec"]), results / "spec.yaml")  # the spec as recorded
        spec = localise(spec, uri, results)
    if payload.get("staging"):
        sk = load_skill(payload["skill"])
        spec = stage_sources(spec, sk, payload["action"], payload["data_sources"], payload["staging"], str(home))
    spec = fetch_inputs(spec, payload.get("inputs", {}), home / "worker" / "inputs", out.say)
    local_spec = work / "spec.run.yaml"
    fd = os.open(local_spec, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(spec, handle, sort_keys=False)
    return resolve_executable([str(local_spec) if p == SPEC_PLACEHOLDER else p for p in payload["command"]])


def _run(command: list[str], results: Path, out: _Output) -> tuple[int, int | None]:
    """Run the command with its output copied to ``out``; SIGTERM/SIGINT are passed on. (exit code, signal)."""
    received: list[int] = []
    child = subprocess.Popen(
        command, cwd=results, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    assert child.stdout is not None
    for line in iter(child.stdout.readline, b""):
        out.write(line)
    return child.wait(), (received[0] if received else None)


def _record_exit(uri: str, record: dict[str, Any]) -> None:
    """The exit record, written last: an object on S3, or a file replaced atomically in a shared folder."""
    data = json.dumps(record).encode()
    if s3_files.is_s3(uri):
        s3_files.put_bytes(s3_files.join(uri, EXIT_NAME), data)
        return
    path = Path(uri) / EXIT_NAME
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    payload = json.loads(Path(args[0] if args else PAYLOAD_NAME).read_text(encoding="utf-8"))
    home = skill_home()
    uri = payload["results_dir"]
    work = home / "worker" / payload["job_id"]
    shutil.rmtree(work, ignore_errors=True)  # a retried job starts clean
    results = work / "results" if s3_files.is_s3(uri) else Path(uri)  # a shared folder is written in place
    results.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    out = _Output(results / LOG_NAME)
    out.say(f"[tao-skill] {payload['job_id']} on {os.uname().nodename}: results in {uri}")
    syncer = ResultsSyncer(results, uri, interval=float(payload.get("sync_seconds", 2.0)), log=out.say)
    code, signum = 1, None
    try:
        try:
            command = _prepare(payload, work, results, home, out)
        except UserError as exc:
            out.say(f"[tao-skill] {exc}")
            code = 2
        else:
            out.say(f"[tao-skill] started {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command)}")
            if s3_files.is_s3(uri):
                syncer.start()
            code, signum = _run(command, results, out)
            out.say(f"[tao-skill] exited with code {code} at {time.strftime('%Y-%m-%d %H:%M:%S')}")
    finally:
        out.close()
        if s3_files.is_s3(uri):
            syncer.stop(final=True)  # everything the job wrote, then the exit record: readers trust what they find
        _record_exit(uri, {"exit_code": code, "ended_at": time.time(), "signal": signum, "node": os.uname().nodename})
    shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
