"""The tao-skill CLI as a real subprocess: exit codes, --json issues, no half-created job on bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from tao_skill.store import JobStore

SKILL = "tao-train-optical-inspection"


def tao_skill(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tao_skill.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _no_jobs_no_folders() -> None:
    home = Path(os.environ["TAO_SKILL_HOME"])
    assert JobStore(home).list() == []
    assert not (home / "results").exists() or list((home / "results").iterdir()) == []


def test_list_describe_and_help() -> None:
    out = tao_skill("list", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["name"] == SKILL
    # every skill folder of the shipped bank is listed, workflow skills (a SKILL.md only) too
    shipped = Path(__file__).resolve().parents[2] / "skills"
    bank = sorted(p.parent.name for p in shipped.glob("*/SKILL.md"))
    full = tao_skill("list", "--json", env={"TAO_SKILL_BANK": str(shipped)})
    assert sorted(s["name"] for s in json.loads(full.stdout)) == bank and "tao-run-automl" in bank
    table = tao_skill("list", env={"TAO_SKILL_BANK": str(shipped)})
    assert all(name in table.stdout for name in bank) and "workflow" in table.stdout
    described = tao_skill("describe", SKILL, "train", "--json")
    assert json.loads(described.stdout)["data_sources"]["dataset.train_dataset.csv_path"]["source"] == "train_datasets"
    assert tao_skill("describe", SKILL).returncode == 0


def test_describe_prints_the_spec_keys_as_a_table() -> None:
    """Key, type, default, bounds and description of each key, from the generated schema; --json stays complete."""
    out = tao_skill("describe", SKILL, "train")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("key "))
    assert lines[header].split() == ["key", "type", "default", "bounds", "description"]
    row = next(line for line in lines if line.startswith("train.num_epochs *"))
    assert row.split()[2:6] == ["integer", "6", ">=", "1"] and "Number of epochs." in row
    lr = next(line for line in lines if line.startswith("train.optim.lr *"))
    assert "> 0.0" in lr and "number" in lr
    schema = json.loads((Path(__file__).resolve().parents[2] / "skills" / SKILL / "schemas" / "train.schema.json")
                        .read_text())  # fmt: skip
    from tao_skill._schema_walk import leaf_schemas

    assert f"spec keys of train ({len(leaf_schemas(schema))};" in out.stdout
    assert not any('": ' in line for line in lines[:header])  # no JSON blobs above the table


def test_plan_json_and_table(synth_data) -> None:
    args = [
        "plan",
        SKILL,
        "train",
        "--automl-policy",
        "off",
        "--data",
        f"train_datasets={synth_data['train']}",
        "--data",
        f"eval_dataset={synth_data['val']}",
        "num_epochs=2",
        "-o",
        "train.seed=3",
    ]
    out = tao_skill(*args, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    plan = json.loads(out.stdout)
    assert plan["provenance"]["train.num_epochs"] == "shorthand:num_epochs"
    assert plan["spec"]["train"]["seed"] == 3 and plan["route"] == "direct"
    table = tao_skill(*args)
    assert "shorthand:num_epochs" in table.stdout and "route: direct" in table.stdout
    _no_jobs_no_folders()


def test_user_errors_exit_2_with_issues(synth_data) -> None:
    data = ["--data", f"train_datasets={synth_data['train']}", "--data", f"eval_dataset={synth_data['val']}"]
    out = tao_skill(
        "run", SKILL, "train", "--automl-policy", "off", *data, "num_epochs=two", "lerning_rate=1", "--json"
    )
    assert out.returncode == 2, out.stdout + out.stderr
    payload = json.loads(out.stdout)
    assert payload["error"] == "user_error"
    by_path = {i["path"]: i for i in payload["issues"]}
    assert by_path["train.num_epochs"]["value"] == "two"
    assert "learning_rate" in by_path["lerning_rate"]["hint"]
    human = tao_skill("run", SKILL, "train", "--automl-policy", "off", *data, "num_epochs=two")
    assert human.returncode == 2 and "Traceback" not in human.stderr and "train.num_epochs" in human.stderr
    missing = tao_skill("status", "train-000000000000", "--json")
    assert missing.returncode == 2 and json.loads(missing.stdout)["issues"][0]["rule"] == "unknown_job"
    assert tao_skill("run", SKILL, "evaluate", "--parent", "nope").returncode == 2
    _no_jobs_no_folders()


def test_run_with_bad_data_creates_no_job(tmp_path: Path, synth_data) -> None:
    bad_csv = tmp_path / "badcsv"
    bad_csv.mkdir()
    os.symlink(synth_data["val"] / "images.tar.gz", bad_csv / "images.tar.gz")
    (bad_csv / "dataset.csv").write_text("input_path,golden_path,object_name\nboard_000,golden/x,Q1\n")
    out = tao_skill(
        "run",
        SKILL,
        "train",
        "--automl-policy",
        "off",
        "--data",
        f"train_datasets={bad_csv}",
        "--data",
        f"eval_dataset={synth_data['val']}",
        "--json",
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert json.loads(out.stdout)["issues"][0]["rule"] == "csv_columns"
    evil = tmp_path / "evil"
    evil.mkdir()
    with tarfile.open(evil / "images.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("images/../../../escaped.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    (evil / "dataset.csv").write_text("input_path,golden_path,label,object_name\n")
    out = tao_skill(
        "run",
        SKILL,
        "evaluate",
        "--data",
        f"eval_dataset={evil}",
        "evaluate.checkpoint=" + str(evil / "dataset.csv"),
        "--json",
    )
    assert out.returncode == 2 and json.loads(out.stdout)["issues"][0]["rule"] == "unsafe_archive"
    assert not (tmp_path / "escaped.txt").exists()
    _no_jobs_no_folders()


def test_automl_route_without_engine_or_with_it(synth_data) -> None:
    data = ["--data", f"train_datasets={synth_data['train']}", "--data", f"eval_dataset={synth_data['val']}"]
    out = tao_skill("plan", SKILL, "train", *data, "--request", "tune hyperparameters please", "--json")
    plan = json.loads(out.stdout)
    assert plan["route"] == "automl" and plan["automl"]["source"] == "request_text"
    off = json.loads(tao_skill("plan", SKILL, "train", *data, "--request", "plain training", "--json").stdout)
    assert off["route"] == "direct"


def test_parent_errors_exit_2_and_create_nothing(synth_data) -> None:
    store = JobStore()
    train = store.create(skill=SKILL, action="train", spec={}, state="failed")  # wrote no checkpoint
    export = store.create(skill=SKILL, action="export", spec={})
    before = {j.id for j in store.list()}
    wrong = tao_skill("run", SKILL, "export", "--parent", export.id, "--json")
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    issue = json.loads(wrong.stdout)["issues"][0]
    assert issue["rule"] == "parent_action" and "train" in issue["hint"]
    empty = tao_skill("run", SKILL, "evaluate", "--parent", train.id, "--data", f"eval_dataset={synth_data['val']}")
    assert empty.returncode == 2 and "no checkpoint" in empty.stderr and "Traceback" not in empty.stderr
    assert {j.id for j in store.list()} == before
    results = Path(os.environ["TAO_SKILL_HOME"]) / "results"
    assert not results.exists() or list(results.iterdir()) == []


def test_docker_backend_without_engine_exits_2(synth_data) -> None:
    data = ["--data", f"train_datasets={synth_data['train']}", "--data", f"eval_dataset={synth_data['val']}"]
    out = tao_skill(
        "run",
        SKILL,
        "train",
        "--automl-policy",
        "off",
        "--backend",
        "docker",
        "model_type=Siamese_3",
        *data,
        "--json",
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert out.returncode == 2, out.stdout + out.stderr
    issue = json.loads(out.stdout)["issues"][0]
    assert (issue["rule"], issue["path"]) == ("preflight", "docker_engine") and "--backend local" in issue["hint"]
    _no_jobs_no_folders()
