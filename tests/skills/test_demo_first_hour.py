"""A newcomer's first hour: ``make demo``'s first stage through a pipe shows progress while the job runs, its job is
found by the next ``tao-skill`` command of the same environment, and the job's log holds plain lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tao_skill.launchers._base import EXIT_NAME, LOG_NAME

REPO = Path(__file__).resolve().parents[2]


def test_demo_train_stage_streams_through_a_pipe_and_its_job_is_found(tmp_path: Path) -> None:
    """Real processes end to end: the demo (``--until train``), the ``tao-skill run --wait`` it starts, the job's
    supervisor and trainer. Each epoch line is read from the pipe as it comes; at that moment the job must not have
    ended (its exit file not yet written): a buffered demo delivers every line after the job ended."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffering as a user's shell has it
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    home = Path(env["TAO_SKILL_HOME"])
    command = [
        sys.executable, "-m", "devtools.demo", "--workspace", str(tmp_path / "ws"), "--pairs", "96",
        "--image-size", "32", "--epochs", "4", "--until", "train",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines, live, job_id = [], [], None
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        match = re.match(r"\[(train-\w+)\] Epoch (\d+)/4: ", line)
        if match:
            job_id = match.group(1)
            live.append(not (home / "results" / job_id / EXIT_NAME).exists())
    assert process.wait(timeout=600) == 0, "".join(lines)
    text = "".join(lines)
    assert job_id is not None and len(live) == 4, text  # one line per epoch, counted 1..4, the last one too
    assert any(live), f"no epoch line arrived before the job ended:\n{text}"
    assert "expected time:" in text and "Next, type:" in text
    assert text.count(f" status {job_id}") == 1 and f" checkpoints {job_id}" in text

    # the next command of the same environment finds the job and explains its numbers
    status = subprocess.run(
        [sys.executable, "-m", "tao_skill.cli", "status", job_id], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    assert "state      done" in status.stdout and "best checkpoint" in status.stdout
    assert "ranks checkpoints" in status.stdout  # the meaning column, from the skill's contract
    assert "training_curves.png" in status.stdout  # the picture, linked
    assert not re.search(r"\d\.\d{6,}", status.stdout), status.stdout  # rounded for people

    # the job's log: no progress-bar redraws, each Lightning line once, no third-party advertising or deprecation
    log = (home / "results" / job_id / LOG_NAME).read_text(encoding="utf-8")
    assert "\r" not in log
    assert log.count("GPU available:") == 1
    assert "Tip:" not in log and "deprecated" not in log
    assert len(re.findall(r"Epoch \d/4: train_loss", log)) == 4
