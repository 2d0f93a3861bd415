"""automl_policy: explicit value > the user's words > default on; the route needs a packaged train schema.

The words table is the contract: negations that govern an AutoML term turn it off, positive requests turn it on,
hedged or contradicting words keep the default and say so, and requests that do not mention AutoML stay silent.
"""

from __future__ import annotations

import pytest

from tao_skill.automl_policy import decide_automl, read_words
from tao_skill.errors import UserError

OFF, ON, UNCLEAR, SILENT = "off", "on", "unclear", "silent"

PHRASES = [
    # the requests that used to start AutoML
    ("I don't want AutoML", OFF),
    ("do not run automl", OFF),
    ("no need for AutoML", OFF),
    ("AutoML is not needed", OFF),
    ("don't do any hyperparameter search", OFF),
    # negation governing a term
    ("Turn off AutoML and train for 3 epochs", OFF),
    ("disable automl please", OFF),
    ("no AutoML this time", OFF),
    ("No HPO.", OFF),
    ("train without hyperparameter search", OFF),
    ("don't use automl", OFF),
    ("Plain training, no AutoML, 3 epochs.", OFF),
    ("skip the hyperparameter sweep", OFF),
    ("avoid HPO", OFF),
    ("never run AutoML on this data", OFF),
    ("turn AutoML off", OFF),
    ("switch off hyperparameter tuning", OFF),
    ("please disable hyperparameter optimization", OFF),
    ("forget about hyperparameter search", OFF),
    ("No sweeps please", OFF),
    ("no auto-ml", OFF),
    ("without Auto ML", OFF),
    ("no hyper-parameter tuning", OFF),
    ("don\u2019t run AutoML", OFF),
    ("dont want hpo", OFF),
    ("We can't afford AutoML", OFF),
    ("Let's not do AutoML", OFF),
    ("I would rather not use AutoML", OFF),
    ("do NOT use AutoML!!", OFF),
    ("I'm fine without AutoML", OFF),
    ("Please train; I'm not interested in hyperparameter tuning", OFF),
    ("Avoid AutoML unless accuracy is poor", OFF),
    ("neither AutoML nor HPO", OFF),
    ("no automl or hpo", OFF),
    ("Don't use AutoML and HPO", OFF),
    ("There's no need to waste GPU hours on AutoML", OFF),
    ("I do not want you to run any AutoML", OFF),
    ("Train it directly, don't bother with AutoML", OFF),
    ("I don't care about accuracy, skip AutoML", OFF),
    ("rather than AutoML, train once", OFF),
    ("instead of HPO, do a single run", OFF),
    ("Not AutoML, just plain training", OFF),
    # negation after the term
    ("HPO isn't necessary here", OFF),
    ("Hyperparameter tuning is not needed", OFF),
    ("no AutoML needed", OFF),
    ("AutoML would be overkill", OFF),
    ("I think AutoML is unnecessary", OFF),
    ("AutoML is off the table", OFF),
    ("AutoML isn't something I want", OFF),
    ("Train with hyperparameter search disabled", OFF),
    ("hyperparameter search would take too long, skip it", OFF),
    ("AutoML off", OFF),
    ("automl=off", OFF),
    ("automl_policy: off", OFF),
    ("AutoML? No thanks.", OFF),
    # no AutoML term, but training without a search
    ("just do plain training", OFF),
    ("direct training on my data", OFF),
    ("train the model directly", OFF),
    ("train once with my own hyperparameters", OFF),
    ("keep the default hyperparameters", OFF),
    ("I'll tune it by hand", OFF),
    ("no tuning, just train", OFF),
    # positive requests
    ("use AutoML", ON),
    ("tune hyperparameters for me", ON),
    ("run HPO", ON),
    ("hyperparameter search", ON),
    ("please tune the hyperparameters", ON),
    ("optimise the hyperparameters", ON),
    ("run a BOHB study", ON),
    ("find the best hyperparameters", ON),
    ("sweep the learning rate", ON),
    ("kick off an AutoML study", ON),
    ("AutoML: yes", ON),
    ("just train it with AutoML", ON),
    ("Run AutoML unless it takes too long", ON),
    # tricky: the negation is about something else, or two negations cancel
    ("no manual tuning, let AutoML do it", ON),
    ("no manual tuning and let AutoML do it", ON),
    ("no manual tuning", ON),
    ("Don't skip AutoML", ON),
    ("don't turn off automl", ON),
    ("never train without HPO", ON),
    ("don't forget to run AutoML", ON),
    ("No, use AutoML", ON),
    ("Without augmentation, use AutoML", ON),
    ("without augmentation use AutoML", ON),
    ("Use AutoML, not plain training", ON),
    ("I want AutoML instead of plain training", ON),
    ("AutoML with no more than 8 trials", ON),
    ("AutoML with no pruning", ON),
    ("skip validation and run HPO", ON),
    ("avoid overfitting by using AutoML", ON),
    ("do not change the defaults and run HPO", ON),
    ("no GPUs to spare so keep it small but use AutoML", ON),
    ("The data is not big; use AutoML", ON),
    ("no matter what, use hyperparameter tuning", ON),
    # hedged or contradicting: the default stays, and the reason says why
    ("maybe AutoML?", UNCLEAR),
    ("not sure we need AutoML", UNCLEAR),
    ("should we use HPO", UNCLEAR),
    ("I don't know whether AutoML helps", UNCLEAR),
    ("is it worth running automl", UNCLEAR),
    ("use AutoML but no hyperparameter sweep", UNCLEAR),
    ("Train without AutoML first, then run HPO", UNCLEAR),
    # nothing about AutoML
    ("train the model on my boards", SILENT),
    ("do what you think is best", SILENT),
    ("no GPU here, train for 5 epochs", SILENT),
    ("", SILENT),
]


def _decide(policy=None, text=None, action="train", enabled=True, packaged=True):
    return decide_automl(policy, text, action=action, automl_enabled=enabled, train_packaged=packaged)


def test_the_table_is_large_and_covers_every_verdict() -> None:
    assert len(PHRASES) >= 60
    assert len({text for text, _ in PHRASES}) == len(PHRASES), "a phrase is listed twice"
    assert {verdict for _, verdict in PHRASES} == {OFF, ON, UNCLEAR, SILENT}


@pytest.mark.parametrize("text,verdict", PHRASES, ids=[t or "<empty>" for t, _ in PHRASES])
def test_words(text: str, verdict: str) -> None:
    words = read_words(text)
    assert words.verdict == verdict, words.reason
    decision = _decide(text=text)
    if verdict in (ON, OFF):
        assert decision.enabled is (verdict == ON) and decision.source == "request_text"
        assert decision.reason.startswith("the request says '")
    else:
        assert decision.enabled and decision.source == "default"
    if verdict == UNCLEAR:
        assert "keeping the default (on)" in decision.reason and "--automl-policy" in decision.reason


def test_mixed_words_name_both_sides() -> None:
    reason = read_words("use AutoML but no hyperparameter sweep").reason
    assert "'use automl' (on)" in reason and "'no hyperparameter sweep' (off)" in reason


@pytest.mark.parametrize(
    "value,expected",
    [("on", True), ("off", False), ("true", True), ("FALSE", False), (True, True), (False, False)],
)
def test_explicit_values_beat_the_words(value, expected) -> None:
    decision = _decide(policy=value, text="please use AutoML" if not expected else "no automl")
    assert decision.enabled is expected and decision.source == "explicit"


@pytest.mark.parametrize("value", ["auto", "AUTO", "", None])
def test_auto_leaves_it_to_the_words(value) -> None:
    assert _decide(policy=value, text="no AutoML").enabled is False
    assert _decide(policy=value, text="no AutoML").source == "request_text"
    assert _decide(policy=value).source == "default"


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
    assert err.value.issues[0].path == "automl_policy" and "auto" in err.value.issues[0].hint
