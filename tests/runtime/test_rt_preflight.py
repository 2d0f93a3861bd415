"""Preflight: plan says whether a request can run here (extras, TensorRT, GPU, Docker engine) with the install
command; run refuses what cannot run (exit code 2, nothing recorded); doctor lists every check; credentials are
named, never shown. The fresh-venv test (tests/skills/test_fresh_install.py) covers a real install without extras."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tao_skill import api, preflight
from tao_skill.errors import UserError
from tao_skill.store import JobStore

SKILL = "tao-train-optical-inspection"
REPO = Path(__file__).resolve().parents[2]


def _sources(synth_data) -> dict[str, str]:
    return {"train_datasets": str(synth_data["train"]), "eval_dataset": str(synth_data["val"])}


def test_extras_table_matches_pyproject() -> None:
    """Every optional extra is checked, by the modules its own distributions provide."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    declared = {k: v for k, v in extras.items() if k not in ("all", "test")}
    assert set(preflight.EXTRAS) == set(declared) == set(preflight.PURPOSE)
    providers = importlib.metadata.packages_distributions()
    for extra, requirements in declared.items():
        names = {Requirement(r).name.lower() for r in requirements}
        provided = {d.lower() for module in preflight.EXTRAS[extra] for d in providers.get(module, [])}
        assert provided == names, (extra, provided, names)


def test_plan_reports_a_ready_request(synth_data) -> None:
    plan = api.plan(SKILL, "train", data_sources=_sources(synth_data))
    assert plan.route == "automl" and plan.preflight.ok and plan.preflight.install is None
    assert [c.name for c in plan.preflight.checks] == ["extra:automl", "extra:trainer"]


def test_missing_extra_plan_says_so_and_run_refuses(synth_data, monkeypatch) -> None:
    """A module that is not installed stands in for the AutoML engine (the real missing case: test_fresh_install)."""
    monkeypatch.setitem(preflight.EXTRAS, "automl", ("optuna_is_not_installed_here",))
    plan = api.plan(SKILL, "train", data_sources=_sources(synth_data))
    assert not plan.preflight.ok and plan.preflight.install == "pip install 'tao-skill-bank[automl]'"
    (problem,) = plan.preflight.problems()
    assert problem.name == "extra:automl" and "optuna_is_not_installed_here" in problem.detail
    with pytest.raises(UserError) as err:
        api.run(SKILL, "train", data_sources=_sources(synth_data))
    assert "pip install 'tao-skill-bank[automl]'" in err.value.message
    assert [i.rule for i in err.value.issues] == ["preflight"]
    assert JobStore().list() == []
    direct = api.plan(SKILL, "train", data_sources=_sources(synth_data), request_text="no AutoML")
    assert direct.preflight.ok, "plain training does not need the AutoML engine"


def test_docker_backend_needs_a_reachable_engine(synth_data) -> None:
    """No Docker engine runs on this machine: the real SDK's real failure to connect is what preflight reports."""
    plan = api.plan(SKILL, "train", data_sources=_sources(synth_data), backend="docker", automl_policy="off",
                    overrides=["model_type=Siamese_3"])  # fmt: skip
    engine = next(c for c in plan.preflight.checks if c.name == "docker_engine")
    assert not engine.ok and "Docker" in engine.detail and "--backend local" in engine.fix
    assert not any(c.name == "extra:trainer" for c in plan.preflight.checks), "the container brings the trainer"
    with pytest.raises(UserError) as err:
        api.run(SKILL, "train", data_sources=_sources(synth_data), backend="docker", automl_policy="off",
                overrides=["model_type=Siamese_3"])  # fmt: skip
    assert err.value.issues[0].path == "docker_engine"
    assert JobStore().list() == []


def test_tensorrt_locally_needs_tensorrt_and_a_gpu(tmp_path: Path) -> None:
    store = JobStore()
    job = store.create(skill=SKILL, action="export", spec={})
    Path(job.results_dir).mkdir(parents=True)
    (Path(job.results_dir) / "model.onnx").write_bytes(b"onnx")
    plan = api.plan(SKILL, "gen_trt_engine", parent_job_id=job.id)
    found = {c.name: c for c in plan.preflight.checks}
    assert not found["tensorrt"].ok and "--backend docker" in found["tensorrt"].fix  # no TensorRT on this machine
    assert found["gpu"].ok is (preflight.gpu_count() > 0)


def test_doctor_lists_checks_and_names_credentials_without_values(monkeypatch, tmp_path: Path) -> None:
    secret = "AKIA-doctor-must-not-print-this"
    env = {"AWS_ACCESS_KEY_ID": secret, "TAO_SKILL_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "tao_skill.cli", "doctor", "--json"]
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert secret not in out.stdout
    checks = json.loads(out.stdout)
    groups = {c["group"] for c in checks}
    assert groups == {"python", "extras", "gpu", "docker", "cluster", "credentials", "disk"}
    cluster = {c["name"]: c["status"] for c in checks if c["group"] == "cluster"}
    assert cluster == {"ray": "info", "results": "info", "study database": "info"}  # none configured here
    extras = {c["name"]: c["status"] for c in checks if c["group"] == "extras"}
    assert extras == {name: "ok" for name in preflight.EXTRAS}  # `make venv` installs every extra
    aws = next(c for c in checks if c["name"].startswith("AWS"))
    assert aws["status"] == "ok" and "AWS_ACCESS_KEY_ID" in aws["detail"]
    disk = next(c for c in checks if c["group"] == "disk")
    assert "GiB free" in disk["detail"]
    tensorrt = next(c for c in checks if c["name"] == "tensorrt")
    assert tensorrt["status"] == ("ok" if preflight.importlib.util.find_spec("tensorrt") else "info")
