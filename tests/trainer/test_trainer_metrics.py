"""Vectorised metrics against brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest

from optical_inspection import metrics


def _auc_bruteforce(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_pairwise_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = (rng.random(300) < 0.2).astype(int)
    scores = np.round(rng.normal(labels * 1.0, 1.0), 1)  # rounding creates ties
    assert metrics.roc_auc(scores, labels) == pytest.approx(_auc_bruteforce(scores, labels), abs=1e-12)


def test_pr_auc_perfect_and_random() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    assert metrics.pr_auc(np.array([0.1, 0.2, 0.3, 0.8, 0.9]), labels) == pytest.approx(1.0)
    assert metrics.pr_auc(np.array([0.9, 0.8, 0.7, 0.1, 0.2]), labels) < 0.5


def test_threshold_for_recall_is_the_largest_reaching_it() -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(500) < 0.3).astype(int)
    scores = rng.normal(labels * 2.0, 1.0)
    for target in (1.0, 0.99, 0.9, 0.5):
        t = metrics.threshold_for_recall(scores, labels, target)
        recall = (scores[labels == 1] > t).mean()
        assert recall >= target
        # any higher threshold at the next defect score loses recall below the target
        higher = np.sort(scores[labels == 1])
        next_up = higher[higher > t][0]
        assert (scores[labels == 1] > next_up).mean() < target
    assert metrics.threshold_for_recall(scores, np.zeros_like(labels), 0.99) is None


def test_tao_kpis_definitions() -> None:
    scores = np.array([0.1, 0.5, 2.5, 3.0, 1.0, 2.1])
    labels = np.array([0, 0, 0, 1, 1, 1])
    k = metrics.tao_kpis(scores, labels, 2.0)  # predicted defect: 2.5, 3.0, 2.1 -> tp 2, fp 1, tn 2, fn 1
    assert k["acc"] == pytest.approx(100 * 4 / 6)
    assert k["fpr"] == pytest.approx(100 * 1 / 6)  # TAO: FP over ALL samples
    assert k["fnr"] == pytest.approx(100 * 1 / 6)
    assert k["defect_acc"] == pytest.approx(100 * 2 / 3)
    assert k["false_alarm_rate"] == pytest.approx(100 * 1 / 3)  # FP / (FP + TN)
