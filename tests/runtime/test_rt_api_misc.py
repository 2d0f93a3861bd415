"""API details: the AutoML route without the engine, following logs of a real job, jobs filters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tao_skill import api
from tao_skill.errors import UserError
from tao_skill.launchers.local import LocalLauncher
from tao_skill.store import JobStore

SKILL = "tao-train-optical-inspection"


def test_automl_route_without_engine_is_a_clear_user_error(synth_data, monkeypatch) -> None:
    import tao_skill

    # `from tao_skill import automl` must fail even when another test imported the engine earlier in this process.
    monkeypatch.setitem(sys.modules, "tao_skill.automl", None)
    monkeypatch.delattr(tao_skill, "automl", raising=False)
    sources = {"train_datasets": str(synth_data["train"]), "eval_dataset": str(synth_data["val"])}
    with pytest.raises(UserError) as err:
        api.run(SKILL, "train", data_sources=sources)
    assert "AutoML engine is not installed" in err.value.message and "plain training" in err.value.message
    assert JobStore().list() == []


def test_logs_follow_streams_until_the_job_ends() -> None:
    store = JobStore()
    job = store.create(skill=SKILL, action="train", spec={})
    Path(job.results_dir).mkdir(parents=True)
    script = "import time\nfor i in range(3):\n    print('line', i, flush=True)\n    time.sleep(0.3)\n"
    handle = LocalLauncher().launch(job, Path(job.results_dir) / "spec.yaml", [sys.executable, "-c", script])
    store.update(job.id, pid=handle.pid, state="running")
    out = subprocess.run(
        [sys.executable, "-m", "tao_skill.cli", "logs", "--follow", job.id], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    assert "line 0" in out.stdout and "line 2" in out.stdout and "exited with code 0" in out.stdout
    assert api.status(job.id).state == "done"
    assert [j.id for j in api.jobs(state="done")] == [job.id] and api.jobs(action="export") == []


def test_import_and_plan_stay_light(synth_data) -> None:
    """`import tao_skill` and plan() load no torch, boto3, docker or optuna (checked in a fresh interpreter)."""
    code = (
        "import sys, tao_skill\n"
        "assert 'pydantic' not in sys.modules, 'import tao_skill loads pydantic eagerly'\n"
        f"tao_skill.plan('{SKILL}', 'train', automl_policy='off', data_sources={{'train_datasets': "
        f"{str(synth_data['train'])!r}, 'eval_dataset': {str(synth_data['val'])!r}}})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'boto3', 'docker', 'optuna'))\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
