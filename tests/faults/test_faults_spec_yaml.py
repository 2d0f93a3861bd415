"""Item 1: hostile spec files and overrides cost bounded time and memory and end in a short, clear error (exit 2).

The memory bound is asserted by running the alias bomb with the child's address space capped (RLIMIT_AS set in the
child) at what a benign run of the same command peaked at plus 256 MiB: expanding the bomb needs gigabytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

SKILL = "tao-train-optical-inspection"
HEADROOM = 256 * 1024**2


def billion_laughs(levels: int = 9) -> str:
    """A ~400-byte YAML value that expands to 9**levels strings: nested lists of aliases to the level below."""
    value = '&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
    for level in range(1, levels):
        value = f"&a{level} [" + ", ".join([value] + [f"*a{level - 1}"] * 8) + "]"
    return value


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_alias_bomb_in_trainer_spec_is_refused_within_a_memory_bound(tmp_path: Path, trainer) -> None:
    benign = write(tmp_path / "benign.yaml", "dataset:\n  input_map:\n    A: [1, 2]\n")
    bomb = write(tmp_path / "bomb.yaml", f"dataset:\n  input_map:\n    A: {billion_laughs()}\n")
    assert bomb.stat().st_size < 3000
    baseline = trainer("evaluate", "-e", str(benign))
    assert baseline.returncode == 2, baseline.stderr
    assert baseline.peak_bytes

    run = trainer("evaluate", "-e", str(bomb), as_limit=baseline.peak_bytes + HEADROOM)

    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "MemoryError" not in run.stderr
    assert "dataset.input_map.A" in run.stderr and "expands to more than" in run.stderr
    assert "bomb.yaml" in run.stderr
    assert len(run.stderr) < 1000


def test_alias_bomb_in_override_file_is_refused_within_a_memory_bound(tmp_path: Path, tao_skill) -> None:
    benign = write(tmp_path / "benign.yaml", "dataset:\n  input_map:\n    A: [1, 2]\n")
    bomb = write(tmp_path / "bomb.yaml", f"dataset:\n  input_map:\n    A: {billion_laughs()}\n")
    baseline = tao_skill("plan", SKILL, "evaluate", "-f", str(benign), "--json")
    assert baseline.returncode == 2, baseline.stderr
    assert baseline.peak_bytes

    run = tao_skill("plan", SKILL, "evaluate", "-f", str(bomb), "--json", as_limit=baseline.peak_bytes + HEADROOM)

    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    error = json.loads(run.stdout)
    assert error["error"] == "user_error"
    (issue,) = error["issues"]
    assert issue["rule"] == "input_too_large"
    assert "dataset.input_map.A" in issue["message"] and "expands to more than" in issue["message"]
    assert len(run.stdout) < 2000


def test_self_referencing_alias_is_a_clear_error(tmp_path: Path, tao_skill, trainer) -> None:
    spec = write(tmp_path / "spec.yaml", "dataset:\n  input_map: &loop\n    A: *loop\n")

    run = trainer("evaluate", "-e", str(spec))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "dataset.input_map.A" in run.stderr and "contains itself" in run.stderr

    plan = tao_skill("plan", SKILL, "evaluate", "dataset.input_map=&x {A: *x}", "--json")
    assert plan.returncode == 2 and "Traceback" not in plan.stderr
    (issue,) = json.loads(plan.stdout)["issues"]
    assert issue["path"] == "dataset.input_map" and "contains itself" in issue["message"]


def test_oversized_lists_strings_and_files_are_refused(tmp_path: Path, tao_skill, trainer) -> None:
    tags = "[" + ", ".join(f"t{i}" for i in range(12_000)) + "]"
    spec = write(tmp_path / "spec.yaml", f"wandb:\n  tags: {tags}\n")
    run = trainer("train", "-e", str(spec))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "wandb.tags" in run.stderr and "12000 items" in run.stderr and len(run.stderr) < 1000

    plan = tao_skill("plan", SKILL, "train", f"wandb.tags={tags}", f"results_dir={'x' * 100_000}", "--json")
    assert plan.returncode == 2 and "Traceback" not in plan.stderr
    issues = {i["path"]: i for i in json.loads(plan.stdout)["issues"]}
    assert issues["wandb.tags"]["rule"] == "input_too_large" and "12000 items" in issues["wandb.tags"]["message"]
    assert (
        issues["results_dir"]["rule"] == "input_too_large" and "100000 characters" in issues["results_dir"]["message"]
    )
    assert len(plan.stdout) < 3000

    big = write(tmp_path / "big.yaml", "wandb:\n  tags: [" + ", ".join(["x"] * 600_000) + "]\n")
    run = trainer("train", "-e", str(big))
    assert run.returncode == 2 and "more than the limit of 1048576 bytes" in run.stderr
    plan = tao_skill("plan", SKILL, "train", "-f", str(big), "--json")
    assert plan.returncode == 2 and json.loads(plan.stdout)["issues"][0]["rule"] == "input_too_large"


def test_errors_quote_large_values_shortened(tmp_path: Path, tao_skill, trainer) -> None:
    """A value within the budgets but of the wrong type is quoted in a few dozen characters, not in full."""
    value = {"A": list(range(5000))}
    spec = write(tmp_path / "spec.yaml", yaml.safe_dump({"dataset": {"input_map": value}}))
    run = trainer("evaluate", "-e", str(spec))
    assert run.returncode == 2 and "dataset.input_map.A" in run.stderr and "must be an integer" in run.stderr
    assert len(run.stderr) < 600

    plan = tao_skill("plan", SKILL, "evaluate", "-f", str(spec), "--json")
    assert plan.returncode == 2
    assert len(plan.stdout) < 4000
    assert any(i["path"].startswith("dataset.input_map") for i in json.loads(plan.stdout)["issues"])


def test_interpolation_bomb_is_refused_before_it_is_resolved(tmp_path: Path, tao_skill) -> None:
    """40 keys each referring twice to the previous one (absolute or relative references): 2**40 resolution steps."""
    for name, ref in (("absolute.yaml", "dataset.input_map.a{}"), ("relative.yaml", ".a{}")):
        lines = ["dataset:", "  input_map:", '    a0: "lol"']
        lines += [f'    a{i}: "${{{ref.format(i - 1)}}}${{{ref.format(i - 1)}}}"' for i in range(1, 40)]
        spec = write(tmp_path / name, "\n".join(lines) + "\n")
        run = tao_skill("plan", SKILL, "evaluate", "-f", str(spec), "--json", timeout=120)
        assert run.returncode == 2, run.stderr[-2000:]
        costly = [i for i in json.loads(run.stdout)["issues"] if i["rule"] == "interpolation_too_costly"]
        assert len(costly) == 1 and costly[0]["path"].startswith("dataset.input_map.a"), costly
