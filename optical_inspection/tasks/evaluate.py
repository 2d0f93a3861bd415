"""``evaluate``: score dataset.test_dataset; TAO's KPIs, ROC/PR-AUC, operating points, CSV, JSON and pictures.

Outputs in the results folder: ``evaluate.csv`` (input rows + siamese_score + prediction), ``metrics.json``,
``status.json`` (SUCCESS line with the KPIs), ``roc_curve.png``, ``score_histogram.png``, ``worst_pairs.png``.
Threshold: evaluate.threshold, else the model file's calibrated threshold, else the margin. metrics.json names the
one used (``threshold``, ``threshold_source``) and, under ``thresholds``, what it and each alternative give on this
test set: the model file's calibrated threshold, the model's own threshold, and the highest threshold reaching the
target recall on this test set (``recommended_threshold``: chosen with hindsight on the data it is measured on, so
its numbers are optimistic; ``inference.threshold_file`` reads it).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from optical_inspection import metrics, plots
from optical_inspection.scoring import open_scorer, score_dataset
from optical_inspection.status import STARTED, SUCCESS
from optical_inspection.tasks._common import prepare_results
from optical_inspection.tasks._scoring_io import choose_threshold, write_json, write_scored_csv

__all__ = ["run", "compute_metrics", "OPERATING_POINTS"]

#: Defect recalls at which metrics.json reports the highest threshold reaching them and its false-alarm rate.
OPERATING_POINTS = {"recall_100": 1.0, "recall_99.9": 0.999, "recall_99": 0.99}

_log = logging.getLogger(__name__)


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def compute_metrics(scores: Any, labels: Any, threshold: float, target_recall: float) -> dict[str, Any]:
    """Every number of metrics.json (percentages as in TAO; AUCs as fractions)."""
    k = metrics.tao_kpis(scores, labels, threshold)
    c = metrics.confusion(scores, labels, threshold)
    points = {name: metrics.false_alarm_at_recall(scores, labels, recall) for name, recall in OPERATING_POINTS.items()}
    rec = metrics.false_alarm_at_recall(scores, labels, target_recall)
    return {
        "kpi": {
            "test_acc": k["acc"],
            "test_fpr": k["fpr"],
            "test_fnr": k["fnr"],
            "defect_acc": k["defect_acc"],
            "false_alarm_rate": k["false_alarm_rate"],
            "roc_auc": _num(metrics.roc_auc(scores, labels)),
            "pr_auc": _num(metrics.pr_auc(scores, labels)),
        },
        "counts": {
            "pairs": c.total,
            "defect": c.tp + c.fn,
            "pass": c.tn + c.fp,
            "tp": c.tp,
            "fp": c.fp,
            "tn": c.tn,
            "fn": c.fn,
        },
        "operating_points": {
            name: {"recall": OPERATING_POINTS[name], "threshold": _num(t), "false_alarm_rate": _num(far)}
            for name, (t, far) in points.items()
        },
        "recommended_threshold": {
            "target_recall": target_recall,
            "threshold": _num(rec[0]),
            "false_alarm_rate": _num(rec[1]),
        },
    }


def threshold_table(
    scores: Any, labels: Any, used: tuple[float, str], candidates: list[tuple[str, float | None, str]]
) -> dict[str, Any]:
    """``{"used": {...}, "alternatives": [...]}``: each threshold with where it came from and the defect recall and
    false-alarm rate (% of PASS pairs) it gives on these scores; alternatives equal to the used one are left out."""

    def entry(name: str, value: float, source: str) -> dict[str, Any]:
        k = metrics.tao_kpis(scores, labels, value)
        return {"name": name, "threshold": value, "source": source, "defect_recall": _num(k["defect_acc"]),
                "false_alarm_rate": _num(k["false_alarm_rate"])}  # fmt: skip

    threshold, source = used
    alternatives = [
        entry(name, float(value), text)
        for name, value, text in candidates
        if value is not None and math.isfinite(value) and not math.isclose(value, threshold, rel_tol=1e-9)
    ]
    return {"used": entry("used", threshold, source), "alternatives": alternatives}


def _candidates(scorer: Any, data: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    rec = data["recommended_threshold"]
    return [
        ("calibrated", scorer.threshold, f"calibrated on the validation set, stored in {scorer.path.name}"),
        ("model_default", scorer.margin, "the model's own threshold (contrastive margin, or probability 0.5)"),
        ("recommended", rec["threshold"], f"highest threshold reaching {rec['target_recall']:.2%} defect recall on "
         "THIS test set (chosen with hindsight: optimistic)"),
    ]  # fmt: skip


def _summary(threshold: float, source: str, kpi: dict[str, Any]) -> str:
    """The evaluation in one line for people, each rate saying what it is a percentage of."""
    parts = [f"Evaluation at threshold {threshold:.4g} ({source})"]
    named = (
        ("roc_auc", "ROC-AUC {:.4g}"),
        ("defect_acc", "defects caught {:.4g}%"),
        ("false_alarm_rate", "false alarms {:.4g}% of PASS pairs"),
        ("test_fpr", "TAO's test_fpr {:.4g}% (PASS pairs flagged, as % of ALL pairs)"),
    )
    parts += [text.format(kpi[key]) for key, text in named if isinstance(kpi.get(key), (int, float))]
    return "; ".join(parts[:1]) + ": " + ", ".join(parts[1:])


def run(cfg: Any) -> int:
    from optical_inspection.data import build_dataset

    ecfg = cfg.evaluate
    results, status = prepare_results(cfg, "evaluate")
    status.write(STARTED, "Starting evaluation")
    scorer = open_scorer(cfg, ecfg, "evaluate")
    dataset = build_dataset(cfg, "test", train=False)
    threshold, source = choose_threshold(ecfg.threshold, scorer, cfg)
    _log.info("Decision threshold %.4f (%s)", threshold, source)
    scores, labels, indices = score_dataset(scorer, dataset, int(ecfg.batch_size), int(cfg.dataset.workers))
    data = compute_metrics(scores, labels, threshold, float(ecfg.target_recall))
    data.update({"threshold": threshold, "threshold_source": source, "model": str(scorer.path), "backend": scorer.kind})
    data["recommended_threshold"]["note"] = (
        "chosen on this test set with hindsight (optimistic); the threshold used is 'threshold'"
    )
    data["thresholds"] = threshold_table(scores, labels, (threshold, source), _candidates(scorer, data))
    if scorer.info.get("calibration"):
        data["calibration"] = scorer.info["calibration"]  # what the validation set promised at that threshold
    write_scored_csv(results / "evaluate.csv", dataset.table, scores, indices, threshold)
    write_json(results / "metrics.json", data)
    if len(scores):
        fpr, tpr, _ = metrics.roc_curve(scores, labels)
        if data["kpi"]["roc_auc"] is not None:
            plots.plot_roc(fpr, tpr, data["kpi"]["roc_auc"], results / "roc_curve.png")
        plots.plot_histogram(scores, labels, threshold, results / "score_histogram.png")
        plots.plot_worst_pairs(dataset, scores, labels, indices, results / "worst_pairs.png")
    kpi = {key: value for key, value in data["kpi"].items() if value is not None}
    summary = _summary(threshold, source, kpi)
    status.write(SUCCESS, summary, kpi=kpi, threshold=threshold)
    print(summary)
    return 0
