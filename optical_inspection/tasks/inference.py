"""``inference``: score dataset.infer_dataset into ``inference.csv`` (input columns + siamese_score + prediction).

Threshold: inference.threshold, else inference.threshold_file's recommended threshold, else the model file's
calibrated threshold, else the margin (logged and written in the SUCCESS status line).
"""

from __future__ import annotations

import logging
from typing import Any

from optical_inspection.scoring import open_scorer, score_dataset
from optical_inspection.status import STARTED, SUCCESS
from optical_inspection.tasks._common import prepare_results
from optical_inspection.tasks._scoring_io import choose_threshold, write_scored_csv

__all__ = ["run"]

_log = logging.getLogger(__name__)


def run(cfg: Any) -> int:
    from optical_inspection.data import build_dataset

    icfg = cfg.inference
    results, status = prepare_results(cfg, "inference")
    status.write(STARTED, "Starting inference")
    scorer = open_scorer(cfg, icfg, "inference")
    threshold, source = choose_threshold(icfg.threshold, scorer, cfg, icfg.threshold_file)
    _log.info("Decision threshold %.4f (%s)", threshold, source)
    dataset = build_dataset(cfg, "infer", train=False)
    scores, _, indices = score_dataset(scorer, dataset, int(icfg.batch_size), int(cfg.dataset.workers))
    out = write_scored_csv(results / "inference.csv", dataset.table, scores, indices, threshold)
    n_fail = int((scores > threshold).sum())
    status.write(
        SUCCESS,
        f"Inference finished: {len(scores)} pairs, {n_fail} FAIL at threshold {threshold:.4f} ({source}); wrote {out}",
        threshold=threshold,
    )
    print(f"Wrote {out} ({len(scores)} pairs, {n_fail} FAIL at threshold {threshold:.4f}: {source})")
    return 0
