"""automl_policy: explicit value > the user's words > default on; the route needs a packaged train schema."""

from __future__ import annotations

import pytest

from tao_skill.automl_policy import decide_automl
from tao_skill.errors import UserError


def _decide(policy=None, text=None, action="train", enabled=True, packaged=True):
    return decide_automl(policy, text, action=action, automl_enabled=enabled, train_packaged=packaged)


@pytest.mark.parametrize(
    "value,expected",
    [("on", True), ("off", False), ("true", True), ("FALSE", False), ("auto", True), (True, True), (False, False)],
)
def test_explicit_values(value, expected) -> None:
    decision = _decide(policy=value, text="please use AutoML" if not expected else "no automl")
    assert decision.enabled is expected and decision.source == "explicit"


@pytest.mark.parametrize(
    "text",
    [
        "Turn off AutoML and train for 3 epochs",
        "disable automl please",
        "no AutoML this time",
        "No HPO.",
        "just do plain training",
        "direct training on my data",
        "train without hyperparameter search",
        "don't use automl",
    ],
)
def test_words_turning_it_off(text: str) -> None:
    decision = _decide(text=text)
    assert decision.enabled is False and decision.source == "request_text"
    assert "request says" in decision.reason


@pytest.mark.parametrize("text", ["use AutoML", "tune hyperparameters for me", "run HPO", "hyperparameter search"])
def test_words_turning_it_on(text: str) -> None:
    decision = _decide(text=text)
    assert decision.enabled and decision.runnable and decision.source == "request_text"


def test_default_on_and_runnability() -> None:
    assert _decide(text="train the model on my boards").source == "default"
    assert _decide().enabled and _decide().runnable
    missing = _decide(packaged=False)
    assert missing.enabled and not missing.runnable
    assert "not runnable for this model until schemas are generated" in missing.reason
    assert not _decide(enabled=False).runnable
    assert not _decide(action="evaluate").runnable


def test_bad_explicit_value_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        _decide(policy="maybe")
    assert err.value.issues[0].path == "automl_policy"
