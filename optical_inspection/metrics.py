"""Vectorised (numpy) metrics of pair scores: TAO's KPIs, ROC/PR curves, AUCs and operating points.

Scores are pair scores (higher = more likely a defect; the embedding distance for TAO's networks); labels are 1 for
a defect and 0 for PASS; a pair is predicted defect when ``score > threshold`` (TAO's rule with threshold = margin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Counts",
    "confusion",
    "tao_kpis",
    "roc_curve",
    "roc_auc",
    "pr_auc",
    "threshold_for_recall",
    "false_alarm_at_recall",
]


@dataclass(frozen=True)
class Counts:
    """Confusion counts (positive = defect)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


def confusion(scores: np.ndarray, labels: np.ndarray, threshold: float) -> Counts:
    """Counts with ``score > threshold`` predicted defect."""
    pred = np.asarray(scores) > threshold
    y = np.asarray(labels).astype(bool)
    return Counts(int(np.sum(pred & y)), int(np.sum(pred & ~y)), int(np.sum(~pred & ~y)), int(np.sum(~pred & y)))


def _pct(num: int, den: int) -> float:
    return 100.0 * num / den if den else 0.0


def tao_kpis(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """TAO's percentages (fpr and fnr over ALL samples) plus the false-alarm rate FP / (FP + TN)."""
    c = confusion(scores, labels, threshold)
    return {
        "acc": _pct(c.tp + c.tn, c.total),
        "fpr": _pct(c.fp, c.total),
        "fnr": _pct(c.fn, c.total),
        "defect_acc": _pct(c.tp, c.tp + c.fn),
        "false_alarm_rate": _pct(c.fp, c.fp + c.tn),
    }


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) as fractions, one point per distinct score, starting at (0, 0) with threshold +inf.

    The point for threshold ``t`` counts ``score >= t`` as defect.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1] if len(s) else np.array([], dtype=int)
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    fpr = np.r_[0.0, fps / n_neg]
    tpr = np.r_[0.0, tps / n_pos]
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN when a class is missing."""
    y = np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        return float("nan")
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.trapezoid(tpr, fpr))


def pr_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (area under the precision-recall step curve); NaN without defects."""
    y = np.asarray(labels).astype(bool)
    if not y.any():
        return float("nan")
    fpr, tpr, _ = roc_curve(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    tp, fp = tpr * n_pos, fpr * n_neg
    precision = np.divide(tp, tp + fp, out=np.ones_like(tp), where=(tp + fp) > 0)
    return float(np.sum(np.diff(tpr) * precision[1:]))


def threshold_for_recall(scores: np.ndarray, labels: np.ndarray, recall: float) -> float | None:
    """The LARGEST threshold ``t`` with defect recall (``score > t``) >= ``recall``; None without defects.

    It sits just below the k-th highest defect score (k = ceil(recall * n_defect)), halfway to the next lower
    score so that small score noise does not flip the decision.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    defects = np.sort(s[y])[::-1]
    if not len(defects):
        return None
    k = int(np.ceil(recall * len(defects) - 1e-9))
    k = min(max(k, 1), len(defects))
    kth = defects[k - 1]
    below = s[s < kth]
    if len(below):
        return float((kth + below.max()) / 2.0)
    return float(np.nextafter(kth, -np.inf))


def false_alarm_at_recall(scores: np.ndarray, labels: np.ndarray, recall: float) -> tuple[float | None, float | None]:
    """(threshold reaching ``recall``, false-alarm rate FP/(FP+TN) in percent at that threshold)."""
    threshold = threshold_for_recall(scores, labels, recall)
    if threshold is None:
        return None, None
    c = confusion(scores, labels, threshold)
    return threshold, _pct(c.fp, c.fp + c.tn)
