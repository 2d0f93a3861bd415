"""``make bench-quality``'s short form, as CI runs it: the real CLI trains the default model and TAO's Siamese_3 on a
small generated set, evaluates the best checkpoint, and the table and JSON carry every column."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quality_smoke_fills_every_column(tmp_path: Path) -> None:
    out = tmp_path / "quality.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality", "--smoke", "--workdir", str(tmp_path / "w"), "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [(r["dataset"], r["model"]) for r in rows] == [
        ("synthetic", "default (template)"),
        ("synthetic", "Siamese_3 (TAO's network)"),
    ]
    for row in rows:
        assert row["error"] is None
        assert 0.0 <= row["roc_auc"] <= 1.0 and 0.0 <= row["pr_auc"] <= 1.0
        for key in ("far_at_100", "far_at_99_9", "far_at_99", "caught", "false_alarms"):
            assert 0.0 <= row[key] <= 1.0, key
        assert row["train_seconds"] > 0 and row["pairs_per_second"] > 0 and row["peak_rss_mib"] > 0
        assert set(row["jobs"]) == {"train", "evaluate"}
    header = done.stdout.splitlines()[0]
    for column in ("ROC-AUC", "PR-AUC", "FA@100%", "FA@99.9%", "FA@99%", "caught", "false alarms", "pairs/s"):
        assert column in header
