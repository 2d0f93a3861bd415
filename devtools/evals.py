"""Check a skill's evals and documented commands against the real ``tao-skill`` CLI, in plan mode.

``python -m devtools.evals [SKILL_DIR ...] [--json]`` runs, for each skill folder (default: every skill in the bank):

- every expected call of ``evals/evals.json`` (``run`` becomes ``plan``: nothing is launched) and its expectations
  (exit code, values in the JSON answer, issue rules);
- every ``tao-skill`` command shown in fenced code blocks of ``SKILL.md`` and ``references/*.md``: it must parse
  with the CLI's own parser, and the ones that can run here (plan, list, describe, checkpoints, status) must succeed.

Fixtures are made in a scratch folder: small synthetic datasets (made by the trainer's CLI,
``optical_inspection synth``) for every ``./data/<name>`` a command names, and finished parent jobs (train with four
checkpoints and the skill's per-epoch ranking metric, export with an ``.onnx``, gen_trt_engine with an ``.engine``)
recorded in a scratch ``TAO_SKILL_HOME``. Plan mode
resolves those files but never reads their contents, so they hold a few placeholder bytes. Placeholders in commands:
``JOB_ID`` / ``TRAIN_JOB_ID`` (the train job), ``EXPORT_JOB_ID``, ``ENGINE_JOB_ID``.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from devtools.eval_fixtures import Fixtures, make_fixtures

__all__ = [
    "Expectation",
    "ExpectedCall",
    "EvalTask",
    "CallResult",
    "load_evals",
    "doc_commands",
    "parse_command",
    "parse_error",
    "Fixtures",
    "make_fixtures",
    "run_call",
    "check_skill",
    "main",
]

PLACEHOLDERS = ("JOB_ID", "TRAIN_JOB_ID", "EXPORT_JOB_ID", "ENGINE_JOB_ID")
#: CLI verbs the checker executes; the others (run -> plan, logs, cancel, jobs, mcp, automl) are only parsed.
EXECUTED_VERBS = frozenset({"plan", "run", "list", "describe", "checkpoints", "status"})
_FENCE = re.compile(r"^([ \t]*)```[^\n]*\n(.*?)^\1```", re.S | re.M)


# ------------------------------------------------------------------------------------------------ evals.json
class Expectation(BaseModel):
    """What a call must answer. ``json``: dotted path in the JSON answer -> value (``spec.train.num_epochs``)."""

    model_config = ConfigDict(extra="forbid")

    exit_code: int = 0
    json_values: dict[str, Any] = Field(default_factory=dict, alias="json")
    issue_rules: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)


class ExpectedCall(BaseModel):
    """One ``tao-skill`` call an agent should make, written as the shell command an agent would type."""

    model_config = ConfigDict(extra="forbid")

    command: str
    expect: Expectation = Field(default_factory=Expectation)

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)


class EvalTask(BaseModel):
    """A user request, whether the skill must take it, the calls it takes and the ground truth."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: Literal["positive", "negative"]
    question: str
    expected_skill: str | None
    expected_calls: list[ExpectedCall] = Field(default_factory=list)
    refusal_checks: list[ExpectedCall] = Field(default_factory=list)
    ground_truth: str
    expected_behavior: list[str] = Field(default_factory=list)


def load_evals(path: str | Path) -> list[EvalTask]:
    """Read and validate ``evals.json`` (a list of tasks with unique ids)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of eval tasks")
    tasks = [EvalTask.model_validate(item) for item in data]
    ids = [t.id for t in tasks]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{path}: duplicate eval ids: {', '.join(dupes)}")
    return tasks


# ------------------------------------------------------------------------------------------------ markdown
def doc_commands(path: str | Path) -> list[list[str]]:
    """Every ``tao-skill`` command in the fenced code blocks of a markdown file (backslash continuations joined)."""
    text = Path(path).read_text(encoding="utf-8")
    commands = []
    for match in _FENCE.finditer(text):
        block = re.sub(r"\\\n\s*", " ", match.group(2))
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("tao-skill "):
                commands.append(shlex.split(line, comments=True))
    return commands


def parse_command(argv: list[str]) -> argparse.Namespace:
    """Parse ``tao-skill ...`` as the CLI's ``main`` does (its parser; stray ``key=value`` become overrides).

    Raises ValueError with argparse's message when the command does not parse.
    """
    import contextlib
    import io

    from tao_skill.cli import build_parser

    args = argv[1:] if argv and argv[0] == "tao-skill" else argv
    parser = build_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            ns, extra = parser.parse_known_args(args)
            stray = [item for item in extra if "=" not in item or item.startswith("-")]
            if stray or (extra and not hasattr(ns, "assignments")):
                parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    except SystemExit as exc:
        lines = stderr.getvalue().strip().splitlines()
        raise ValueError(lines[-1] if lines else f"exit {exc.code}") from None
    if extra:
        ns.assignments = list(ns.assignments or []) + extra
    return ns


def parse_error(argv: list[str]) -> str | None:
    """None when ``argv`` (``tao-skill ...``) parses as the real CLI parses it, else argparse's message."""
    try:
        parse_command(argv)
    except ValueError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------------------------------------ running
@dataclass
class CallResult:
    """One call as run: the argv, exit code, parsed JSON answer and every mismatch with the expectation."""

    source: str
    argv: list[str]
    executed: bool
    exit_code: int | None = None
    answer: Any = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _dotted(data: Any, path: str) -> Any:
    """``a.b.c`` in nested data; a dict whose keys are themselves dotted (provenance) matches the rest whole."""
    parts = path.split(".")
    current = data
    i = 0
    while i < len(parts):
        rest = ".".join(parts[i:])
        if isinstance(current, dict) and rest in current:
            return current[rest]
        part = parts[i]
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise KeyError(path)
        i += 1
    return current


def _plan_mode(argv: list[str]) -> list[str]:
    """``tao-skill run ...`` -> ``tao-skill plan ...`` (run-only flags dropped); ``--json`` added."""
    out = list(argv)
    if len(out) > 1 and out[1] == "run":
        out[1] = "plan"
        cleaned, skip = [], False
        for token in out:
            if skip:
                skip = False
                continue
            if token == "--wait":
                continue
            if token == "--timeout":
                skip = True
                continue
            cleaned.append(token)
        out = cleaned
    if "--json" not in out and len(out) > 1 and out[1] in EXECUTED_VERBS:
        out.append("--json")
    return out


def _prepare(fx: Fixtures, argv: list[str], source: str) -> tuple[CallResult, list[str] | None]:
    """Substitute placeholders, parse with the real parser, make fixture data; the argv to execute or None."""
    argv = fx.substitute(argv)
    result = CallResult(source=source, argv=argv, executed=False)
    if not argv or argv[0] != "tao-skill":
        result.problems.append("not a tao-skill command")
        return result, None
    error = parse_error(argv)
    if error:
        result.problems.append(f"does not parse: {error}")
        return result, None
    if len(argv) < 2 or argv[1] not in EXECUTED_VERBS:
        return result, None
    argv = _plan_mode(argv)
    fx.ensure_data(argv)
    return result, argv


def _execute(fx: Fixtures, result: CallResult, argv: list[str], expect: Expectation | None) -> CallResult:
    """Run the CLI as a subprocess in the fixture folder and compare its JSON answer with ``expect``."""
    proc = subprocess.run(
        [sys.executable, "-m", "tao_skill.cli", *argv[1:]],
        cwd=fx.workdir,
        env=fx.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    result.executed, result.exit_code = True, proc.returncode
    result.argv = argv
    try:
        result.answer = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        result.problems.append(f"answer is not JSON: {proc.stdout[:200]!r} {proc.stderr[-300:]!r}")
        return result
    expect = expect or Expectation()
    if proc.returncode != expect.exit_code:
        detail = json.dumps(result.answer)[:600] if result.answer is not None else proc.stderr[-600:]
        result.problems.append(f"exit code {proc.returncode}, expected {expect.exit_code}: {detail}")
        return result
    for path, wanted in expect.json_values.items():
        try:
            got = _dotted(result.answer, path)
        except KeyError:
            result.problems.append(f"{path}: missing from the answer")
            continue
        if got != wanted:
            result.problems.append(f"{path}: got {got!r}, expected {wanted!r}")
    if expect.issue_rules:
        rules = {i.get("rule") for i in (result.answer or {}).get("issues", []) if isinstance(i, dict)}
        for rule in expect.issue_rules:
            if rule not in rules:
                result.problems.append(f"issue rule {rule!r} not reported (got {sorted(r for r in rules if r)})")
    if expect.skills:
        names = {s.get("name") for s in result.answer or [] if isinstance(s, dict)}
        for name in expect.skills:
            if name not in names:
                result.problems.append(f"skill {name!r} not listed (got {sorted(n for n in names if n)})")
    return result


def run_call(fx: Fixtures, argv: list[str], expect: Expectation | None, source: str) -> CallResult:
    """Parse ``argv`` with the real parser, then (for executed verbs) run it through the CLI and check ``expect``."""
    result, to_run = _prepare(fx, argv, source)
    return _execute(fx, result, to_run, expect) if to_run else result


def _model_skill(calls: list[tuple[list[str], Any, str]], default: str) -> str:
    """The skill the fixture parent jobs belong to: the one the commands plan or run (an AutoML skill's docs show
    the model skill), else ``default``."""
    named = [argv[2] for argv, _, _ in calls if len(argv) > 2 and argv[0] == "tao-skill" and argv[1] in ("plan", "run")]
    return max(set(named), key=named.count) if named else default


def check_skill(skill_dir: str | Path, scratch: str | Path | None = None, workers: int = 2) -> list[CallResult]:
    """Every eval call and documented command of one skill folder, checked in plan mode.

    Parsing and fixture data happen first, in order; the CLI processes then run ``workers`` at a time.
    """
    from concurrent.futures import ThreadPoolExecutor

    skill_dir = Path(skill_dir)
    calls: list[tuple[list[str], Expectation | None, str]] = []
    evals_path = skill_dir / "evals" / "evals.json"
    if evals_path.is_file():
        for task in load_evals(evals_path):
            calls += [(c.argv, c.expect, f"evals:{task.id}#{i}") for i, c in enumerate(task.expected_calls)]
            calls += [(c.argv, c.expect, f"evals:{task.id}#refusal{i}") for i, c in enumerate(task.refusal_checks)]
    for doc in [skill_dir / "SKILL.md", *sorted((skill_dir / "references").glob("*.md"))]:
        if doc.is_file():
            calls += [(argv, None, f"{doc.relative_to(skill_dir)}#{n}") for n, argv in enumerate(doc_commands(doc))]
    with tempfile.TemporaryDirectory(prefix="tao-skill-evals-") as tmp:
        fx = make_fixtures(Path(scratch) if scratch else Path(tmp), skill=_model_skill(calls, skill_dir.name))
        prepared = [(*_prepare(fx, argv, source), expect) for argv, expect, source in calls]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [
                pool.submit(_execute, fx, result, to_run, expect) if to_run else None
                for result, to_run, expect in prepared
            ]
            return [f.result() if f is not None else r for f, (r, _, _) in zip(futures, prepared, strict=True)]


def _skill_dirs(args: list[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    from tao_skill.home import skills_root

    return sorted(p for p in skills_root().iterdir() if (p / "SKILL.md").is_file())


def main(argv: list[str] | None = None) -> int:
    """CLI entry: exit 0 when every call of every skill checks out, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m devtools.evals", description=__doc__.splitlines()[0])
    parser.add_argument("skill_dirs", nargs="*", help="skill folders (default: every skill with a SKILL.md)")
    parser.add_argument("--json", action="store_true", help="one JSON report instead of lines")
    args = parser.parse_args(argv)
    report: dict[str, list[dict[str, Any]]] = {}
    failed = 0
    for skill_dir in _skill_dirs(args.skill_dirs):
        results = check_skill(skill_dir)
        failed += sum(not r.ok for r in results)
        report[skill_dir.name] = [
            {
                "source": r.source,
                "argv": r.argv,
                "executed": r.executed,
                "exit_code": r.exit_code,
                "problems": r.problems,
            }
            for r in results
        ]
        if not args.json:
            for r in results:
                mark = "ok  " if r.ok else "FAIL"
                how = "ran   " if r.executed else "parsed"
                print(f"{mark} {how} {skill_dir.name} {r.source}: {shlex.join(r.argv)}")
                for problem in r.problems:
                    print(f"       - {problem}")
    if args.json:
        print(json.dumps({"failed": failed, "skills": report}, indent=2))
    else:
        total = sum(len(v) for v in report.values())
        print(f"\n{total - failed}/{total} calls ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
