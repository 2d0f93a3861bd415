"""Fixtures of the evals checker: a scratch work folder and job store, tiny synthetic datasets made by the trainer's
CLI (``optical_inspection synth``), and finished parent jobs laid out as a skill's contract says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Fixtures", "make_fixtures"]

_DATA_DIR = re.compile(r"^(?:\./)?data/([A-Za-z0-9_-]+)/?$")


@dataclass
class Fixtures:
    """A scratch work folder (commands run in it) and home (job store), plus the placeholder -> job id map."""

    workdir: Path
    home: Path
    jobs: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["TAO_SKILL_HOME"] = str(self.home)
        repo = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        for secret in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "TAO_ENCRYPTION_KEY"):
            env.pop(secret, None)
        return env

    def substitute(self, argv: list[str]) -> list[str]:
        return [self.jobs.get(token, token) for token in argv]

    def ensure_data(self, argv: list[str]) -> None:
        """Generate a tiny synthetic split for every ``--data NAME=./data/X`` not made yet."""
        for token in argv:
            _, sep, location = token.partition("=")
            match = _DATA_DIR.match(location) if sep else None
            if match:
                _synth(self.workdir / "data" / match.group(1), seed=len(match.group(1)))


def _synth(folder: Path, seed: int) -> None:
    """A tiny synthetic split made by the trainer's CLI (``optical_inspection synth``)."""
    if (folder / "dataset.csv").is_file():
        return
    command = [
        sys.executable, "-m", "optical_inspection", "synth", str(folder),
        "--pairs", "12", "--image-size", "16", "--seed", str(seed), "--defect-fraction", "0.25",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"optical_inspection synth failed (exit {out.returncode}): {out.stderr.strip()}")


def make_fixtures(root: str | Path, skill: str = "tao-train-optical-inspection") -> Fixtures:
    """Scratch folders and finished parent jobs (train, export, gen_trt_engine) for plan-mode checks, laid out as the
    skill's contract says: its checkpoint names, its ranking metric (epoch 2 is the best), its inherited keys."""
    from tao_skill import overrides as ov
    from tao_skill.skill import load_skill
    from tao_skill.store import JobStore
    from tao_skill.tao_compat import extension_options

    contract = load_skill(skill)
    runtime = contract.info.runtime
    root = Path(root)
    fx = Fixtures(workdir=root / "work", home=root / "home")
    fx.workdir.mkdir(parents=True, exist_ok=True)
    store = JobStore(fx.home)
    template = contract.template("train")
    spec: dict[str, Any] = {}
    for key in contract.inherited_keys("train"):
        if ov.get_dotted(template, key) not in (None, ov.MISSING):
            ov.set_dotted(spec, key, ov.get_dotted(template, key))
    for key, (_, others) in extension_options(contract.schema("train")).items():
        if others:  # a value TAO's container runs too, so the fixtures chain on either backend
            ov.set_dotted(spec, key, others[-1])

    train = store.create(skill=skill, action="train", spec=spec, state="done")
    folder = Path(train.results_dir) / runtime.checkpoints.folder
    folder.mkdir(parents=True)
    metric = runtime.ranking.metric if runtime.ranking else "val_acc"
    sign = -1.0 if runtime.ranking and runtime.ranking.mode == "min" else 1.0
    lines = []
    for epoch, value in ((0, 0.81), (1, 0.885), (2, 0.935), (3, 0.92)):
        name = runtime.checkpoints.pattern.format(epoch=f"{epoch:03d}", step=f"{(epoch + 1) * 6:05d}")
        (folder / name).write_bytes(b"fixture")
        lines.append(json.dumps({"status": "RUNNING", "epoch": epoch, "kpi": {metric: sign * value}}))
    (folder / "status.json").write_text("\n".join(lines) + "\n", encoding="utf-8")

    export = store.create(skill=skill, action="export", spec=spec, parent_id=train.id, state="done")
    Path(export.results_dir).mkdir(parents=True)
    (Path(export.results_dir) / runtime.artifacts.get("export", "model.onnx")).write_bytes(b"fixture")

    engine = store.create(skill=skill, action="gen_trt_engine", spec=spec, parent_id=export.id, state="done")
    Path(engine.results_dir).mkdir(parents=True)
    (Path(engine.results_dir) / runtime.artifacts.get("gen_trt_engine", "model.engine")).write_bytes(b"fixture")

    fx.jobs = {"JOB_ID": train.id, "TRAIN_JOB_ID": train.id, "EXPORT_JOB_ID": export.id, "ENGINE_JOB_ID": engine.id}
    return fx
