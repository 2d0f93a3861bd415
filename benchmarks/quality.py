"""``make bench-quality``: how well the models find defects, measured through the path a user takes.

For each dataset (DeepPCB's real crops, ``aligned`` and ``jitter``, from ``--data``; and a generated synthetic set)
and each model (the default model with the spec template's defaults; TAO's Siamese_3 architecture on the same data,
with fewer epochs when ``--siamese3-epochs`` says so), it runs the real CLI: ``tao-skill run ... train`` with the
data folders as data sources (``dataset.csv`` + ``images.tar.gz``), then ``tao-skill run ... evaluate --parent
<train> --checkpoint best`` on the validation set. Only the input layout (tile size, lights) is set on top of the
template; everything else is the template's. It prints one table and writes JSON (``--json``).

Columns: ROC-AUC and PR-AUC; the false-alarm rate (FP / (FP + TN)) at the highest threshold reaching 100%, 99.9% and
99% defect recall; at the DEFAULT threshold (the calibrated one stored in the checkpoint): the share of defects
caught and the false-alarm rate; training wall time (the trainer's fit, validation included), training pairs per
second and the trainer's peak memory. The validation set also calibrated the threshold and chose the "best"
checkpoint, so these are development figures; boards never seen are kept for independent checks.

``--smoke`` runs a small synthetic set with few epochs (what CI runs: the path works and the table is complete).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SKILL = "tao-train-optical-inspection"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "deeppcb"
#: DeepPCB crops: one 64x64 image per side, no light suffix.
DEEPPCB_LAYOUT = ("dataset.image_width=64", "dataset.image_height=64", "dataset.num_input=1", "dataset.input_map=null")


@dataclass
class Dataset:
    name: str
    train: Path
    val: Path
    layout: tuple[str, ...]
    pairs: int = 0


@dataclass
class Model:
    name: str
    overrides: tuple[str, ...] = ()
    note: str = ""


@dataclass
class Result:
    dataset: str
    model: str
    note: str
    roc_auc: float | None = None
    pr_auc: float | None = None
    far_at_100: float | None = None
    far_at_99_9: float | None = None
    far_at_99: float | None = None
    caught: float | None = None
    false_alarms: float | None = None
    threshold: float | None = None
    train_seconds: float | None = None
    pairs_per_second: float | None = None
    peak_rss_mib: float | None = None
    epochs: int | None = None
    jobs: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tao_skill.cli", *args, "--json"], capture_output=True, text=True, env=env, cwd=REPO
    )
    try:
        payload = json.loads(out.stdout)
    except json.JSONDecodeError:
        message = f"tao-skill {' '.join(args[:3])} failed (exit {out.returncode}): {out.stderr[-2000:]}"
        raise RuntimeError(message) from None
    if out.returncode not in (0, 1):
        raise RuntimeError(f"tao-skill {' '.join(args[:3])} exited {out.returncode}: {json.dumps(payload)[:2000]}")
    return payload


def _status_lines(results_dir: Path) -> list[dict[str, Any]]:
    path = results_dir / "status.json"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _count_rows(csv_path: Path) -> int:
    return max(0, sum(1 for _ in csv_path.open(encoding="utf-8")) - 1)


def run_one(dataset: Dataset, model: Model, env: dict[str, str]) -> Result:
    """Train ``model`` on ``dataset.train`` and evaluate its best checkpoint on ``dataset.val``."""
    result = Result(dataset.name, model.name, model.note)
    common = ["--data", f"eval_dataset={dataset.val}", *dataset.layout]
    train = _cli(
        env, "run", SKILL, "train", "--automl-policy", "off", "--data", f"train_datasets={dataset.train}",
        *common, *model.overrides, "--wait",
    )  # fmt: skip
    result.jobs["train"] = train.get("id", "")
    if train.get("state") != "done":
        result.error = f"train ended {train.get('state')}"
        return result
    train_dir = Path(train["results_dir"]) / "train"
    success = next((s for s in reversed(_status_lines(train_dir)) if s.get("status") == "SUCCESS"), {})
    result.train_seconds = success.get("train_seconds")
    result.pairs_per_second = success.get("pairs_per_second")
    result.peak_rss_mib = success.get("peak_rss_mib")
    result.epochs = success.get("max_epoch")
    evaluate = _cli(env, "run", SKILL, "evaluate", "--parent", train["id"], "--checkpoint", "best", *common, "--wait")
    result.jobs["evaluate"] = evaluate.get("id", "")
    metrics_file = Path(evaluate.get("results_dir", "")) / "evaluate" / "metrics.json"
    if evaluate.get("state") != "done" or not metrics_file.is_file():
        result.error = f"evaluate ended {evaluate.get('state')}"
        return result
    metrics = json.loads(metrics_file.read_text())
    kpi, points = metrics["kpi"], metrics["operating_points"]
    result.roc_auc, result.pr_auc = kpi.get("roc_auc"), kpi.get("pr_auc")
    result.far_at_100 = _fraction(points.get("recall_100", {}).get("false_alarm_rate"))
    result.far_at_99_9 = _fraction(points.get("recall_99.9", {}).get("false_alarm_rate"))
    result.far_at_99 = _fraction(points.get("recall_99", {}).get("false_alarm_rate"))
    result.caught = _fraction(kpi.get("defect_acc"))
    result.false_alarms = _fraction(kpi.get("false_alarm_rate"))
    result.threshold = metrics.get("threshold")
    return result


def _fraction(percent: float | None) -> float | None:
    return None if percent is None else float(percent) / 100.0


def _synthetic(workdir: Path, smoke: bool, env: dict[str, str]) -> Dataset:
    """A generated multi-light set (4 lights) of two different board designs for train and val."""
    size = 32 if smoke else 64
    sets = {}
    for name, pairs, seed in (("train", 96 if smoke else 1000, 0), ("val", 64 if smoke else 400, 1)):
        folder = workdir / f"synthetic_{name}_{pairs}_{size}"
        if not (folder / "images.tar.gz").is_file():
            subprocess.run(
                [sys.executable, "-m", "optical_inspection", "synth", str(folder), "--pairs", str(pairs), "--seed",
                 str(seed), "--image-size", str(size), "--package"],
                check=True, capture_output=True, env=env,
            )  # fmt: skip
        sets[name] = folder
    layout = (f"dataset.image_width={size}", f"dataset.image_height={size}")
    return Dataset("synthetic", sets["train"], sets["val"], layout, _count_rows(sets["train"] / "dataset.csv"))


def _models(args: argparse.Namespace) -> list[Model]:
    smoke = ("train.num_epochs=2",) if args.smoke else ()
    s3_epochs = 1 if args.smoke else args.siamese3_epochs
    return [
        Model("default (template)", smoke, "2 epochs (smoke)" if args.smoke else "template defaults"),
        Model(
            "Siamese_3 (TAO's network)",
            ("model.model_type=Siamese_3", f"train.num_epochs={s3_epochs}"),
            f"{s3_epochs} epoch(s), otherwise the template's defaults",
        ),
    ]


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "auc":
        return f"{value:.5f}"
    if kind == "pct":
        return f"{100 * value:.2f}%"
    if kind == "s":
        return f"{value:.0f}"
    return f"{value:.4g}"


def format_table(results: list[Result]) -> str:
    header = (
        "data", "model", "ROC-AUC", "PR-AUC", "FA@100%", "FA@99.9%", "FA@99%", "caught", "false alarms",
        "train s", "pairs/s", "peak MiB", "note",
    )  # fmt: skip
    rows = [
        (
            r.dataset, r.model, _fmt(r.roc_auc, "auc"), _fmt(r.pr_auc, "auc"), _fmt(r.far_at_100, "pct"),
            _fmt(r.far_at_99_9, "pct"), _fmt(r.far_at_99, "pct"), _fmt(r.caught, "pct"), _fmt(r.false_alarms, "pct"),
            _fmt(r.train_seconds, "s"), _fmt(r.pairs_per_second, "n"), _fmt(r.peak_rss_mib, "s"),
            r.error or r.note,
        )
        for r in results
    ]  # fmt: skip
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("OI_DEEPPCB", DEFAULT_DATA)))
    parser.add_argument("--variants", default="aligned,jitter", help="DeepPCB variants (comma-separated)")
    parser.add_argument("--no-synthetic", action="store_true", help="skip the synthetic dataset")
    parser.add_argument("--siamese3-epochs", type=int, default=2, help="epochs of the Siamese_3 rows")
    parser.add_argument("--models", default="", help="only models whose name contains one of these (comma list)")
    parser.add_argument("--smoke", action="store_true", help="small synthetic run only (CI)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="extra spec override for every run"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="jobs and generated data (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="oi_quality_"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TAO_SKILL_HOME=str(workdir / "home"), PYTHONUNBUFFERED="1")
    datasets: list[Dataset] = []
    if not args.smoke:
        for variant in [v for v in args.variants.split(",") if v]:
            train, val = args.data / variant / "train", args.data / variant / "val"
            if not (train / "dataset.csv").is_file():
                print(f"[quality] skipping DeepPCB {variant}: no {train}/dataset.csv (set --data)", file=sys.stderr)
                continue
            datasets.append(
                Dataset(f"DeepPCB {variant}", train, val, DEEPPCB_LAYOUT, _count_rows(train / "dataset.csv"))
            )
    if args.smoke or not args.no_synthetic:
        datasets.append(_synthetic(workdir, args.smoke, env))
    models = _models(args)
    if args.set:
        models = [Model(m.name, (*m.overrides, *args.set), f"{m.note}; {' '.join(args.set)}") for m in models]
    if args.models:
        wanted = [w.strip().lower() for w in args.models.split(",") if w.strip()]
        models = [m for m in models if any(w in m.name.lower() for w in wanted)]
    results = []
    for dataset in datasets:
        for model in models:
            started = time.perf_counter()
            print(f"[quality] {dataset.name} ({dataset.pairs} training pairs) / {model.name} ...", file=sys.stderr)
            try:
                result = run_one(dataset, model, env)
            except RuntimeError as exc:
                result = Result(dataset.name, model.name, model.note, error=str(exc).splitlines()[0][:200])
            print(f"[quality]   done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            results.append(result)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8")
    return 0 if results and all(r.error is None for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
