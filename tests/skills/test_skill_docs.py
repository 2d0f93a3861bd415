"""Every skill passes the Agent Skills reference validator, names only files that exist, and shows only
``tao-skill`` commands the real CLI parser accepts (verbs, flags, skills, actions, data sources, spec keys)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devtools.evals import doc_commands, parse_command, parse_error

REPO = Path(__file__).resolve().parents[2]
SKILLS = REPO / "skills"
SKILL_DIRS = sorted(p for p in SKILLS.iterdir() if p.is_dir())
OI = SKILLS / "tao-train-optical-inspection"
AGENTSKILLS = Path(sys.executable).with_name("agentskills")
#: Actions with a TAO Deploy spec template (TensorRT engines).
DEPLOY_ACTIONS = ("gen_trt_engine", "evaluate", "inference")
_FILE_REF = re.compile(r"(?<![\w/.$-])((?:references|schemas|evals)/[A-Za-z0-9_.<>*-]+)")
_LINK = re.compile(r"\]\(([^)#\s]+)\)")


def _frontmatter(skill_md: Path) -> tuple[dict, str]:
    text = skill_md.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{skill_md}: no YAML frontmatter"
    head, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(head), body


def _validate(skill_dir: Path) -> subprocess.CompletedProcess[str]:
    cli = str(AGENTSKILLS) if AGENTSKILLS.exists() else shutil.which("agentskills")
    assert cli, "the skills-ref package (agentskills CLI) is not installed"
    return subprocess.run([cli, "validate", str(skill_dir)], capture_output=True, text=True, timeout=60)


def _actions(skill_dir: Path) -> list[str]:
    info = yaml.safe_load((skill_dir / "references" / "skill_info.yaml").read_text(encoding="utf-8"))
    return list(info["actions"])


@pytest.mark.parametrize("skill_dir", SKILL_DIRS, ids=[p.name for p in SKILL_DIRS])
def test_reference_validator_accepts_skill(skill_dir: Path) -> None:
    proc = _validate(skill_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_reference_validator_rejects_an_extra_top_level_key(tmp_path: Path) -> None:
    """The check can fail: NVIDIA's skill carries a top-level ``tags`` key, which the validator refuses."""
    copy = tmp_path / OI.name
    copy.mkdir()
    text = (OI / "SKILL.md").read_text(encoding="utf-8")
    (copy / "SKILL.md").write_text(text.replace("\nlicense:", "\ntags: [defect]\nlicense:", 1), encoding="utf-8")
    proc = _validate(copy)
    assert proc.returncode != 0 and "tags" in proc.stdout + proc.stderr


def test_frontmatter_and_body_follow_the_brief() -> None:
    meta, body = _frontmatter(OI / "SKILL.md")
    assert meta["name"] == OI.name
    assert len(meta["description"]) <= 1024
    for phrase in (
        "train optical inspection",
        "AOI defect detection",
        "Siamese defect classifier",
        "PCB / manufacturing inspection",
    ):
        assert phrase in meta["description"], phrase
    assert meta["license"] and meta["compatibility"]
    assert isinstance(meta["metadata"], dict) and all(isinstance(v, str) for v in meta["metadata"].values())
    assert len((OI / "SKILL.md").read_text(encoding="utf-8").splitlines()) < 500
    for heading in ("## Instructions", "## AutoML policy", "## Data sources per action", "## Spec params",
                    "## Dataset format", "## Error patterns", "## Examples"):  # fmt: skip
        assert heading in body, heading
    for verb in (
        "describe",
        "plan",
        "run",
        "status",
        "checkpoints",
        "evaluate",
        "inference",
        "export",
        "gen_trt_engine",
    ):
        assert verb in body, verb
    assert "images/images" in body


@pytest.mark.parametrize("skill_dir", SKILL_DIRS, ids=[p.name for p in SKILL_DIRS])
def test_every_file_a_skill_names_exists(skill_dir: Path) -> None:
    docs = [d for d in (skill_dir / "SKILL.md", *sorted((skill_dir / "references").glob("*.md"))) if d.is_file()]
    assert docs, f"{skill_dir.name} has no SKILL.md"
    actions = _actions(skill_dir) if (skill_dir / "references" / "skill_info.yaml").is_file() else []
    missing = []
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        refs = set(_FILE_REF.findall(text))
        refs |= {m for m in _LINK.findall(text) if "://" not in m}
        for ref in sorted(refs):
            ref = ref.rstrip(".,:;")
            base = skill_dir if not ref.startswith(("./", "../")) or doc.parent == skill_dir else doc.parent
            if "<action>" in ref:
                names = DEPLOY_ACTIONS if "deploy" in ref else actions
                assert names, f"{doc.name}: {ref} needs actions from skill_info.yaml"
                paths = [ref.replace("<action>", a) for a in names]
            else:
                paths = [ref]
            for path in paths:
                if "<" in path or "*" in path:  # another placeholder: at least one file must match
                    pattern = re.sub(r"<[^>]*>", "*", path)
                    found = any(base.glob(pattern)) or any(doc.parent.glob(pattern))
                else:
                    found = (base / path).exists() or (doc.parent / path).exists()
                if not found:
                    missing.append(f"{doc.relative_to(skill_dir)} names {path}")
        for name in re.findall(r"`(spec_template_[a-z_]+\.yaml|skill_info\.yaml)`", text):
            if not (skill_dir / "references" / name).is_file():
                missing.append(f"{doc.relative_to(skill_dir)} names {name}")
    assert not missing, "\n".join(missing)


def test_file_check_catches_a_missing_reference(tmp_path: Path) -> None:
    """The reference regex sees the paths SKILL.md uses (so a renamed file would be caught)."""
    text = (OI / "SKILL.md").read_text(encoding="utf-8")
    refs = set(_FILE_REF.findall(text))
    assert {"references/dataset-format.md", "references/tao-deploy-optical-inspection.md"} <= refs
    assert "schemas/<action>.schema.json" in refs and "references/spec_template_deploy_<action>.yaml" in refs


def _schema_keys(schema: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, sub in (schema.get("properties") or {}).items():
        dotted = f"{prefix}{name}"
        keys.add(dotted)
        if isinstance(sub, dict):
            keys |= _schema_keys(sub, dotted + ".")
    return keys


@pytest.mark.parametrize("skill_dir", SKILL_DIRS, ids=[p.name for p in SKILL_DIRS])
def test_every_documented_command_parses_with_the_real_cli(skill_dir: Path) -> None:
    docs = [d for d in (skill_dir / "SKILL.md", *sorted((skill_dir / "references").glob("*.md"))) if d.is_file()]
    assert docs, f"{skill_dir.name} has no SKILL.md"
    commands = [(doc, argv) for doc in docs for argv in doc_commands(doc)]
    skills = {p.name: p for p in SKILL_DIRS if (p / "references" / "skill_info.yaml").is_file()}
    problems = []
    for doc, argv in commands:
        where = f"{doc.relative_to(skill_dir)}: {' '.join(argv)}"
        error = parse_error(argv)
        if error:
            problems.append(f"{where}: {error}")
            continue
        args = parse_command(argv)
        if args.command not in ("plan", "run", "describe"):
            continue
        if args.skill not in skills:
            problems.append(f"{where}: unknown skill {args.skill}")
            continue
        info = yaml.safe_load((skills[args.skill] / "references" / "skill_info.yaml").read_text(encoding="utf-8"))
        if args.action is not None and args.action not in info["actions"]:
            problems.append(f"{where}: unknown action {args.action}")
            continue
        if args.command == "describe":
            continue
        sources = {b["source"] for b in info.get("data_sources", {}).get(args.action, {}).values()}
        for item in args.data or []:
            if item.partition("=")[0] not in sources:
                problems.append(f"{where}: {item.partition('=')[0]} is not a data source of {args.action}")
        schema_path = skills[args.skill] / "schemas" / f"{args.action}.schema.json"
        if not schema_path.is_file():
            problems.append(f"{where}: {schema_path.relative_to(SKILLS)} is missing")
            continue
        keys = _schema_keys(yaml.safe_load(schema_path.read_text(encoding="utf-8")))
        for item in list(args.assignments or []) + list(args.override or []):
            key = item.partition("=")[0]
            key = info.get("spec_shorthand_keys", {}).get(key, key)
            if key not in keys:
                problems.append(f"{where}: {key} is not a spec key of {args.action}")
    assert not problems, "\n".join(problems)
    if skill_dir == OI:
        verbs = {argv[1] for _, argv in commands}
        assert {"list", "describe", "plan", "run", "status", "logs", "checkpoints"} <= verbs


def test_parse_check_rejects_an_unknown_flag() -> None:
    assert parse_error(["tao-skill", "plan", "tao-train-optical-inspection", "train", "--epochs", "3"])
    assert parse_error(["tao-skill", "launch", "x"])
    assert parse_error(["tao-skill", "status", "JOB_ID", "--json"]) is None


def test_flow_comes_first_and_states_what_agents_got_wrong() -> None:
    """The steps start on the first screen; the checkpoint step says epochs count from 0; -f is documented; long
    recipe and precision notes live in references/."""
    text = (OI / "SKILL.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = lines.index("## Instructions")
    assert start < 40, f"the flow starts at line {start + 1}"
    steps = text[text.index("## Instructions") : text.index("\n## ", text.index("## Instructions") + 1)]
    checkpoint_step = steps[steps.index("**Pick a checkpoint**") :]
    assert "Epochs count from 0" in checkpoint_step and "epoch=2" in checkpoint_step
    assert "-f FILE" in steps and "in the order given" in steps
    assert "tao-skill doctor" in steps and "preflight" in steps
    assert "Recipe that generalises" not in text and "bf16-mixed" not in text
    recipes = (OI / "references" / "training-recipes.md").read_text(encoding="utf-8")
    assert "bf16-mixed" in recipes and "fpratio_sampling=1.0" in recipes
    assert "references/training-recipes.md" in text
