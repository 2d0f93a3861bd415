"""The runtime knows skills only through their contract: no module of ``tao_skill`` (runtime, AutoML, MCP,
launchers, schema generator) names a skill, a model or a key of one, and none imports the trainer or torch."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import yaml

from tao_skill._schema_walk import walk
from tao_skill.schema_gen.actions import TAO_TASKS

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "tao_skill"
MODULES = sorted(PACKAGE.rglob("*.py"))
SKILLS = ("tao-train-optical-inspection", "tao-train-visual-changenet")
FORBIDDEN_IMPORTS = ("optical_inspection", "torch", "nvidia_tao_core")


def _keys(skill: str) -> set[str]:
    found: set[str] = set()
    for path in (REPO / "skills" / skill / "schemas").glob("*.schema.json"):
        found |= {key for key, _ in walk(json.loads(path.read_text(encoding="utf-8")))}
    return found


def _contract_names(skill: str) -> set[str]:
    """Names a skill's contract holds that only that model uses: its own names, checkpoint names, metrics."""
    info = yaml.safe_load((REPO / "skills" / skill / "references" / "skill_info.yaml").read_text(encoding="utf-8"))
    runtime = info["runtime"]
    ranking = runtime["ranking"]
    names = {info["name"], info["network_arch"], runtime["checkpoints"]["latest"], ranking["metric"]}
    names |= {ranking["tie_breaker"]["metric"], info["actions"]["train"]["command"].split()[0]}
    names |= {info["schema_source"]["config"].partition(":")[0]}
    return names


def test_no_runtime_module_names_a_skill_or_a_model_key() -> None:
    oi, vcn = _keys(SKILLS[0]), _keys(SKILLS[1])
    # Keys one model has and the other has not (TAO's common keys, such as train.num_epochs, are the contract's
    # vocabulary, not a model's); their last parts when no key of the other model ends that way.
    own = {k for k in oi ^ vcn if "." in k}
    leaves_oi, leaves_vcn = {k.rsplit(".", 1)[-1] for k in oi}, {k.rsplit(".", 1)[-1] for k in vcn}
    own |= {leaf for leaf in leaves_oi ^ leaves_vcn if "_" in leaf and leaf not in TAO_TASKS}
    names = set().union(*(_contract_names(s) for s in SKILLS)) | {"changenet", "optical-inspection", "siamese"}
    names |= {"oi_model", "golden_path", "object_name"}
    assert {"dataset.num_input", "dataset.input_map", "model.model_type", "model_type", "target_recall"} <= own
    assert {"oi_model_latest.pth", "val_roc_auc", "visual_changenet", "optical_inspection"} <= names
    found = []
    for module in MODULES:
        text = module.read_text(encoding="utf-8")
        lowered = text.lower()
        found += [f"{module.relative_to(REPO)}: {name}" for name in sorted(names) if name.lower() in lowered]
        found += [f"{module.relative_to(REPO)}: {key}" for key in sorted(own) if key in text]
    assert not found, "\n".join(found)


def _imports(module: Path) -> list[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.append(node.args[0].value)
    return names


def test_no_runtime_module_imports_the_trainer_or_torch() -> None:
    """The rule holds with no exception, also for imports made inside functions or by name."""
    offending = [
        f"{module.relative_to(REPO)}: {name}"
        for module in MODULES
        for name in _imports(module)
        if name.split(".")[0] in FORBIDDEN_IMPORTS
    ]
    assert not offending, "\n".join(offending)
    assert any("importlib" in _imports(m) for m in MODULES), "the scan must see imports by name"


def test_importing_every_runtime_module_loads_neither() -> None:
    names = sorted(
        ".".join(m.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for m in MODULES
        if m.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_IMPORTS!r})\n"
        "assert not loaded, loaded\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
