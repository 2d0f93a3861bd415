"""Study settings: algorithm, budget, metric, storage. TAO's names are accepted where they differ."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tao_skill.errors import UserError, issues_from_pydantic

ALGORITHMS = ("bayesian", "tpe", "gp", "hyperband", "asha", "bohb", "random", "grid")

#: TAO AutoML setting names -> ours.
ALIASES = {
    "automl_algorithm": "algorithm",
    "max_recommendations": "max_trials",
    "automl_max_recommendations": "max_trials",
    "automl_max_epochs": "max_epochs",
    "epoch_multiplier": "max_epochs",
    "automl_reduction_factor": "reduction_factor",
    "metric_direction": "direction",
    "automl_add_hyperparameters": "parameters_add",
    "automl_remove_hyperparameters": "parameters_remove",
    "max_concurrent": "parallel",
}


class Settings(BaseModel):
    """How a study runs. Defaults are small enough for a laptop demo."""

    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["bayesian", "tpe", "gp", "hyperband", "asha", "bohb", "random", "grid"] = "bayesian"
    max_trials: int = Field(4, ge=1, description="Trials that must complete (or be pruned); TAO's max_recommendations")
    max_epochs: int | None = Field(None, ge=1, description="Epochs per trial; default: the spec's train.num_epochs")
    metric: str | None = Field(
        None, description="Per-epoch validation KPI to optimise; default: the skill's ranking metric (its contract)"
    )
    direction: Literal["maximize", "minimize"] | None = None
    reduction_factor: int = Field(3, ge=2, description="Hyperband/ASHA reduction factor")
    timeout: float | None = Field(None, gt=0, description="Stop starting new trials after this many seconds")
    parallel: int = Field(1, ge=1, description="Trials run at once by one worker (max_concurrent)")
    parameters_add: list[str] = Field(default_factory=list)
    parameters_remove: list[str] = Field(default_factory=list)
    storage: str | None = Field(
        None,
        description="Optuna storage URL (e.g. postgresql+psycopg://user@host/db); default $TAO_SKILL_AUTOML_STORAGE, "
        "else a journal file under TAO_SKILL_HOME",
    )
    checkpoint_interval: int | None = Field(
        1, ge=1, description="Epochs between a trial's checkpoints (1: the best epoch and a crash's resume point kept)"
    )
    seed: int | None = 0
    grid_points: int = Field(3, ge=2)

    @field_validator("parameters_add", "parameters_remove", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    def for_skill(self, ranking: Any) -> Settings:
        """These settings with the metric (and its direction) the skill ranks by, where the user named none."""
        if self.metric is not None or ranking is None:
            return self
        direction = self.direction or ("maximize" if ranking.mode == "max" else "minimize")
        return self.model_copy(update={"metric": ranking.metric, "direction": direction})

    def resolved_direction(self) -> str:
        """Maximise accuracy/AUC metrics, minimise losses and error rates, unless told."""
        if self.direction:
            return self.direction
        metric = self.metric or ""
        return "minimize" if any(k in metric for k in ("loss", "fpr", "fnr", "far", "error")) else "maximize"


def parse_settings(raw: dict[str, Any] | None) -> Settings:
    """Settings from a dict (TAO aliases accepted); every problem reported at once."""
    data = {ALIASES.get(k, k): v for k, v in (raw or {}).items()}
    try:
        return Settings(**data)
    except ValidationError as exc:
        issues = issues_from_pydantic(exc, path_prefix="automl.", hint="settings: " + ", ".join(Settings.model_fields))
        raise UserError("AutoML settings are invalid", issues) from None
