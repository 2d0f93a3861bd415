"""One Request model behind plan(), run(), the CLI's options and the MCP tools' input schemas: the same fields
everywhere, the same parsing of the CLI's ``key=value`` forms, every problem reported at once."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tao_skill import api
from tao_skill.cli import build_parser
from tao_skill.errors import UserError
from tao_skill.request import Request, add_arguments, from_args, input_schema, parse

SKILL = "tao-train-optical-inspection"


def _cli(*argv: str) -> Request:
    parser = build_parser(with_automl=False)
    args, extra = parser.parse_known_args(["plan", *argv])
    args.assignments = list(args.assignments or []) + extra
    return from_args(args)


def test_every_interface_has_exactly_the_request_fields() -> None:
    from tao_skill.mcp_tools import tools

    fields = set(Request.model_fields)
    assert set(input_schema()["properties"]) == fields
    by_name = {t.name: t for t in tools()}
    assert set(by_name["plan_job"].input_schema["properties"]) == fields
    assert set(by_name["run_job"].input_schema["properties"]) == fields | {"wait"}
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    dests = {a.dest for a in parser._actions if a.dest != "help"}
    assert len(dests) == len(fields) + 1  # + the positional key=value assignments, merged into overrides


def test_cli_forms_parse_to_the_request_an_api_caller_builds(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("train: {seed: 3}\n")
    from_cli = _cli(
        SKILL, "train", "num_epochs=2", "-o", "train.optim.lr=1e-4", "-f", str(spec), "--data", "train_datasets=/d/t",
        "--automl-setting", "max_trials=3", "--automl-setting", "algorithm=bohb", "--automl-policy", "true",
        "--checkpoint", "EPOCH=1", "--request", "tune it",
    )  # fmt: skip
    direct = Request(
        skill=SKILL,
        action="train",
        overrides={"num_epochs": 2, "train.optim.lr": 1e-4},
        override_files=[str(spec)],
        data_sources={"train_datasets": "/d/t"},
        automl_settings={"max_trials": 3, "algorithm": "bohb"},
        automl_policy="on",
        checkpoint="EPOCH=1",
        request_text="tune it",
    )
    assert from_cli == direct


def test_plan_takes_a_request_or_its_fields(synth_data) -> None:
    sources = {"train_datasets": str(synth_data["train"]), "eval_dataset": str(synth_data["val"])}
    request = Request(skill=SKILL, action="train", overrides={"num_epochs": 2}, data_sources=sources,
                      automl_policy="off")  # fmt: skip
    by_model = api.plan(request)
    by_fields = api.plan(SKILL, "train", overrides=["num_epochs=2"], data_sources=sources, automl_policy="off")
    assert by_model.spec["train"] == by_fields.spec["train"] and by_model.route == by_fields.route == "direct"
    auto = api.plan(SKILL, "train", data_sources=sources, automl_policy="auto", request_text="AutoML is not needed")
    assert auto.route == "direct" and auto.automl.source == "request_text"


def test_every_problem_of_a_request_at_once() -> None:
    with pytest.raises(UserError) as err:
        parse(
            {
                "skill": SKILL,
                "action": "train",
                "overide": {"num_epochs": 2},
                "backend": "kubernetes",
                "checkpoint": "epoch3",
                "data_sources": ["train_datasets"],
                "automl_policy": "maybe",
            }
        )
    found = {i.path: i for i in err.value.issues}
    assert set(found) == {"overide", "backend", "checkpoint", "data_sources", "automl_policy"}
    assert "overrides" in found["overide"].hint
    assert "one of: local, docker" in found["backend"].message
    assert "epoch=N" in found["checkpoint"].message
    assert "NAME=VALUE" in found["data_sources"].message
    assert found["automl_policy"].hint == "one of: on, off, auto"
    with pytest.raises(UserError) as err:
        api.plan(SKILL, "train", overide=["num_epochs=2"])
    assert err.value.issues[0].path == "overide"
