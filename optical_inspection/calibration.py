"""The default decision threshold, calibrated on the validation set so that it holds on new boards.

Scores are pair scores (higher = more likely a defect); a pair is flagged when ``score > threshold``. With ``n``
validation defects whose scores, lowest first, are ``d1 <= d2 <= ...`` and the target recall ``r``
(``train.target_recall``, the recall wanted on NEW boards of the same product):

- recall side: the threshold sits below the lowest validation defect ``d1`` by a safety margin taken from the data,
  the spread of the weakest validation defects, ``d1`` to ``d(1 + w)`` with ``w = ceil(n (1 - r))`` (the number of
  defects a recall of ``r`` may miss on a set this size): the same ratio below ``d1``, ``d1 * d1 / d(1 + w)``, when
  the scores are positive (distances, the score of a logit model), so a wide tail never takes the threshold below
  zero (which would flag every pair); the same distance, ``d1 - (d(1 + w) - d1)``, otherwise. Weak defects that
  spread widely (a tail that reaches low) get a wide margin; a tight tail a small one. Every validation defect is
  caught.
- false-alarm side: the ``PASS_QUANTILE`` quantile of the validation PASS scores: when the classes are well
  separated, anything scoring above normal board-to-board variation is flagged (about 1% false alarms on data like
  the validation set), which moves the threshold further from the defects at little cost.

The threshold is the LOWER of the two (recall first). :class:`Calibration` also reports what to expect at it: the
validation recall and false-alarm rate and their one-sided 95% Clopper-Pearson bounds for new data like it (with
every one of ``n`` defects caught, the recall bound is ``0.05 ** (1 / n)``: 99.5% for about 600 defects).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["PASS_QUANTILE", "CONFIDENCE", "Calibration", "calibrate", "binomial_bounds"]

#: Quantile of the validation PASS scores the threshold may not exceed.
PASS_QUANTILE = 0.99
#: Confidence of the reported bounds.
CONFIDENCE = 0.95


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space."""
    if k <= 0:
        return 1.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    i = np.arange(k, n + 1)
    log_terms = (
        np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in i])
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
    )
    top = log_terms.max()
    return float(min(1.0, math.exp(top) * np.exp(log_terms - top).sum()))


def binomial_bounds(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """One-sided Clopper-Pearson (lower, upper) bounds of a rate observed as ``successes`` of ``n``."""
    if n <= 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence

    def solve(f: Any, lo: float, hi: float) -> float:
        for _ in range(60):  # bisection: f is monotone increasing in p
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
        return (lo + hi) / 2

    lower = 0.0 if successes == 0 else solve(lambda p: _binomial_tail(successes, n, p) - alpha, 0.0, 1.0)
    upper = 1.0 if successes == n else solve(lambda p: _binomial_tail(successes + 1, n, p) - confidence, 0.0, 1.0)
    return lower, upper


@dataclass(frozen=True)
class Calibration:
    """A decision threshold chosen on a validation set, the candidates it came from and what it gives there."""

    threshold: float
    target_recall: float
    lowest_defect: float  # d1, the weakest validation defect
    weakest: int  # 1 + w: how many of the weakest defects give the margin
    margin: float  # d1 - recall_threshold (from the spread d1 .. d(1 + w))
    recall_threshold: float  # d1 * d1 / d(1 + w) for positive scores, else d1 - (d(1 + w) - d1)
    pass_threshold: float | None  # PASS_QUANTILE quantile of the validation PASS scores
    defects: int
    passes: int
    recall: float  # validation recall at the threshold (fraction)
    false_alarm_rate: float  # validation FP / (FP + TN) at the threshold (fraction)
    recall_lower_bound: float  # 95% lower bound of the recall on new data like the validation set
    false_alarm_upper_bound: float  # 95% upper bound of the false-alarm rate there

    @property
    def source(self) -> str:
        """Which candidate set the threshold."""
        if self.pass_threshold is not None and self.pass_threshold < self.recall_threshold:
            return "pass_quantile"
        return "recall_margin"

    @property
    def note(self) -> str:
        """One sentence saying how the threshold was chosen and what it gives on the validation set."""
        text = (
            f"calibrated on the validation set ({self.defects} defects, {self.passes} PASS): its weakest defect "
            f"scores {self.lowest_defect:.4g}, lowered by the spread of its {self.weakest} weakest defects "
            f"({self.margin:.4g}; target recall {self.target_recall:.2%}) to {self.recall_threshold:.4g}"
        )
        if self.pass_threshold is not None:
            text += f"; the {PASS_QUANTILE:.0%} quantile of its PASS scores is {self.pass_threshold:.4g}"
        text += (
            f"; the lower is used. There: recall {self.recall:.2%}, false alarms {self.false_alarm_rate:.2%}; "
            f"on new data like it, recall >= {self.recall_lower_bound:.2%} and false alarms <= "
            f"{self.false_alarm_upper_bound:.2%} ({CONFIDENCE:.0%} confidence)"
        )
        return text

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for checkpoints and metrics.json (with the source and the note)."""
        return {**asdict(self), "source": self.source, "note": self.note, "confidence": CONFIDENCE}


def calibrate(scores: np.ndarray, labels: np.ndarray, target_recall: float) -> Calibration | None:
    """The default threshold from validation scores; None without defects or without finite scores."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    finite = np.isfinite(s)
    s, y = s[finite], y[finite]
    defects = np.sort(s[y])
    passes = s[~y]
    n = len(defects)
    if n == 0:
        return None
    w = max(1, math.ceil(n * (1.0 - float(target_recall)) - 1e-9))
    lowest = float(defects[0])
    upper = float(defects[min(w, n - 1)])
    if lowest > 0.0:  # positive scores: the margin is a ratio, so the threshold stays above zero
        recall_threshold = lowest * (lowest / upper)
    else:
        recall_threshold = lowest - (upper - lowest)
    if recall_threshold >= lowest:  # a single defect, or ties: stay strictly below it
        recall_threshold = float(np.nextafter(lowest, -np.inf))
    margin = lowest - recall_threshold
    pass_threshold = float(np.quantile(passes, PASS_QUANTILE)) if len(passes) else None
    threshold = recall_threshold if pass_threshold is None else min(recall_threshold, pass_threshold)
    caught = int(np.sum(defects > threshold))
    alarms = int(np.sum(passes > threshold))
    recall_low, _ = binomial_bounds(caught, n)
    _, alarm_high = binomial_bounds(alarms, len(passes)) if len(passes) else (0.0, 1.0)
    return Calibration(
        threshold=float(threshold),
        target_recall=float(target_recall),
        lowest_defect=lowest,
        weakest=min(w, n - 1) + 1,
        margin=margin,
        recall_threshold=float(recall_threshold),
        pass_threshold=pass_threshold,
        defects=n,
        passes=len(passes),
        recall=caught / n,
        false_alarm_rate=alarms / len(passes) if len(passes) else 0.0,
        recall_lower_bound=recall_low,
        false_alarm_upper_bound=alarm_high,
    )
