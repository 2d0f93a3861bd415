"""The generator itself: type mapping, TAO metadata quirks, determinism, drift check, every TAO Core config."""

from __future__ import annotations

import dataclasses
import importlib
import json
import multiprocessing
import os
import pkgutil
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Literal, Optional, Union

import pytest
import yaml
from jsonschema import Draft202012Validator

from tao_skill.schema_gen.fields import ActionSpec, FieldMeta, config_field, parse_math_cond
from tao_skill.schema_gen.generate import generate
from tao_skill.schema_gen.introspect import build_tree
from tao_skill.schema_gen.json_schema import node_schema
from tao_skill.schema_gen.templates import render_scalar

OI_CONFIG = "optical_inspection.config:ExperimentConfig"

REPO = Path(__file__).resolve().parents[2]


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Inner:
    rate: float = config_field(0.1, exclusive_minimum=0.0, maximum=1.0, automl=True)


@dataclass
class Sample:
    name: Optional[str] = config_field(None)
    mode: Literal["a", "b"] = config_field("a")
    color: Color = config_field(Color.RED)
    sizes: list[int] = config_field([1, 2], minimum=0)
    table: dict[str, float] = config_field({"x": 1.0})
    inner: Inner = config_field(Inner())
    tao_style: int = field(default=5, metadata={"valid_min": "1", "valid_max": "inf", "value_min": 0})


def schema_of(cls: type) -> dict:
    warnings: list[str] = []
    nodes = build_tree(cls)
    return {n.name: node_schema(n, lambda p, m: warnings.append(f"{p}: {m}")) for n in nodes} | {"_w": warnings}


def test_annotations_and_metadata_map_to_json_schema() -> None:
    out = schema_of(Sample)
    assert out["name"]["type"] == ["string", "null"] and out["name"]["default"] is None
    assert out["mode"]["enum"] == ["a", "b"]
    assert out["color"]["enum"] == ["red", "blue"] and out["color"]["default"] == "red"
    assert out["sizes"]["type"] == "array" and out["sizes"]["default"] == [1, 2]
    assert out["sizes"]["items"] == {"type": "integer", "minimum": 0}
    assert out["table"]["additionalProperties"] == {"type": "number"}
    inner = out["inner"]
    assert inner["additionalProperties"] is False
    rate = inner["properties"]["rate"]
    assert rate["exclusiveMinimum"] == 0.0 and rate["maximum"] == 1.0 and rate["automl_enabled"] is True
    assert out["tao_style"]["minimum"] == 1 and "maximum" not in out["tao_style"]
    assert any("tao_style" in w and "value_min" in w for w in out["_w"])


def test_field_meta_reads_tao_strings() -> None:
    meta = FieldMeta.from_metadata(
        {
            "valid_min": 0,
            "valid_max": "inf",
            "math_cond": "> 0.0",
            "automl_enabled": "TRUE",
            "popular": "yes",
            "valid_options": "fp32,fp16",
            "option_weights": [0.7, 0.3],
        }
    )
    assert meta.minimum is None and meta.exclusive_minimum == 0.0 and meta.maximum is None
    assert meta.automl_enabled is True and meta.popular and meta.options == ["fp32", "fp16"]
    assert parse_math_cond("<= 5").operator == "<=" and parse_math_cond("weird") is None
    assert FieldMeta.from_metadata({"automl_enabled": ""}).automl_enabled is None


def test_a_default_outside_its_own_range_does_not_make_an_unusable_schema() -> None:
    @dataclass
    class Broken:
        batch: int = field(default=-1, metadata={"valid_min": 1, "default_value": 8})
        dtype: str = field(default="fp32", metadata={"valid_options": "int8,fp16"})

    out = schema_of(Broken)
    assert "minimum" not in out["batch"] and out["batch"]["x-tao-default-value"] == 8
    assert "fp32" in out["dtype"]["enum"]
    assert len([w for w in out["_w"] if "batch" in w]) == 2


def test_declared_actions_give_per_action_sections_and_requirements(tmp_path: Path) -> None:
    artifacts = generate(OI_CONFIG, "tao-train-optical-inspection")
    train = json.loads(artifacts.files["schemas/train.schema.json"])
    export = json.loads(artifacts.files["schemas/export.schema.json"])
    assert train["x-sections"] == ["model", "dataset", "train"]
    assert export["properties"]["train"]["type"] == ["object", "null"]  # another action's section: open
    assert "additionalProperties" not in export["properties"]["train"]
    assert ActionSpec("x", sections=()).required == ()


def _run_generator(out: Path, seed: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.run(
        [sys.executable, "-m", "tao_skill.schema_gen", "--config", OI_CONFIG, "--out", str(out), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_output_is_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "skill", tmp_path / "b" / "skill"
    assert _run_generator(first, "1").returncode == 0
    assert _run_generator(second, "4242").returncode == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 11
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def test_check_names_drifted_files_and_keys(tmp_path: Path) -> None:
    skill = tmp_path / "skill"
    assert _run_generator(skill, "0").returncode == 0
    ok = _run_generator(skill, "7", "--check")
    assert ok.returncode == 0, ok.stderr
    path = skill / "schemas" / "train.schema.json"
    document = json.loads(path.read_text())
    document["properties"]["model"]["properties"]["margin"]["minimum"] = 0.5
    path.write_text(json.dumps(document, indent=2) + "\n")
    (skill / "references" / "spec_template_export.yaml").unlink()
    template = skill / "references" / "spec_template_train.yaml"
    template.write_text(template.read_text().replace("  num_epochs: 6\n", "  num_epochs: 12\n"))
    (skill / "schemas" / "prune.schema.json").write_text("{}\n")
    drifted = _run_generator(skill, "0", "--check")
    assert drifted.returncode == 1
    assert "schemas/train.schema.json" in drifted.stderr
    assert "/properties/model/properties/margin/minimum" in drifted.stderr
    assert "references/spec_template_export.yaml" in drifted.stderr and "missing" in drifted.stderr
    assert "references/spec_template_train.yaml" in drifted.stderr and "key train.num_epochs" in drifted.stderr
    assert "schemas/prune.schema.json" in drifted.stderr and "stale" in drifted.stderr
    assert "Traceback" not in drifted.stderr


def test_shipped_artifacts_have_not_drifted() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tao_skill.schema_gen", "--check"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def tao_core_configs() -> list[str]:
    """``module:Class`` of every nvidia-tao-core model config (the ExperimentConfig dataclass of each).

    Each ``<model>/default_config.py``; cosmos-rl keeps its ExperimentConfig in ``train.py`` (and is the one
    config with UNION_FIELD / SUBSET_LIST_FIELD / OPTIONAL_LIST_FIELD), so a package without default_config falls
    back to its ``train`` module.
    """
    package = importlib.import_module("nvidia_tao_core.config")
    sources = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        module = None
        for leaf in ("default_config", "train"):
            name = f"nvidia_tao_core.config.{info.name}.{leaf}"
            try:
                module = importlib.import_module(name)
                break
            except ModuleNotFoundError:
                continue
        if module is None:
            continue
        classes = sorted(
            n
            for n, v in vars(module).items()
            if isinstance(v, type)
            and dataclasses.is_dataclass(v)
            and n.endswith("ExperimentConfig")
            and v.__module__ == name
        )
        if "ExperimentConfig" in classes:
            sources.append(f"{name}:ExperimentConfig")
        elif classes:
            sources.append(f"{name}:{classes[0]}")
    return sources


def example_value(schema: dict) -> object:
    """A value a leaf schema accepts, to fill a template's ``???`` generically."""
    candidates = [schema, *[s for s in schema.get("anyOf", []) if s != {"type": "null"}]]
    for candidate in candidates:
        if "enum" in candidate:
            return next(v for v in candidate["enum"] if v not in (None, "???"))
        kinds = candidate.get("type")
        kind = next((k for k in ([kinds] if isinstance(kinds, str) else kinds or []) if k != "null"), None)
        if kind in ("integer", "number"):
            low = candidate.get("minimum", candidate.get("exclusiveMinimum", 0))
            return int(low) + 1 if kind == "integer" else float(low) + 0.5
        if kind is not None:
            return {"string": "example", "boolean": True, "array": [], "object": {}}[kind]
    return "example"


def fill_with_examples(document: object, schema: dict) -> object:
    """Replace every ``???`` in a template by a value its field's schema accepts."""
    if isinstance(document, dict):
        nodes = [schema, *[s for s in schema.get("anyOf", []) if isinstance(s, dict)]]
        properties = next((n["properties"] for n in nodes if "properties" in n), {})
        out = {}
        for key, value in document.items():
            sub = properties.get(key, {})
            out[key] = example_value(sub) if value == "???" else fill_with_examples(value, sub)
        return out
    return document


def convert_and_check(source: str) -> list[str]:
    """Generate one TAO Core config; return every metaschema failure and every template that does not validate.

    Each top-level property schema is checked against the 2020-12 metaschema once per config (the actions of a
    config share their common sections byte for byte), then each action schema with those properties emptied: the
    metaschema checks property subschemas independently, so this equals checking each whole file, in half the time.
    """
    failures: list[str] = []
    artifacts = generate(source, "tao")
    schemas = [p for p in artifacts.files if p.endswith(".schema.json")]
    if not schemas:
        failures.append(f"{source}: no schema")
    checked: set[str] = set()
    for relative in schemas:
        document = json.loads(artifacts.files[relative])
        try:
            for sub in document["properties"].values():
                key = json.dumps(sub, sort_keys=True)
                if key not in checked:
                    Draft202012Validator.check_schema(sub)
                    checked.add(key)
            Draft202012Validator.check_schema(dict(document, properties=dict.fromkeys(document["properties"], {})))
        except Exception as exc:  # noqa: BLE001 - collect every failure
            failures.append(f"{source} {relative}: {exc}")
            continue
        action = relative.removeprefix("schemas/").removesuffix(".schema.json")
        template = yaml.safe_load(artifacts.files[f"references/spec_template_{action}.yaml"])
        for error in Draft202012Validator(document).iter_errors(fill_with_examples(template, document)):
            failures.append(f"{source} {action} template: {error.json_path}: {error.message[:200]}")
    return failures


def test_every_tao_core_model_config_converts_to_valid_json_schema() -> None:
    """Every TAO Core model config converts without a crash; its schemas pass the metaschema, and each template (its
    runnable defaults, the ``???`` filled) validates against its own action's schema: no schema rejects its own
    defaults. Two worker processes (CI has 2 cores)."""
    pytest.importorskip("nvidia_tao_core", reason="nvidia-tao-core is installed --no-deps by `make venv`")
    sources = tao_core_configs()
    assert len(sources) >= 40 and "nvidia_tao_core.config.cosmos-rl.train:ExperimentConfig" in sources
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        failures = [failure for found in pool.map(convert_and_check, sources) for failure in found]
    assert failures == []


def test_a_default_contradicting_its_annotation_is_accepted_and_reported() -> None:
    @dataclass
    class Contradictory:
        flag: bool = field(default="TRUE", metadata={"default_value": "TRUE"})  # type: ignore[assignment]
        modality: dict[str, str] = field(default_factory=lambda: {"use_lidar": True})
        name: str = field(default=3)  # type: ignore[assignment]

    out = schema_of(Contradictory)
    assert out["flag"]["type"] == "boolean" and out["flag"]["default"] is True
    assert "x-tao-default-value" not in out["flag"]
    assert out["modality"]["additionalProperties"]["type"] == ["string", "boolean"]
    assert out["name"]["type"] == ["string", "integer"] and out["name"]["default"] == 3
    assert [w.split(":")[0] for w in out["_w"]] == ["flag", "modality.use_lidar", "name"]
    for key in ("flag", "modality", "name"):
        assert Draft202012Validator(out[key]).is_valid(out[key]["default"])


def test_tao_optical_inspection_config_warns_and_goes_on(tmp_path: Path) -> None:
    pytest.importorskip("nvidia_tao_core")
    out = tmp_path / "tao_oi"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tao_skill.schema_gen",
            "--config",
            "nvidia_tao_core.config.optical_inspection.default_config:ExperimentConfig",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "dataset.batch_size: value 32 differs from default_value 8" in result.stderr
    assert "export.gpu_id: unknown metadata key(s) value_min" in result.stderr
    assert "evaluate.batch_size: default -1 violates its own bound" in result.stderr
    train = json.loads((out / "schemas" / "train.schema.json").read_text())
    assert sorted(train["automl_default_parameters"]) == sorted(
        json.loads((REPO / "skills/tao-train-optical-inspection/schemas/train.schema.json").read_text())[
            "automl_default_parameters"
        ]
    )
    assert "evaluate.checkpoint" in " ".join(
        json.loads((out / "schemas" / "manifest.json").read_text())["actions"]["evaluate"]["required"]
    )
    shutil.rmtree(out)


def test_unloadable_config_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tao_skill.schema_gen",
            "--config",
            "nvidia_tao_core.config.clip.default_config:ExperimentConfig",
            "--out",
            str(tmp_path / "clip"),
            "--check",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "CLIPExperimentConfig" in result.stderr and "Traceback" not in result.stderr


def test_union_fields_get_bounds_on_numeric_branches_and_keep_options_as_annotation() -> None:
    @dataclass
    class Unions:
        lr: Union[float, list[float]] = field(default=1e-6, metadata={"valid_min": 0, "valid_max": "inf"})
        init: Union[bool, str] = field(default=True, metadata={"valid_options": "true,false,gaussian"})
        modules: Optional[list[str]] = field(default=None, metadata={"valid_options": "visual"})
        count: int | None = field(default=None, metadata={"valid_min": 0, "math_cond": "< 10"})

    out = schema_of(Unions)
    assert out["lr"]["anyOf"] == [
        {"type": "number", "minimum": 0},
        {"type": "array", "items": {"type": "number", "minimum": 0}},
    ]
    assert out["init"]["x-tao-valid-options"] == ["true", "false", "gaussian"] and "enum" not in str(out["init"])
    assert out["modules"]["type"] == ["array", "null"] and out["modules"]["items"]["enum"] == ["visual"]
    validator = Draft202012Validator(out["lr"])
    assert validator.is_valid([0.1, 0.2]) and not validator.is_valid(-1.0) and not validator.is_valid([0.1, -2.0])
    assert Draft202012Validator(out["init"]).is_valid("pissa_niter_4")
    assert out["count"]["type"] == ["integer", "null"] and out["count"]["minimum"] == 0
    assert out["count"]["exclusiveMaximum"] == 10 and out["count"]["math_cond"] == "< 10"


def test_template_scalars_match_what_pyyaml_writes() -> None:
    from tao_skill.schema_gen.templates import _plain_scalar

    values = [None, True, False, 0, -7, 2**40, 0.5, 2.0, -3.25, 1e-6, 5e-4, 1e20, float("inf"), "TAO Toolkit"]
    values += ["yes", "No", "ON", "null", "model_best_{epoch:03d}", "x.y/z-1", "1abc", "Siamese_3", "a: b", "a #b"]
    for value in values:
        expected = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()
        fast = _plain_scalar(value)
        assert fast is None or fast == expected, value
        assert yaml.safe_load(render_scalar(value)) == (None if value == float("inf") else value)


def test_tao_style_config_without_actions_table_gets_one_schema_per_task_section() -> None:
    from tao_skill.schema_gen.actions import derived_actions

    @dataclass
    class TaskTrain:
        epochs: int = field(default=3, metadata={"valid_min": 1})
        pretrained: str = field(default="???")

    @dataclass
    class TaskExport:
        onnx_file: str = field(default="???")

    @dataclass
    class ModelSection:
        depth: int = 2

    @dataclass
    class TaoStyle:
        model: ModelSection = field(default_factory=ModelSection)
        train: TaskTrain = field(default_factory=TaskTrain)
        export: TaskExport = field(default_factory=TaskExport)
        results_dir: str = "/results"

    actions, common = derived_actions(build_tree(TaoStyle))
    assert [(a.name, a.sections, a.required, a.trains) for a in actions] == [
        ("train", ("model", "train"), ("train.pretrained",), True),
        ("export", ("model", "export"), ("export.onnx_file",), False),
    ]
    assert common == ("results_dir",)


def test_a_class_the_actions_table_does_not_describe_gets_derived_actions() -> None:
    artifacts = generate("optical_inspection.config:ModelConfig", "model-only")
    assert sorted(artifacts.files) == [
        "references/spec_template_experiment.yaml",
        "schemas/experiment.schema.json",
        "schemas/manifest.json",
    ]
    assert any("ACTIONS table names sections that ModelConfig does not have" in w for w in artifacts.warnings)
    document = json.loads(artifacts.files["schemas/experiment.schema.json"])
    assert Draft202012Validator(document).is_valid({"margin": 3.0})
    assert not Draft202012Validator(document).is_valid({"margin": 0.5})


def test_an_unwritable_out_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me\n")
    result = _run_generator(blocker, "0")
    assert result.returncode == 2 and "cannot write to" in result.stderr and "--out" in result.stderr
    assert "Traceback" not in result.stderr and blocker.read_text() == "keep me\n"


def test_writes_are_all_or_nothing_and_files_are_world_readable(tmp_path: Path) -> None:
    skill = tmp_path / "skill"
    assert _run_generator(skill, "0").returncode == 0
    schema_file = skill / "schemas" / "train.schema.json"
    assert schema_file.stat().st_mode & 0o777 == 0o644
    schema_file.write_text("{}\n")  # an older artifact that a failed run must leave as it is
    shutil.rmtree(skill / "references")
    (skill / "references").write_text("not a folder\n")
    result = _run_generator(skill, "0")
    assert result.returncode == 2 and "cannot write to" in result.stderr
    assert schema_file.read_text() == "{}\n"
    assert not list(skill.rglob("*.tmp"))


def test_contract_facts_go_into_the_schemas_as_annotations_and_rules() -> None:
    """What the runtime needs to know about a model is written by the generator, not coded in the runtime."""
    files = generate(OI_CONFIG, "tao-train-optical-inspection").files
    train = json.loads(files["schemas/train.schema.json"])
    export = json.loads(files["schemas/export.schema.json"])
    assert {r["name"] for r in train["x-rules"]} == {
        "num_input_matches_input_map",
        "train_batch_size",
        "interval_le_num_epochs",
    }
    assert [r["name"] for r in export["x-rules"]] == ["num_input_matches_input_map"]  # train-only rules left out
    assert train["properties"]["model"]["x-inherit"] is True
    assert train["properties"]["dataset"]["properties"]["input_map"]["x-inherit"] is True
    assert train["properties"]["model"]["properties"]["model_type"]["x-tao-extension-options"] == [
        "Siamese_Diff",
        "Siamese_Efficient",
    ]
    assert (
        "dataset.num_input * dataset.image_height"
        in export["properties"]["export"]["properties"]["input_height"]["x-derived"]
    )


def test_a_declared_source_shapes_a_tao_core_config() -> None:
    from tao_skill.schema_gen.source import SchemaSource

    source = SchemaSource(
        config="nvidia_tao_core.config.visual_changenet.default_config:ExperimentConfig",
        fixed={"task": "classify"},
        defaults={"dataset.classify.image_ext": ".png"},
        drop=["dataset.segment", "train.segment", "no.such.key"],
        actions=["train", "export"],
        annotations={"model": {"inherit": True}},
        rules=[
            {"name": "positive", "check": "train.num_epochs > 0", "path": "train.num_epochs"},
            {"name": "bad", "check": "__import__('os')", "path": "train.num_epochs"},
        ],
    )
    artifacts = generate(source.config, "vcn", source)
    assert sorted(artifacts.files) == [
        "references/spec_template_export.yaml",
        "references/spec_template_train.yaml",
        "schemas/export.schema.json",
        "schemas/manifest.json",
        "schemas/train.schema.json",
    ]
    train = json.loads(artifacts.files["schemas/train.schema.json"])
    assert train["properties"]["task"]["enum"] == ["classify"] and train["properties"]["task"]["default"] == "classify"
    assert "segment" not in train["properties"]["dataset"]["properties"]
    assert train["properties"]["dataset"]["properties"]["classify"]["properties"]["image_ext"]["default"] == ".png"
    assert train["properties"]["model"]["x-inherit"] is True
    assert [r["name"] for r in train["x-rules"]] == ["positive"]
    assert any("no.such.key" in w for w in artifacts.warnings) and any("rule bad" in w for w in artifacts.warnings)
    assert not Draft202012Validator(train).is_valid({"task": "segment"})
