"""The skill's evals run against the real CLI in plan mode (``python -m devtools.evals``), so they cannot drift from the
code; the checker itself fails on a wrong expectation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devtools.evals import load_evals

REPO = Path(__file__).resolve().parents[2]
OI = REPO / "skills" / "tao-train-optical-inspection"


def _check(skill_dir: Path | None) -> tuple[int, dict]:
    """The checker on one skill folder, or on every skill of the bank (None)."""
    proc = subprocess.run(
        [sys.executable, "-m", "devtools.evals", *([str(skill_dir)] if skill_dir else []), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, json.loads(proc.stdout)


def test_evals_cover_positive_and_negative_requests() -> None:
    tasks = load_evals(OI / "evals" / "evals.json")
    positives = [t for t in tasks if t.kind == "positive"]
    negatives = [t for t in tasks if t.kind == "negative"]
    assert len(positives) >= 8 and len(negatives) >= 3
    assert all(t.expected_skill == OI.name and t.expected_calls for t in positives)
    assert all(t.expected_skill is None and not t.expected_calls for t in negatives)
    questions = " ".join(t.question.lower() for t in negatives)
    assert "yolo" in questions and "segment" in questions
    assert all(t.ground_truth for t in tasks)
    verbs = {call.argv[1] for t in positives for call in t.expected_calls}
    assert {"plan", "run", "checkpoints"} <= verbs


def test_every_eval_call_and_documented_command_checks_out() -> None:
    """Every skill with a SKILL.md: its evals and the tao-skill commands its docs show."""
    code, report = _check(None)
    failures = [c for calls in report["skills"].values() for c in calls if c["problems"]]
    assert code == 0 and not failures, json.dumps(failures, indent=1)
    calls = report["skills"][OI.name]
    sources = {c["source"].split("#")[0] for c in calls}
    for task in load_evals(OI / "evals" / "evals.json"):
        assert f"evals:{task.id}" in sources
    assert "SKILL.md" in sources
    executed = [c for c in calls if c["executed"]]
    assert len(executed) >= 25
    assert all(c["argv"][1] != "run" for c in executed), "run calls must be checked as plans"


def test_checker_reports_a_wrong_expectation(tmp_path: Path) -> None:
    copy = tmp_path / OI.name
    (copy / "evals").mkdir(parents=True)
    tasks = json.loads((OI / "evals" / "evals.json").read_text())
    task = next(t for t in tasks if t["id"] == "train-explicit-policy-off")
    task["expected_calls"][0]["expect"]["json"]["spec.dataset.batch_size"] = 5
    (copy / "evals" / "evals.json").write_text(json.dumps([task]))
    code, report = _check(copy)
    problems = [p for c in report["skills"][OI.name] for p in c["problems"]]
    assert code == 1
    assert problems == ["spec.dataset.batch_size: got 4, expected 5"]
