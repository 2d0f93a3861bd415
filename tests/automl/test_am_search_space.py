"""The AutoML search space read from the packaged train schema, and study settings."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import optuna
import pytest

from tao_skill.automl.search_space import build_search_space, param_from_schema
from tao_skill.automl.settings import parse_settings
from tao_skill.errors import UserError

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "skills/tao-train-optical-inspection/schemas/train.schema.json").read_text()
)


def space_by_path(**kwargs):
    return build_search_space(SCHEMA, **kwargs).by_path()


def test_default_parameters_are_the_schema_list() -> None:
    space = build_search_space(SCHEMA)
    assert [p.path for p in space.params] != []
    assert {p.path for p in space.params} == set(SCHEMA["automl_default_parameters"])


def test_infinite_bounds_become_a_documented_finite_range_with_log_scale() -> None:
    params = space_by_path()
    lr = params["train.optim.lr"]  # exclusiveMinimum 0, no maximum, default 2e-3
    assert lr.kind == "float" and lr.log
    assert lr.low == pytest.approx(2e-4) and lr.high == pytest.approx(2e-2)
    assert lr.low < 5e-4 < lr.high, "TAO searches only [0, 5e-4]; both defaults must be inside, not at the edge"
    margin = params["model.margin"]  # minimum 1, no maximum, default 2
    assert margin.low == 1.0 and margin.high == pytest.approx(20.0)
    momentum = params["train.optim.momentum"]  # exclusiveMinimum 0, maximum 1
    assert 0 < momentum.low < 0.9 <= momentum.high == 1.0 and not momentum.log
    fpratio = params["dataset.fpratio_sampling"]
    assert (fpratio.low, fpratio.high, fpratio.log) == (0.0, 1.0, False)


def test_depends_on_gates_probabilities_behind_their_enable_flags() -> None:
    params = space_by_path()
    assert params["dataset.augmentation_config.random_flip.vflip_probability"].depends_on == (
        "dataset.augmentation_config.random_flip.enable"
    )
    assert params["dataset.augmentation_config.random_flip.enable"].depends_on == "dataset.augmentation_config.augment"
    space = build_search_space(SCHEMA)
    order = [p.path for p in space.params]
    assert order.index("dataset.augmentation_config.augment") < order.index(
        "dataset.augmentation_config.random_flip.enable"
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen_off = seen_on = False
    for _ in range(30):
        trial = study.ask()
        values = space.sample(trial, {})
        study.tell(trial, 0.0)
        if values["dataset.augmentation_config.augment"] is False:
            assert "dataset.augmentation_config.random_flip.enable" not in values
            seen_off = True
        elif values.get("dataset.augmentation_config.random_flip.enable") is False:
            assert "dataset.augmentation_config.random_flip.vflip_probability" not in values
            seen_on = True
    assert seen_off and seen_on


def test_option_weights_bias_the_choice() -> None:
    schema = {
        "type": "object",
        "properties": {
            "train": {
                "type": "object",
                "properties": {
                    "opt": {"type": "string", "enum": ["Adam", "SGD"], "option_weights": [0.9, 0.1], "default": "Adam"}
                },
            }
        },
        "automl_default_parameters": ["train.opt"],
        "automl_disabled_parameters": [],
    }
    space = build_search_space(schema)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    counts: Counter[str] = Counter()
    for _ in range(400):
        trial = study.ask()
        counts[space.sample(trial)["train.opt"]] += 1
        study.tell(trial, 0.0)
    assert 0.8 < counts["Adam"] / 400 < 0.97


def test_user_can_add_and_remove_parameters() -> None:
    params = space_by_path(add=["train.optim.weight_decay", "dataset.batch_size"], remove=["model.margin"])
    assert "model.margin" not in params
    wd = params["train.optim.weight_decay"]  # minimum 0, no maximum, default 5e-4
    assert wd.low == 0.0 and wd.high == pytest.approx(5e-3)
    batch = params["dataset.batch_size"]
    assert batch.kind == "int" and batch.low == 1 and batch.high == 10 * batch.default  # default 32, no maximum


def test_disabled_and_unknown_parameters_are_refused_with_hints() -> None:
    with pytest.raises(UserError) as raised:
        build_search_space(SCHEMA, add=["dataset.num_input", "train.optim.lrr"])
    issues = {i.rule: i for i in raised.value.issues}
    assert issues["automl_disabled_parameter"].path == "automl.parameters.dataset.num_input"
    assert "train.optim.lr" in issues["automl_unknown_parameter"].hint


def test_settings_accept_tao_names_and_reject_bad_values() -> None:
    settings = parse_settings({"automl_algorithm": "hyperband", "max_recommendations": 6, "metric": "val_acc"})
    assert settings.algorithm == "hyperband" and settings.max_trials == 6
    assert settings.resolved_direction() == "maximize"
    assert parse_settings({"metric": "val_loss"}).resolved_direction() == "minimize"
    with pytest.raises(UserError) as raised:
        parse_settings({"algorithm": "genetic", "max_trials": 0, "bogus": 1})
    assert {i.path for i in raised.value.issues} >= {"automl.algorithm", "automl.max_trials", "automl.bogus"}


def test_a_bare_math_cond_bounds_the_range_where_the_schema_states_none() -> None:
    lr = param_from_schema("train.lr", {"type": "number", "default": 1e-3, "math_cond": "> 0.0"})
    assert lr.log and lr.low == pytest.approx(1e-4) and lr.high == pytest.approx(1e-2)
    window = param_from_schema("a.steps", {"type": "integer", "default": 4, "math_cond": ">= 2 and < 10"})
    assert (window.kind, window.low, window.high) == ("int", 2, 9)
    stated = param_from_schema("a.x", {"type": "number", "default": 0.5, "minimum": 0.25, "math_cond": ">= 0"})
    assert stated.low == 0.25, "a stated bound wins over the condition"


def test_exclusive_bounds_are_never_sampled() -> None:
    param = param_from_schema("a.p", {"type": "number", "default": 0.5, "exclusiveMinimum": 0.1, "exclusiveMaximum": 1})
    assert 0.1 < param.low < 0.1001 and 0.999 < param.high < 1.0


def test_grid_and_search_space_summary_are_finite_and_json_friendly() -> None:
    space = build_search_space(SCHEMA, remove=[p for p in SCHEMA["automl_default_parameters"] if p != "train.optim.lr"])
    assert [p.path for p in space.params] == ["train.optim.lr"]
    grid = space.grid(3)["train.optim.lr"]
    assert grid[0] == pytest.approx(2e-4) and grid[1] == pytest.approx(2e-3) and grid[2] == pytest.approx(2e-2)
    assert json.loads(json.dumps([p.describe() for p in space.params]))[0]["log"] is True


def test_secrets_stay_out_of_the_study_record(tmp_path: Path) -> None:
    """An encryption_key override reaches the worker through its environment only, never the stored request."""
    from optical_inspection.tools.synth import generate
    from tao_skill import api
    from tao_skill.automl.lifecycle import _user_overrides
    from tao_skill.automl.objective import SECRETS_ENV, secret_env

    data = generate(tmp_path / "d", pairs=8, defect_fraction=0.25, seed=0, image_size=32, package=True).root
    plan = api.plan(
        "tao-train-optical-inspection",
        "train",
        overrides=["encryption_key=s3cr3t-value", "model.margin=3"],
        data_sources={"train_datasets": str(data), "eval_dataset": str(data)},
    )
    assert plan.route == "automl"
    stored = _user_overrides(plan)
    assert stored["model.margin"] == 3 and "encryption_key" not in stored
    assert "s3cr3t-value" not in json.dumps(stored)
    assert json.loads(secret_env(plan)[SECRETS_ENV]) == {"encryption_key": "s3cr3t-value"}


@pytest.mark.parametrize(
    ("algorithm", "sampler", "pruner"),
    [
        ("bayesian", "TPESampler", "NopPruner"),
        ("gp", "GPSampler", "NopPruner"),
        ("hyperband", "RandomSampler", "HyperbandPruner"),
        ("asha", "RandomSampler", "SuccessiveHalvingPruner"),
        ("bohb", "TPESampler", "HyperbandPruner"),
        ("random", "RandomSampler", "NopPruner"),
        ("grid", "GridSampler", "NopPruner"),
    ],
)
def test_tao_algorithm_names_map_to_optuna(algorithm: str, sampler: str, pruner: str) -> None:
    from tao_skill.automl.algorithms import make_pruner, make_sampler

    settings = parse_settings({"algorithm": algorithm, "reduction_factor": 2})
    space = build_search_space(SCHEMA, remove=SCHEMA["automl_default_parameters"][2:])
    assert type(make_sampler(settings, space)).__name__ == sampler
    assert type(make_pruner(settings, max_epochs=4)).__name__ == pruner


def test_a_grid_too_large_to_enumerate_is_refused_with_a_hint() -> None:
    from tao_skill.automl.algorithms import check

    with pytest.raises(UserError) as raised:
        check(parse_settings({"algorithm": "grid"}), build_search_space(SCHEMA))
    assert raised.value.issues[0].rule == "grid_too_large" and "parameters_remove" in raised.value.issues[0].hint
