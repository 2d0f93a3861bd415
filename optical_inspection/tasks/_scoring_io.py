"""Shared by evaluate and inference: the threshold choice and writing a scored CSV."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from optical_inspection.errors import UserError
from optical_inspection.scoring import Scorer

__all__ = ["choose_threshold", "write_scored_csv", "write_json"]


def choose_threshold(
    explicit: float | None, scorer: Scorer, cfg: Any, threshold_file: str | None = None
) -> tuple[float, str]:
    """(threshold, where it came from): explicit > threshold_file's recommendation > the model file's calibrated
    threshold > the margin."""
    if explicit is not None:
        return float(explicit), "spec (threshold key)"
    if threshold_file:
        path = Path(threshold_file)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            value = data["recommended_threshold"]["threshold"]
        except FileNotFoundError:
            raise UserError(f"inference.threshold_file {path} not found; give evaluate's metrics.json.") from None
        except (ValueError, KeyError, TypeError):
            raise UserError(
                f"inference.threshold_file {path} has no recommended_threshold.threshold; give the metrics.json "
                "written by evaluate."
            ) from None
        if value is None:
            raise UserError(
                f"{path} has no recommended threshold (its test set had no defect); set inference.threshold."
            )
        return float(value), f"recommended threshold of {path}"
    if scorer.threshold is not None:
        return float(scorer.threshold), f"calibrated threshold stored in {scorer.path.name}"
    if scorer.margin is not None:
        return float(scorer.margin), "the model's own threshold (the model file carries no calibrated threshold)"
    return float(cfg.model.margin), "model.margin (the model file carries no calibrated threshold)"


def write_scored_csv(path: Path, table: Any, scores: np.ndarray, indices: np.ndarray, threshold: float) -> Path:
    """Input CSV columns + ``siamese_score`` + ``prediction`` (PASS/FAIL), rows in the input order, atomically."""
    order = np.argsort(indices, kind="stable")
    columns = list(table.columns) + [c for c in ("siamese_score", "prediction") if c not in table.columns]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for k in order:
            row = dict(table.rows[int(indices[k])])
            row["siamese_score"] = f"{float(scores[k]):.6f}"
            row["prediction"] = "FAIL" if scores[k] > threshold else "PASS"
            writer.writerow(row)
    os.replace(tmp, path)
    return path


def write_json(path: Path, data: Any) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False, default=float) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
