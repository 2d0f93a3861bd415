"""AutoML bookkeeping cost per trial: ask + sample the Optical Inspection search space (16 parameters, TPE after its
startup trials) + report 3 epochs + tell, on the storages a study uses. Targets: < 100 ms per trial on the default
journal file; < 500 ms on SQLite (Optuna's RDB storage commits every call; it is the multi-machine option). Both are
negligible beside a trial's training time (seconds to hours). Baseline measured in the same run: Optuna's
in-memory storage (no shared storage at all)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._table import Row

TRIALS = 30
TARGETS_MS = {"journal file": 100.0, "sqlite": 500.0}


def _per_trial_ms(storage: Any, space: Any, name: str) -> float:
    import optuna

    study = optuna.create_study(
        study_name=name, storage=storage, direction="maximize", sampler=optuna.samplers.TPESampler(seed=0)
    )
    started = time.perf_counter()
    for number in range(TRIALS):
        trial = study.ask()
        values = space.sample(trial, {})
        for epoch in range(1, 4):
            trial.report(0.5 + 0.01 * epoch + 0.001 * number, step=epoch)
        study.tell(trial, 0.5 + 0.001 * number + 0.0001 * len(values))
    return (time.perf_counter() - started) * 1000.0 / TRIALS


def run() -> list[Row]:
    import optuna

    from tao_skill.automl.search_space import build_search_space
    from tao_skill.automl.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    schema_path = Path(__file__).resolve().parents[1] / "skills/tao-train-optical-inspection/schemas/train.schema.json"
    space = build_search_space(json.loads(schema_path.read_text(encoding="utf-8")))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        memory = _per_trial_ms(optuna.storages.InMemoryStorage(), space, "memory")
        for label, storage in (
            ("journal file", open_storage(f"journal:{Path(tmp) / 'study.journal'}")),
            ("sqlite", f"sqlite:///{Path(tmp) / 'study.db'}"),
        ):
            value = _per_trial_ms(storage, space, label.replace(" ", "_"))
            rows.append(
                Row(
                    group="automl",
                    name=f"ask+sample+report+tell per trial, {label} ({len(space.params)} params)",
                    value=value,
                    unit="ms",
                    baseline="in-memory storage",
                    ratio=value / memory if memory else None,
                    target=f"< {TARGETS_MS[label]:.0f} ms",
                    met=value < TARGETS_MS[label],
                )
            )
    return rows
