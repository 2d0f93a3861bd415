"""End to end with the embedded trainer: data from a real S3 API on loopback (moto server), real local jobs chained
by job ids only (train -> evaluate / inference / export), checkpoints picked by best, latest and epoch, two CLI runs
at once, and secrets kept out of records, spec files, logs and printed plans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tao_skill import api

SKILL = "tao-train-optical-inspection"
ENC_KEY = "enc-key-SECRET-4242"
pytestmark = pytest.mark.slow


def tao_skill(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tao_skill.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def run_json(*args: str) -> dict | list:
    out = tao_skill(*args, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def _everything_written(home: Path) -> bytes:
    """Every byte the runtime keeps (DB, WAL, logs, spec files, status), minus the trainer's own outputs."""
    blob = b""
    for path in home.rglob("*"):
        if path.is_file() and path.suffix not in (".pth", ".onnx", ".png", ".gz", ".jpg"):
            blob += path.read_bytes()
    return blob


def test_chain_from_s3(s3_upload, synth_data, monkeypatch) -> None:
    monkeypatch.setenv("TAO_ENCRYPTION_KEY", ENC_KEY)
    aws_secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    home = Path(os.environ["TAO_SKILL_HOME"])
    train_uri = s3_upload("oi-e2e", "train", synth_data["train"])  # images/images wrapper inside the tarball
    val_uri = s3_upload("oi-e2e", "val", synth_data["val"])
    shape = ["image_width=32", "image_height=32", "dataset.workers=0"]

    plan_out = tao_skill(
        "plan",
        SKILL,
        "train",
        "--request",
        "plain training please, no AutoML",
        "--data",
        f"train_datasets={train_uri}",
        "--data",
        f"eval_dataset={val_uri}",
        *shape,
        "-v",
    )
    assert plan_out.returncode == 0, plan_out.stderr
    assert "spec_param:key" in plan_out.stdout and ENC_KEY not in plan_out.stdout + plan_out.stderr
    assert aws_secret not in plan_out.stdout + plan_out.stderr

    train = run_json(
        "run",
        SKILL,
        "train",
        "--automl-policy",
        "off",
        "--data",
        f"train_datasets={train_uri}",
        "--data",
        f"eval_dataset={val_uri}",
        "num_epochs=2",
        "batch_size=4",
        *shape,
        "--wait",
    )
    assert train["state"] == "done", tao_skill("logs", train["id"]).stdout
    assert train["spec"]["dataset"]["train_dataset"]["images_dir"].endswith("images/images")
    assert train["spec"]["encryption_key"] is None
    assert train["plan"]["provenance"]["encryption_key"] == "spec_param:key"
    assert "val_acc" in train["progress"]["kpi"]

    best = run_json("checkpoints", train["id"])
    latest = run_json("checkpoints", train["id"], "--select", "latest")
    assert len(best["candidates"]) == 2 and best["chosen"]["reason"].startswith("best:")
    assert latest["chosen"]["epoch"] == 1

    evaluate = run_json(
        "run",
        SKILL,
        "evaluate",
        "--parent",
        train["id"],
        "--data",
        f"eval_dataset={val_uri}",
        "dataset.workers=0",
    )
    # detached: the CLI returned while the job runs on; its state comes from the recorded exit code
    assert evaluate["state"] == "running" and evaluate["pid"]
    evaluate = api.wait(evaluate["id"], timeout=300).model_dump(mode="json")
    assert evaluate["state"] == "done", tao_skill("logs", evaluate["id"]).stdout
    assert evaluate["spec"]["evaluate"]["checkpoint"] == best["chosen"]["path"]
    assert evaluate["plan"]["parent"]["selection"] == "best"
    assert evaluate["spec"]["dataset"]["image_width"] == 32  # inherited from the parent
    assert "test_acc" in (evaluate["progress"].get("kpi") or {})

    inference = run_json(
        "run",
        SKILL,
        "inference",
        "--parent",
        train["id"],
        "--checkpoint",
        "epoch=0",
        "--data",
        f"inference_dataset={val_uri}",
        "dataset.workers=0",
        "--wait",
    )
    assert inference["state"] == "done", tao_skill("logs", inference["id"]).stdout
    assert "epoch_000" in inference["spec"]["inference"]["checkpoint"]
    assert (Path(inference["results_dir"]) / "inference" / "inference.csv").is_file()

    # two `tao-skill run` processes at once, both chained to the train job
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tao_skill.cli",
                "run",
                SKILL,
                "export",
                "--parent",
                train["id"],
                "--checkpoint",
                select,
                "--wait",
                "--json",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for select in ("latest", "best")
    ]
    exports = [json.loads(p.communicate(timeout=300)[0]) for p in runs]
    assert [p.returncode for p in runs] == [0, 0]
    assert len({e["id"] for e in exports}) == 2 and all(e["state"] == "done" for e in exports)
    assert exports[0]["spec"]["export"]["checkpoint"] == latest["chosen"]["path"]
    for export in exports:
        assert Path(export["spec"]["export"]["onnx_file"]).is_file()
    recorded = {j["id"]: j for j in run_json("jobs")}
    assert {e["id"] for e in exports} <= set(recorded)
    assert all(recorded[e["id"]]["parent_id"] == train["id"] for e in exports)

    onnx_inference = run_json(
        "run",
        SKILL,
        "inference",
        "--parent",
        exports[0]["id"],
        "--data",
        f"inference_dataset={val_uri}",
        "dataset.workers=0",
        "--wait",
    )
    assert onnx_inference["state"] == "done", tao_skill("logs", onnx_inference["id"]).stdout
    assert onnx_inference["spec"]["inference"]["checkpoint"].endswith(".onnx")

    # secrets: neither the encryption key nor the AWS secret is stored, logged or printed
    written = _everything_written(home)
    assert ENC_KEY.encode() not in written and aws_secret.encode() not in written
    for job in recorded.values():
        assert not (Path(job["results_dir"]) / ".spec.run.yaml").exists()
        assert ENC_KEY not in tao_skill("logs", job["id"]).stdout
