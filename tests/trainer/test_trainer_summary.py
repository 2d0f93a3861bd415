"""The end of training names the checkpoint chained jobs use ('best', ranked as the runtime ranks it), and the
trainer's lines for people: epochs counted from 1, rounded numbers, one line per log record, no progress bar in
files."""

from __future__ import annotations

import logging
from pathlib import Path

from optical_inspection import console
from optical_inspection.status import RUNNING, SUCCESS, StatusLogger, read_status
from optical_inspection.train_summary import best_checkpoint, checkpoint_facts, describe
from tao_skill.checkpoints import resolve
from tao_skill.contract import TieBreaker


def _results(tmp_path: Path, epochs: list[dict]) -> Path:
    status = StatusLogger(tmp_path)
    for e in epochs:
        (tmp_path / f"model_epoch_{e['epoch']:03d}_step_{(e['epoch'] + 1) * 10:05d}.pth").write_bytes(b"x")
        status.write(RUNNING, "line", kpi=e["kpi"], epoch=e["epoch"], max_epoch=len(epochs), threshold=e.get("t"))
    return tmp_path


def test_best_is_the_runtimes_best_with_tie_break_and_threshold(tmp_path: Path) -> None:
    results = _results(
        tmp_path,
        [
            {"epoch": 0, "kpi": {"val_roc_auc": 0.9, "val_far_at_target": 10.0}, "t": 0.1},
            {"epoch": 1, "kpi": {"val_roc_auc": 0.99, "val_far_at_target": 5.0}, "t": 0.2},
            {"epoch": 2, "kpi": {"val_roc_auc": 0.99, "val_far_at_target": 2.0}, "t": 0.3},
            {"epoch": 3, "kpi": {"val_roc_auc": 0.95, "val_far_at_target": 1.0}, "t": 0.4},
        ],
    )
    facts = checkpoint_facts(results)
    best = best_checkpoint(facts)
    assert best is not None and best.epoch == 2 and best.threshold == 0.3
    runtime = resolve(
        results, "best", "val_roc_auc", "max", tie_breaker=TieBreaker(metric="val_far_at_target", mode="min")
    )
    assert Path(runtime.path) == best.path  # the trainer's summary and the runtime's choice agree
    text = describe(best, facts[-1], 4)
    assert "model_epoch_002_step_00030.pth, epoch 3/4" in text and "threshold 0.3" in text
    assert "Final checkpoint: model_epoch_003_step_00040.pth, epoch 4/4" in text and "--checkpoint latest" in text


def test_no_validated_epoch_falls_back_to_the_latest(tmp_path: Path) -> None:
    results = _results(tmp_path, [{"epoch": 0, "kpi": {"train_loss": 1.0}}, {"epoch": 1, "kpi": {"train_loss": 0.5}}])
    best = best_checkpoint(checkpoint_facts(results))
    assert best is not None and best.epoch == 1 and "Final checkpoint" not in describe(best, best, 2)


def test_numbers_and_epoch_lines_for_people() -> None:
    assert console.number(94.95967741935483, "val_far_at_target") == "94.96%"
    assert console.number(0.123456789) == "0.1235" and console.number(float("nan")) == "n/a"
    line = console.epoch_line(0, 10, {"train_loss": 0.51234, "val_roc_auc": 0.99876, "other": 1.0}, "0:01:05")
    assert line == "Epoch 1/10: train_loss 0.5123, val_roc_auc 0.9988 (eta 0:01:05)"


def test_lightning_lines_once_and_no_bar_off_a_terminal(tmp_path: Path, capsys) -> None:
    """Lightning installs its own console handler when imported; after adopt_lightning_logging its records go
    through the root handler only, and the advertising tip is dropped there."""
    import lightning  # noqa: F401 - installs Lightning's handlers

    root = logging.getLogger()
    saved = list(root.handlers)
    root.handlers.clear()
    try:
        console.setup_logging()
        console.adopt_lightning_logging()
        logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
        logger.info("GPU available: False")
        logger.info("💡 Tip: For seamless cloud logging and experiment tracking, try it")
        err = capsys.readouterr().err
    finally:
        root.handlers[:] = saved
    assert err.count("GPU available: False") == 1 and "Tip" not in err
    with (tmp_path / "f").open("w") as handle:
        assert not console.progress_bar_wanted(handle)


def test_trainer_success_line_describes_the_best_checkpoint(tmp_path: Path, tiny_data: Path, make_spec, run_cli):
    """A real training run: the SUCCESS line's checkpoint, threshold and message are the best checkpoint's (what
    evaluate and inference use by default); kpi/epoch stay the final epoch's as in TAO."""
    spec = make_spec(tmp_path / "spec.yaml", tiny_data, tmp_path / "res", train={"num_epochs": 3})
    run = run_cli("train", "-e", str(spec))
    assert run.returncode == 0, run.stderr
    lines = read_status(tmp_path / "res" / "train" / "status.json")
    success = next(r for r in lines if r["status"] == SUCCESS)
    best = best_checkpoint(checkpoint_facts(tmp_path / "res" / "train"))
    assert best is not None and success["checkpoint"] == str(best.path) and success["best_epoch"] == best.epoch
    assert success["threshold"] == best.threshold and Path(best.path).name in success["message"]
    assert success["epoch"] == 2 and success["final_checkpoint"].endswith("model_epoch_002_step_00018.pth")
    epochs = [r for r in lines if r["status"] == RUNNING and "epoch" in r]
    assert [r["message"].split(":")[0] for r in epochs] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all("threshold" in r for r in epochs)  # every epoch is validated here, so each has its threshold
    assert "\r" not in run.stderr and run.stderr.count("GPU available:") == 1
    curves = Path(success["training_curves"])
    assert curves == tmp_path / "res" / "train" / "training_curves.png" and curves.read_bytes()[:4] == b"\x89PNG"
