"""``train.checkpointer`` through the real CLI: the top-k best checkpoints by a monitored metric, replace_periodic,
ranking carried across a resume, and clear errors for a monitor or filename field the trainer does not have."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tao_skill.checkpoints import resolve


def _epoch_values(results: Path, monitor: str) -> dict[int, float]:
    lines = [json.loads(line) for line in (results / "status.json").read_text().splitlines()]
    return {line["epoch"]: line["kpi"][monitor] for line in lines if line["status"] == "RUNNING" and "kpi" in line}


def test_topk_keeps_the_best_epochs_and_carries_the_ranking_across_a_resume(
    tmp_path: Path, tiny_data: Path, run_cli, make_spec
) -> None:
    checkpointer = {
        "enable_topk": True,
        "monitor": "val_loss",
        "save_top_k": 2,
        "filename": "best_{epoch:02d}_{val_loss:.4f}",
        "auto_insert_metric_name": True,
        "replace_periodic": True,
    }
    spec = make_spec(
        tmp_path / "spec.yaml", tiny_data, tmp_path / "out", train={"num_epochs": 3, "checkpointer": checkpointer}
    )
    out = tmp_path / "out" / "train"
    done = run_cli("train", "-e", str(spec))
    assert done.returncode == 0, done.stderr[-3000:]
    done = run_cli("train", "-e", str(spec), "train.num_epochs=6")  # resumes from the latest, 3 more epochs
    assert done.returncode == 0, done.stderr[-3000:]

    values = _epoch_values(out, "val_loss")
    assert sorted(values) == list(range(6))
    best = sorted(values, key=lambda epoch: values[epoch])[:2]  # min mode for a loss
    kept = sorted(out.glob("best_*.pth"))
    assert sorted(int(p.name.split("=")[1][:2]) for p in kept) == sorted(best)  # 'best_epoch=03_val_loss=0.1234'
    for path in kept:
        data = torch.load(path, weights_only=True)
        assert data["best"]["monitor"] == "val_loss" and data["best"]["mode"] == "min"
        assert data["best"]["value"] == values[data["epoch"]]
        assert data["threshold"] is not None and "state_dict" in data
    index = json.loads((out / "best_checkpoints.json").read_text())
    assert [entry["epoch"] for entry in index["checkpoints"]] == best and index["mode"] == "min"
    # replace_periodic: only the latest periodic checkpoint (to resume from); the resumed-from one was replaced
    periodic = [p.name for p in out.glob("model_epoch_*.pth")]
    assert periodic == [(out / "oi_model_latest.pth").resolve().name] == ["model_epoch_005_step_00036.pth"]
    # the runtime's "best" selector finds the best epoch; when that epoch's periodic checkpoint is gone (replaced,
    # or removed here when the best epoch is the last one), it is the top-k file
    chosen = resolve(tmp_path / "out", "best", metric="val_loss", mode="min")
    assert chosen.epoch == best[0] and torch.load(chosen.path, weights_only=True)["epoch"] == best[0]
    (out / "model_epoch_005_step_00036.pth").unlink()
    chosen = resolve(tmp_path / "out", "best", metric="val_loss", mode="min")
    assert chosen.epoch == best[0] and Path(chosen.path).name.startswith("best_epoch=")


def test_checkpointer_errors_name_the_key(tmp_path: Path, tiny_data: Path, run_cli, make_spec) -> None:
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "out", train={"num_epochs": 1})
    done = run_cli("train", "-e", str(spec), "train.checkpointer.enable_topk=true", "train.checkpointer.monitor=mAP")
    assert done.returncode == 2
    assert "train.checkpointer.monitor is 'mAP'" in done.stderr and "val_acc" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli(
        "train", "-e", str(spec), "train.checkpointer.enable_topk=true", "train.checkpointer.filename=best_{acc}"
    )
    assert done.returncode == 2 and "uses acc" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "out" / "train").glob("*.pth"))  # refused before anything was trained


def test_default_ranking_is_roc_auc_with_the_false_alarm_rate_breaking_ties(tmp_path: Path) -> None:
    from optical_inspection.spec import build_config
    from optical_inspection.topk_checkpoint import TopKCheckpoint, _Kept

    cfg = build_config({"train": {"checkpointer": {"enable_topk": True, "save_top_k": 3}}})
    topk = TopKCheckpoint(tmp_path, cfg.train.checkpointer, {})
    assert (topk.monitor, topk.mode) == ("val_roc_auc", "max")
    kept = [
        _Kept(0.999, "a", 0, 10, 0.5),
        _Kept(1.0, "b", 1, 20, 3.0),
        _Kept(1.0, "c", 2, 30, 0.2),  # same ROC-AUC as b, fewer false alarms at the target recall: better
        _Kept(1.0, "d", 3, 40, float("nan")),  # no tie-breaker value: ranks after the ones that have it
    ]
    assert [k.path for k in sorted(kept, key=topk._key)] == ["c", "b", "d", "a"]
