"""``make demo``: synthetic PCB data -> train (plain, the default model) -> evaluate -> inference -> export.

Every step is a real ``tao-skill run`` (the CLI, in a subprocess) chained by job ids only; the data comes from the
trainer's own CLI (``optical_inspection synth``), so nothing here imports the trainer. Data goes to
``demo_workspace/`` next to the repository's ``skills/``; jobs to ``$TAO_SKILL_HOME`` (default ``.tao_skill_home/``
in the same place, so the demo leaves your home folder alone). Budget: about 1-2 minutes of training on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SKILL = "tao-train-optical-inspection"
REPO_ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> dict[str, Any]:
    """Run ``tao-skill ARGS --json`` and return its JSON; stop the demo with the CLI's message on failure."""
    command = [sys.executable, "-m", "tao_skill.cli", *args, "--json"]
    print("$ tao-skill " + " ".join(args), flush=True)
    out = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
    if out.stderr.strip():
        print(out.stderr.rstrip(), file=sys.stderr)
    try:
        payload = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"tao-skill failed (exit {out.returncode}):\n{out.stdout}") from None
    if out.returncode == 1 and isinstance(payload, dict) and "id" in payload:
        return payload  # a job that ran and failed: _check shows its log
    if out.returncode != 0:
        raise SystemExit(f"tao-skill exited {out.returncode}: {json.dumps(payload, indent=2)}")
    return payload


def _check(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("state") != "done":
        log = subprocess.run(
            [sys.executable, "-m", "tao_skill.cli", "logs", job["id"], "--tail", "30"], capture_output=True, text=True
        ).stdout
        raise SystemExit(f"job {job['id']} ended {job.get('state')} (exit {job.get('exit_code')}):\n{log}")
    return job


def _synth_key() -> str:
    """Changes with the trainer's synthetic-data generator (its source files), so stale demo data is made again."""
    digest = hashlib.sha256()
    for name in ("synth.py", "_pcb_render.py"):
        digest.update((REPO_ROOT / "optical_inspection" / "tools" / name).read_bytes())
    return digest.hexdigest()[:10]


def _dataset(workspace: Path, name: str, pairs: int, seed: int, image_size: int) -> Path:
    """A packaged synthetic split made by ``optical_inspection synth`` (kept between runs)."""
    folder = workspace / f"{name}_{pairs}_{image_size}_{seed}_{_synth_key()}"
    if (folder / "dataset.csv").is_file() and (folder / "images.tar.gz").is_file():
        return folder
    command = [
        sys.executable, "-m", "optical_inspection", "synth", str(folder), "--pairs", str(pairs),
        "--defect-fraction", "0.2", "--seed", str(seed), "--image-size", str(image_size), "--package",
    ]  # fmt: skip
    if name == "train":
        command.append("--images-wrapper")
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"optical_inspection synth failed (exit {out.returncode}):\n{out.stderr}")
    print(f"generated {name}: {out.stdout.splitlines()[0] if out.stdout else folder} in {folder}")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO_ROOT / "demo_workspace")
    parser.add_argument("--epochs", type=int, default=None, help="default: the spec template's")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args(argv)
    os.environ.setdefault("TAO_SKILL_HOME", str(REPO_ROOT / ".tao_skill_home"))
    started = time.monotonic()

    train_data = _dataset(args.workspace, "train", args.pairs, 0, args.image_size)
    # Three board designs: train, validation (threshold calibration) and a held-out test set nothing was tuned on.
    val_data = _dataset(args.workspace, "val", max(args.pairs // 5, 48), 1, args.image_size)
    test_data = _dataset(args.workspace, "test", max(args.pairs // 2, 48), 2, args.image_size)
    shape = [f"image_width={args.image_size}", f"image_height={args.image_size}", "dataset.workers=0"]
    recipe = [f"num_epochs={args.epochs}"] if args.epochs else []  # everything else: the spec template's defaults

    train = _check(_cli(
        "run", SKILL, "train", "--request", "plain training, no AutoML", "--data", f"train_datasets={train_data}",
        "--data", f"eval_dataset={val_data}", *recipe, *shape, "--wait",
    ))  # fmt: skip
    best = _cli("checkpoints", train["id"])
    evaluate = _check(
        _cli(
            "run",
            SKILL,
            "evaluate",
            "--parent",
            train["id"],
            "--data",
            f"eval_dataset={test_data}",
            "dataset.workers=0",
            "--wait",
        )
    )
    inference = _check(
        _cli(
            "run",
            SKILL,
            "inference",
            "--parent",
            train["id"],
            "--data",
            f"inference_dataset={test_data}",
            "dataset.workers=0",
            "--wait",
        )
    )
    export = _check(_cli("run", SKILL, "export", "--parent", train["id"], "--wait"))

    print("\n=== Optical Inspection demo ===")
    print(f"jobs home: {os.environ['TAO_SKILL_HOME']}")
    kpi = (train.get("progress") or {}).get("kpi") or {}
    print(f"train     {train['id']}: " + ", ".join(f"{k}={v:.4g}" for k, v in kpi.items() if isinstance(v, float)))
    print(f"          best checkpoint: {best['chosen']['path']}\n          ({best['chosen']['reason']})")
    metrics_file = Path(evaluate["results_dir"]) / "evaluate" / "metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        shown = metrics.get("kpi") if isinstance(metrics.get("kpi"), dict) else metrics
        numbers = {k: v for k, v in shown.items() if isinstance(v, (int, float))}
        print(f"evaluate  {evaluate['id']}: " + ", ".join(f"{k}={v:.4g}" for k, v in list(numbers.items())[:10]))
        if isinstance(metrics.get("threshold"), (int, float)):
            print(f"          threshold {metrics['threshold']:.4g} ({metrics.get('threshold_source', '')})")
        print(f"          {metrics_file.parent} (metrics.json, ROC curve, score histogram)")
    print(f"inference {inference['id']}: {Path(inference['results_dir']) / 'inference' / 'inference.csv'}")
    print(f"export    {export['id']}: {export['spec']['export']['onnx_file']}")
    print(f"done in {time.monotonic() - started:.0f} s. Follow any job with: tao-skill status <job id>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
