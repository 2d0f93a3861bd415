"""Every verb end to end through the real CLI (subprocesses) on generated data, CPU only.

synth -> train -> evaluate -> inference -> export -> evaluate with the .onnx (ONNX Runtime) -> inference with the
evaluate's threshold file; plus gen_trt_engine's user error (no TensorRT and no GPU here: that path cannot run).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, run_cli, make_spec) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    done = run_cli("synth", str(data), "--pairs", "40", "--defect-fraction", "0.3", "--image-size", "32", "--seed", "9")
    assert done.returncode == 0, done.stderr
    results = root / "results"
    spec = make_spec(root / "spec.yaml", data, results)
    train = run_cli("train", "-e", str(spec))
    assert train.returncode == 0, train.stderr[-3000:]
    return {"root": root, "data": data, "results": results, "spec": spec}


def test_train_outputs(pipeline: dict[str, Path]) -> None:
    out = pipeline["results"] / "train"
    names = sorted(p.name for p in out.glob("model_epoch_*.pth"))
    assert names == ["model_epoch_000_step_00005.pth", "model_epoch_001_step_00010.pth"]
    link = out / "oi_model_latest.pth"
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()
    assert link.resolve().name == names[-1]
    ckpt = torch.load(link, weights_only=True)  # tensors and primitives only
    assert all(k.startswith("model.") for k in ckpt["state_dict"])
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 10
    assert isinstance(ckpt["threshold"], float) and ckpt["hyper_parameters"]["model"]["model_type"] == "Siamese_Diff"
    assert ckpt["hyper_parameters"]["loss"] == "bce" and ckpt["calibration"]["epoch"] == 1
    assert ckpt["calibration"]["threshold"] == ckpt["threshold"] and ckpt["calibration"]["recall"] == 1.0
    assert ckpt["optimizer_states"]
    lines = [json.loads(line) for line in (out / "status.json").read_text().splitlines()]
    assert [line["status"] for line in lines] == ["STARTED", "RUNNING", "RUNNING", "SUCCESS"]
    running = lines[2]
    assert set(running["kpi"]) >= {
        "train_loss",
        "train_acc",
        "train_fpr",
        "val_loss",
        "val_acc",
        "val_fpr",
        "val_roc_auc",
        "val_far_at_target",
    }
    assert running["epoch"] == 1 and running["max_epoch"] == 2 and "eta" in running
    assert lines[-1]["threshold"] == pytest.approx(ckpt["threshold"])
    assert lines[-1]["calibration"]["defects"] == 12 and lines[-1]["pairs_per_second"] > 0
    assert lines[-1]["train_seconds"] > 0 and lines[-1]["peak_rss_mib"] > 0
    experiment = (out / "experiment.yaml").read_text()
    assert "tlt_encode_secret" not in experiment and "*****" in experiment
    assert "tlt_encode_secret" not in (out / "status.json").read_text()


def test_evaluate_inference_export_onnx(pipeline: dict[str, Path], run_cli) -> None:
    spec, results = pipeline["spec"], pipeline["results"]
    ckpt = results / "train" / "oi_model_latest.pth"
    done = run_cli("evaluate", "-e", str(spec), f"evaluate.checkpoint={ckpt}")
    assert done.returncode == 0, done.stderr[-3000:]
    ev = results / "evaluate"
    metrics = json.loads((ev / "metrics.json").read_text())
    assert metrics["threshold_source"].startswith("calibrated threshold")
    assert set(metrics["kpi"]) >= {
        "test_acc",
        "test_fpr",
        "test_fnr",
        "defect_acc",
        "false_alarm_rate",
        "roc_auc",
        "pr_auc",
    }
    assert metrics["operating_points"]["recall_100"]["threshold"] is not None
    assert set(metrics["operating_points"]) == {"recall_100", "recall_99.9", "recall_99"}
    assert metrics["calibration"]["threshold"] == pytest.approx(metrics["threshold"])  # what validation promised
    # the threshold used and the alternatives, each with what it gives on this test set
    used, others = metrics["thresholds"]["used"], metrics["thresholds"]["alternatives"]
    assert used["threshold"] == metrics["threshold"] and used["source"] == metrics["threshold_source"]
    assert used["false_alarm_rate"] == pytest.approx(metrics["kpi"]["false_alarm_rate"])
    assert used["defect_recall"] == pytest.approx(metrics["kpi"]["defect_acc"])
    assert {o["name"] for o in others} <= {"model_default", "recommended"} and others  # calibrated = the used one
    assert all({"threshold", "source", "defect_recall", "false_alarm_rate"} <= set(o) for o in others)
    assert "hindsight" in metrics["recommended_threshold"]["note"]
    assert "% of PASS pairs" in done.stdout and "% of ALL pairs" in done.stdout  # each rate says what it is of
    for name in ("roc_curve.png", "score_histogram.png", "worst_pairs.png"):
        assert (ev / name).read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((ev / "evaluate.csv").open()))
    assert len(rows) == 40 and {"siamese_score", "prediction", "object_name"} <= set(rows[0])
    status = [json.loads(x) for x in (ev / "status.json").read_text().splitlines()]
    assert status[-1]["status"] == "SUCCESS" and status[-1]["kpi"]["test_acc"] == pytest.approx(
        metrics["kpi"]["test_acc"]
    )

    done = run_cli("inference", "-e", str(spec), f"inference.checkpoint={ckpt}")
    assert done.returncode == 0, done.stderr[-3000:]
    inf_rows = list(csv.DictReader((results / "inference" / "inference.csv").open()))
    assert [r["siamese_score"] for r in inf_rows] == [r["siamese_score"] for r in rows]

    done = run_cli("export", "-e", str(spec), f"export.checkpoint={ckpt}")
    assert done.returncode == 0, done.stderr[-3000:]
    onnx_file = results / "export" / "model.onnx"
    assert onnx_file.is_file()

    done = run_cli(
        "evaluate", "-e", str(spec), f"evaluate.checkpoint={onnx_file}", f"evaluate.results_dir={results / 'ev_onnx'}"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    onnx_metrics = json.loads((results / "ev_onnx" / "metrics.json").read_text())
    assert onnx_metrics["backend"] == "onnxruntime"
    assert onnx_metrics["threshold"] == pytest.approx(metrics["threshold"])  # carried in the ONNX metadata
    onnx_rows = list(csv.DictReader((results / "ev_onnx" / "evaluate.csv").open()))
    diffs = [abs(float(a["siamese_score"]) - float(b["siamese_score"])) for a, b in zip(rows, onnx_rows, strict=True)]
    assert max(diffs) < 1e-4

    done = run_cli(
        "inference",
        "-e",
        str(spec),
        f"inference.checkpoint={onnx_file}",
        f"inference.threshold_file={ev / 'metrics.json'}",
        f"inference.results_dir={results / 'inf_onnx'}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "recommended threshold" in (results / "inf_onnx" / "status.json").read_text()


def test_export_size_mismatch_and_tensorrt_missing(pipeline: dict[str, Path], run_cli) -> None:
    spec, results = pipeline["spec"], pipeline["results"]
    ckpt = results / "train" / "oi_model_latest.pth"
    done = run_cli(
        "export", "-e", str(spec), f"export.checkpoint={ckpt}", "export.input_height=512", "export.onnx_file=x.onnx"
    )
    assert done.returncode == 2
    assert "export.input_height=128" in done.stderr and "Traceback" not in done.stderr
    done = run_cli(
        "gen_trt_engine",
        "-e",
        str(spec),
        f"gen_trt_engine.onnx_file={ckpt}",
        "gen_trt_engine.trt_engine=m.engine",
        env={"CUDA_VISIBLE_DEVICES": ""},  # the no-GPU error, also on a machine with one
    )
    assert done.returncode == 2
    assert "tensorrt" in done.stderr.lower() and "onnx" in done.stderr.lower() and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("train.num_epoch=3", "train.num_epoch"),
        ("train.num_epochs=many", "train.num_epochs"),
        ("dataset.train_dataset.csv_path=???", "dataset.train_dataset.csv_path"),
    ],
)
def test_bad_spec_exits_2_with_the_key(
    tmp_path: Path, tiny_data: Path, override: str, needle: str, run_cli, make_spec
) -> None:
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out")
    done = run_cli("train", "-e", str(spec), override)
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "out").rglob("*.pth"))


def test_missing_data_exits_2(tmp_path: Path, tiny_data: Path, run_cli, make_spec) -> None:
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out")
    done = run_cli("train", "-e", str(spec), f"dataset.train_dataset.images_dir={tmp_path / 'nowhere'}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "images_dir" in done.stderr
    status = (tmp_path / "out" / "train" / "status.json").read_text()
    assert '"FAILURE"' in status
