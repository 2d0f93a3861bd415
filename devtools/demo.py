"""``make demo``: synthetic PCB data -> train (the recipe for unseen designs) -> evaluate -> inference -> export.

Every step is a real ``tao-skill run`` (the CLI, in a subprocess) chained by job ids only; the data comes from the
trainer's own CLI (``optical_inspection synth``), so nothing here imports the trainer. Data goes to
``demo_workspace/`` next to the repository's ``skills/``; jobs to the job store your next ``tao-skill`` command
reads (``$TAO_SKILL_HOME``, default ``~/.tao-skill``), so ``tao-skill status <job id>`` finds them afterwards.
Progress (each stage, one line per epoch) is printed as it happens, also into a pipe. The expected time printed
at the start is the last run's on this machine (kept in the workspace) or, the first time, :data:`MEASURED`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tao_skill.home import skill_home

SKILL = "tao-train-optical-inspection"
REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("train", "evaluate", "inference", "export")
#: A whole default demo (data made, 4 jobs: 15 epochs of 1000 pairs with the unseen-design augmentation, 4 lights of
#: 64x64), measured with ``python -m devtools.demo``: (seconds, on what). Training is most of it; a machine busy with
#: other work takes several times as long.
MEASURED = (97, "97 s measured for a first run on 2 CPU cores, data generation included")
TIMINGS = "demo_timings.json"
#: The training recipe for boards of designs the training set does not show (held-out ROC-AUC 0.9996-1.000 on
#: synthetic designs, tests/trainer/test_trainer_quality.py; with the template's 6 epochs alone about 0.97-0.99).
UNSEEN_DESIGN_EPOCHS = 15
UNSEEN_DESIGN_AUGMENTATION = (
    "dataset.augmentation_config.augment=true",
    "dataset.augmentation_config.with_random_crop=false",
    "dataset.augmentation_config.with_random_blur=false",
    "dataset.augmentation_config.random_color.enable=false",
)


def _cli(*args: str) -> dict[str, Any]:
    """Run ``tao-skill ARGS --json`` and return its JSON; stop the demo with the CLI's message on failure. The CLI's
    stderr (``--wait``'s progress lines) goes straight through, so it is seen while the job runs."""
    command = [sys.executable, "-m", "tao_skill.cli", *args, "--json"]
    print("$ tao-skill " + " ".join(args), flush=True)
    out = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
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


def _expected(workspace: Path, key: str) -> str:
    """What the demo will take: the last run of the same settings here, else the measured reference."""
    try:
        last = json.loads((workspace / TIMINGS).read_text(encoding="utf-8"))[key]
        return f"about {max(last / 60, 1):.0f} min (the last run of these settings here took {last:.0f} s)"
    except (OSError, ValueError, KeyError, TypeError):
        seconds, where = MEASURED
        return f"about {max(seconds / 60, 1):.0f} min ({where})"


def _record_time(workspace: Path, key: str, seconds: float) -> None:
    path = workspace / TIMINGS
    try:
        timings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        timings = {}
    timings[key] = round(seconds, 1)
    path.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")


def _command_prefix() -> str:
    """How to type ``tao-skill`` in the shell that ran the demo: plain when it is on PATH (an activated venv), else
    the venv's path; with the TAO_SKILL_HOME= prefix when the demo's job store was chosen by that variable."""
    program = Path(sys.executable).parent / "tao-skill"
    found = shutil.which("tao-skill")
    name = "tao-skill" if found and Path(found).resolve() == program.resolve() else str(_relative(program))
    home = os.environ.get("TAO_SKILL_HOME")
    return f"TAO_SKILL_HOME={home} {name}" if home else name


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO_ROOT / "demo_workspace")
    parser.add_argument("--epochs", type=int, default=None, help=f"default: {UNSEEN_DESIGN_EPOCHS}")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--until", choices=STAGES, default=STAGES[-1], help="stop after this stage")
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # every line when printed, also into a pipe
    started = time.monotonic()
    settings = f"{args.pairs}_{args.image_size}_{args.epochs or UNSEEN_DESIGN_EPOCHS}_{args.until}"
    args.workspace.mkdir(parents=True, exist_ok=True)
    print(f"Optical Inspection demo: synthetic data -> {' -> '.join(STAGES[: STAGES.index(args.until) + 1])}")
    print(f"expected time: {_expected(args.workspace, settings)}")
    print(f"jobs are recorded in {skill_home()} (where tao-skill looks)\n")

    print("[data] synthetic PCB pairs (kept between runs)")
    train_data = _dataset(args.workspace, "train", args.pairs, 0, args.image_size)
    # Three board designs: train, validation (threshold calibration) and a held-out test set nothing was tuned on.
    val_data = _dataset(args.workspace, "val", max(args.pairs // 5, 48), 1, args.image_size)
    test_data = _dataset(args.workspace, "test", max(args.pairs // 2, 48), 2, args.image_size)
    shape = [f"image_width={args.image_size}", f"image_height={args.image_size}", "dataset.workers=0"]
    # the held-out test boards are of a design training never saw: the recipe for that (references/
    # training-recipes.md): pair-consistent flips/rotations, test-image shifts and drift, and 15 epochs for a set a
    # tenth of the size the template's 6 epochs are sized for; everything else is the spec template's
    recipe = [f"num_epochs={args.epochs or UNSEEN_DESIGN_EPOCHS}", *UNSEEN_DESIGN_AUGMENTATION]

    print("\n[train] the default model, trained with the recipe for unseen designs (one line per epoch)")
    train = _check(_cli(
        "run", SKILL, "train", "--request", "plain training, no AutoML", "--data", f"train_datasets={train_data}",
        "--data", f"eval_dataset={val_data}", *recipe, *shape, "--wait",
    ))  # fmt: skip
    jobs = {"train": train}
    for stage in STAGES[1 : STAGES.index(args.until) + 1]:
        print(f"\n[{stage}] from the train job's best checkpoint")
        data = {"evaluate": ["--data", f"eval_dataset={test_data}"], "inference": [
            "--data", f"inference_dataset={test_data}"]}.get(stage, [])  # fmt: skip
        workers = ["dataset.workers=0"] if data else []
        jobs[stage] = _check(_cli("run", SKILL, stage, "--parent", train["id"], *data, *workers, "--wait"))
    seconds = time.monotonic() - started
    _record_time(args.workspace, settings, seconds)
    _summary(jobs, test_data)
    print(f"\ndone in {seconds:.0f} s.")
    _next_commands(jobs, test_data)
    return 0


def _summary(jobs: dict[str, dict[str, Any]], test_data: Path) -> None:
    """The numbers of the checkpoint the chained jobs used (the train job's best), then what each job left."""
    print("\n=== Optical Inspection demo ===")
    train = jobs["train"]
    best = _cli("checkpoints", train["id"])
    print(f"train     {train['id']}: {(train.get('progress') or {}).get('message', '')}")
    print(f"          best checkpoint: {best['chosen']['path']}\n          ({best['chosen']['reason']})")
    evaluate = jobs.get("evaluate")
    metrics_file = Path(evaluate["results_dir"]) / "evaluate" / "metrics.json" if evaluate else None
    if metrics_file is not None and metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        kpi = metrics.get("kpi") or {}
        print(f"evaluate  {evaluate['id']} on held-out boards, at threshold {metrics['threshold']:.4g} "
              f"({metrics.get('threshold_source', '')}):")  # fmt: skip
        for key, text in (
            ("roc_auc", "ROC-AUC"),
            ("defect_acc", "defects caught (%)"),
            ("false_alarm_rate", "false alarms (% of PASS pairs)"),
            ("test_fpr", "TAO's test_fpr (PASS pairs flagged, % of ALL pairs)"),
        ):
            if isinstance(kpi.get(key), (int, float)):
                print(f"          {text}: {kpi[key]:.4g}")
        print(f"          {metrics_file.parent} (metrics.json, ROC curve, score histogram, worst pairs)")
    if "inference" in jobs:
        print(f"inference {jobs['inference']['id']}: {Path(jobs['inference']['results_dir']) / 'inference'}")
    if "export" in jobs:
        print(f"export    {jobs['export']['id']}: {jobs['export']['spec']['export']['onnx_file']}")


def _next_commands(jobs: dict[str, dict[str, Any]], test_data: Path) -> None:
    """The three commands to type next, in the shell that ran the demo."""
    cli = _command_prefix()
    train = jobs["train"]["id"]
    print("\nNext, type:")
    print(f"  {cli} status {train}        # the training: best checkpoint, KPIs explained, training curve")
    print(f"  {cli} checkpoints {train}   # every checkpoint and why 'best' is the one chosen")
    parent = jobs.get("export", jobs["train"])["id"]
    print(
        f"  {cli} run {SKILL} inference --parent {parent} --data inference_dataset={_relative(test_data)} --wait"
        "   # score boards again" + (" with the exported ONNX model" if "export" in jobs else "")
    )
    if not cli.startswith("tao-skill"):
        print("(`source .venv/bin/activate` puts tao-skill on your PATH; see the README)")


if __name__ == "__main__":
    sys.exit(main())
