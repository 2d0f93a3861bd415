"""A study's objective: sample a trial's values, plan and launch its train job, follow it epoch by epoch.

Each trial re-plans the train action through :func:`tao_skill.planning.plan` (the user's overrides + the sampled
values + per-trial settings), so every trial spec is validated and staged like a direct run, and launches it as a
``trial`` job. Every epoch's metric is reported to Optuna, and the trial is stopped when the pruner says so.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any

from tao_skill import status_file
from tao_skill.automl.algorithms import uses_pruner
from tao_skill.automl.search_space import SearchSpace
from tao_skill.automl.settings import Settings
from tao_skill.contract import TieBreaker, TrainingKeys
from tao_skill.following import cancel, follow, wait
from tao_skill.launching import launch_plan
from tao_skill.models import Job, Plan, TrialRecord
from tao_skill.planning import plan
from tao_skill.store import JobStore

__all__ = ["Objective", "TrialFailed", "SECRETS_ENV", "secret_env"]

SECRETS_ENV = "TAO_SKILL_AUTOML_SECRETS"


class TrialFailed(RuntimeError):
    """A trial's train job failed; the study records it and goes on."""


def secret_env(plan_: Plan) -> dict[str, str]:
    """The plan's secret values, handed to the worker in its environment only (never written to disk)."""
    return {SECRETS_ENV: json.dumps(plan_._secrets)} if plan_._secrets else {}


def _take_secrets() -> dict[str, str]:
    """The secrets a worker was started with; removed from the environment so trial processes do not inherit it."""
    raw = os.environ.pop(SECRETS_ENV, "")
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _training_keys(skill: str) -> TrainingKeys:
    from tao_skill.skill import load_skill

    keys = load_skill(skill).info.runtime.training_keys
    if keys is None:
        raise TrialFailed(f"skill {skill} names no training keys (runtime.training_keys)")
    return keys


class Objective:
    """Called by Optuna once per trial; returns the trial's best epoch value of the study's metric."""

    def __init__(self, config: dict[str, Any], settings: Settings, space: SearchSpace, parent: Job, home: str):
        self.config, self.settings, self.space, self.parent, self.home = config, settings, space, parent, home
        self.secrets = _take_secrets()
        for key, value in (config.get("environment") or {}).items():
            os.environ.setdefault(key, value)  # the cluster the study's trials run on, unless this shell names one
        # Staging uses per-process scratch names: trials of one worker (parallel > 1) stage and launch one at a time.
        self.launching = threading.Lock()
        self.direction = settings.resolved_direction()
        keys = config.get("training_keys")  # absent from studies started before the contract named them
        self.keys = TrainingKeys.model_validate(keys) if keys else _training_keys(config["request"]["skill"])
        tie = config.get("tie_breaker")
        self.tie_breaker = TieBreaker.model_validate(tie) if tie else None

    def __call__(self, trial: Any) -> float:
        import optuna

        request = self.config["request"]
        max_epochs = int(self.config["max_epochs"])
        values = self.space.sample(trial, self.parent.spec or {})
        overrides = dict(request["overrides"])
        overrides.update(self.secrets)
        overrides.update(values)
        keys = self.keys
        overrides[keys.num_epochs] = max_epochs
        overrides[keys.checkpoint_interval] = min(self.settings.checkpoint_interval or max_epochs, max_epochs)
        if keys.checkpoint_interval_unit:
            overrides[keys.checkpoint_interval_unit] = "epoch"
        overrides[keys.validation_interval] = 1
        resume_from = trial.user_attrs.get("resume_from")
        if resume_from:
            overrides[keys.resume_checkpoint] = resume_from
            if keys.pretrained_model:
                overrides[keys.pretrained_model] = None  # pretrained weights only when nothing to resume
        trial.set_user_attr("worker_pid", os.getpid())
        trial.set_user_attr("host", socket.gethostname())
        with self.launching:
            job = self._launch(trial, request, overrides, values)
        trial.set_user_attr("job_id", job.id)
        return self._follow(trial, job.id, optuna)

    def _launch(self, trial: Any, request: dict[str, Any], overrides: dict[str, Any], values: dict[str, Any]) -> Job:
        trial_plan = plan(
            request["skill"],
            "train",
            overrides=overrides,
            data_sources=request["data_sources"],
            automl_policy="off",
            backend=request["backend"],
            home=self.home,
        )
        return launch_plan(
            trial_plan,
            home=self.home,
            kind="trial",
            group_id=self.parent.id,
            trial=TrialRecord(study=self.config["study"], number=trial.number, params=values),
        )

    def adopt(self, study: Any, number: int, job_id: str, on_told: Any = None) -> None:
        """Follow trial ``number`` (started by a worker that died; its job still runs) and tell the study its end."""
        import optuna
        from optuna.trial import TrialState

        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
        trial = optuna.trial.Trial(study, frozen._trial_id)  # the running trial itself, to report epochs and prune
        try:
            value = self._follow(trial, job_id, optuna)
        except optuna.TrialPruned:
            study.tell(number, state=TrialState.PRUNED)
        except Exception:  # noqa: BLE001 - a trial that failed is recorded FAIL; the study goes on
            study.tell(number, state=TrialState.FAIL)
        else:
            study.tell(number, value)
        if on_told is not None:
            on_told(study)

    def _follow(self, trial: Any, job_id: str, optuna: Any) -> float:
        metric = str(self.settings.metric)
        reported: set[int] = set()
        series: dict[int, float] = {}
        lines: list[dict[str, Any]] = []
        store = JobStore(self.home)
        job = None
        for job in follow(job_id, home=self.home):
            lines = status_file.records(status_file.find(job.results_dir, job.action))
            series = status_file.epoch_metrics(lines, metric, skip_final=True)
            for epoch in sorted(set(series) - reported):
                reported.add(epoch)
                trial.report(series[epoch], step=epoch + 1)
                if uses_pruner(self.settings) and trial.should_prune():
                    cancel(job_id, home=self.home)
                    wait(job_id, timeout=60, home=self.home)
                    store.update(job_id, trial={"pruned": True, "pruned_at_epoch": epoch})
                    raise optuna.TrialPruned(f"pruned after epoch {epoch} ({metric}={series[epoch]:.4g})")
            if store.get(self.parent.id).cancel_requested:
                cancel(job_id, home=self.home)
                raise TrialFailed(f"study cancelled; trial job {job_id} stopped")
        assert job is not None
        if job.state != "done":
            raise TrialFailed(f"trial job {job_id} ended {job.state} (exit code {job.exit_code}); see its logs")
        if not series:
            raise TrialFailed(f"trial job {job_id} reported no '{metric}' in its status.json")
        sign = 1.0 if self.direction == "maximize" else -1.0
        ties = status_file.epoch_metrics(lines, self.tie_breaker.metric) if self.tie_breaker else {}
        tie_sign = 1.0 if self.tie_breaker is None or self.tie_breaker.mode == "max" else -1.0
        # the best epoch by the metric; equal values by the skill's tie-breaker, then the earlier epoch
        best_epoch = max(
            series, key=lambda e: (sign * series[e], tie_sign * ties[e] if e in ties else float("-inf"), -e)
        )
        trial.set_user_attr("best_epoch", best_epoch)
        if best_epoch in ties:
            trial.set_user_attr("tie_breaker", ties[best_epoch])
        return series[best_epoch]
