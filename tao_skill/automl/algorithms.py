"""TAO's AutoML algorithm names -> Optuna samplers and pruners.

- bayesian / tpe: TPE sampler, no pruner (every trial runs its epochs).
- gp: Gaussian-process sampler (Optuna's GPSampler; needs scipy), no pruner.
- hyperband: random sampler + Hyperband pruner fed with the per-epoch validation metric.
- asha: random sampler + successive halving (asynchronous, ASHA) pruner.
- bohb: TPE sampler + Hyperband pruner (BOHB's combination).
- random: random sampler, no pruner.
- grid: grid sampler over low/mid/high of each number and every choice.
"""

from __future__ import annotations

import math
from typing import Any

from tao_skill.automl.search_space import SearchSpace
from tao_skill.automl.settings import Settings
from tao_skill.errors import UserError

MAX_GRID_POINTS = 10_000


def check(settings: Settings, space: SearchSpace) -> None:
    """Refuse settings a study cannot run with (before anything is recorded)."""
    if settings.algorithm != "grid":
        return
    size = math.prod(len(values) for values in space.grid(settings.grid_points).values())
    if size > MAX_GRID_POINTS:
        raise UserError.single(
            "automl.algorithm",
            f"a grid over {len(space.params)} parameters has {size:,} points (at most {MAX_GRID_POINTS:,})",
            rule="grid_too_large",
            value="grid",
            hint="search fewer parameters (parameters_remove=...), lower grid_points, or use algorithm=bayesian",
        )


def make_sampler(settings: Settings, space: SearchSpace) -> Any:
    import optuna

    seed = settings.seed
    algorithm = settings.algorithm
    if algorithm in ("bayesian", "tpe", "bohb"):
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(4, settings.max_trials))
    if algorithm == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if algorithm == "grid":
        check(settings, space)
        return optuna.samplers.GridSampler(space.grid(settings.grid_points), seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(settings: Settings, max_epochs: int) -> Any:
    import optuna

    algorithm = settings.algorithm
    if algorithm in ("hyperband", "bohb"):
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_epochs, reduction_factor=settings.reduction_factor
        )
    if algorithm == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=settings.reduction_factor, min_early_stopping_rate=0
        )
    return optuna.pruners.NopPruner()


def uses_pruner(settings: Settings) -> bool:
    return settings.algorithm in ("hyperband", "bohb", "asha")
