"""Data loader throughput at TAO's defaults (4 lights of 128x128, batch 32) on a synthetic dataset.

Measured in one run, side by side: a naive loader that decodes every image every time (TAO's behaviour), our
loader's first epoch (cold: empty tile cache, worker start-up included) and its second and third epochs (cached), with
0 and 2 worker processes; and the training loader (weighted sampler with replacement) in its second and third epochs.
With workers and the shared cache, epochs after the first are built in the main process (see ``PairLoader``); the
second epoch also pays for mapping the shared pages the workers wrote (and, for the training loader, for decoding the
tiles its first epoch's draws missed). The target compares the faster cached epoch with the naive loader measured
in the same run (TAO's way on this machine): at least 5x;
TAO's ~150 pairs/s, measured on another machine, is shown for reference. Wall-clock rates depend on what else runs
on the machine; with workers=0 the rates per CPU second of this process are also reported, which do not.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks._table import Row

GROUP = "loader"
PAIRS = 400
BATCH = 32
TAO_PAIRS_PER_S = 150.0
TARGET_X = 5.0


def _config(result, batch: int):
    from optical_inspection.config import ExperimentConfig

    cfg = ExperimentConfig()
    cfg.dataset.train_dataset.csv_path = str(result.csv_path)
    cfg.dataset.train_dataset.images_dir = str(result.images_dir)
    cfg.dataset.batch_size = batch
    return cfg


def _epoch(loader) -> float:
    """Pairs per (wall-clock) second of one pass."""
    return _epoch_rates(loader)[0]


def _epoch_rates(loader) -> tuple[float, float]:
    """Pairs per wall-clock second and per CPU second of this process (all its threads) for one pass."""
    started, cpu = time.perf_counter(), time.process_time()
    pairs = sum(batch[0].shape[0] for batch in loader)
    return pairs / (time.perf_counter() - started), pairs / max(time.process_time() - cpu, 1e-9)


def run() -> list[Row]:
    from optical_inspection.data import build_dataloader, build_dataset
    from optical_inspection.tools.synth import generate

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        started = time.perf_counter()
        result = generate(Path(tmp) / "ds", pairs=PAIRS, image_size=128, seed=0)
        synth_s = time.perf_counter() - started
        rows.append(Row(GROUP, f"synth.generate {PAIRS} pairs x 4 lights 128x128", PAIRS / synth_s, "pairs/s"))
        cfg = _config(result, BATCH)
        tao = f"TAO ~{TAO_PAIRS_PER_S:.0f} pairs/s"
        dataset = build_dataset(cfg, "train", train=False, cache="shared")
        started = time.perf_counter()
        dataset.preload()
        preload = PAIRS / (time.perf_counter() - started)
        rows.append(
            Row(GROUP, "preload into shared cache (decode threads)", preload, "pairs/s", tao, preload / TAO_PAIRS_PER_S)
        )
        del dataset
        for workers in (0, 2):
            naive_loader = build_dataloader(cfg, "train", train=False, workers=workers, cache="none")
            _epoch(naive_loader)  # start workers and warm the OS file cache: the naive loader's best case
            naive, naive_cpu = _epoch_rates(naive_loader)
            del naive_loader
            loader = build_dataloader(cfg, "train", train=False, workers=workers, cache="auto")
            cold = _epoch(loader)
            second, second_cpu = _epoch_rates(loader)
            third, third_cpu = _epoch_rates(loader)
            cached, cached_cpu = max(second, third), max(second_cpu, third_cpu)
            kind = loader.dataset.cache.kind
            del loader
            train_loader = build_dataloader(cfg, "train", train=True, workers=workers, cache="auto", seed=0)
            _epoch(train_loader)
            train_second = _epoch(train_loader)
            train_cached = max(train_second, _epoch(train_loader))
            del train_loader
            w = f"workers={workers}"
            if workers == 0:  # robust to other processes competing for the cores: CPU time of this process
                rows += [
                    Row(GROUP, f"naive, per CPU second, {w}", naive_cpu, "pairs/CPU-s"),
                    Row(
                        GROUP,
                        f"cached, per CPU second, {w}",
                        cached_cpu,
                        "pairs/CPU-s",
                        "naive",
                        cached_cpu / naive_cpu,
                    ),
                ]
            rows += [
                Row(GROUP, f"naive, decode every time, {w}", naive, "pairs/s", tao, naive / TAO_PAIRS_PER_S),
                Row(GROUP, f"cold epoch 1 ({kind} cache), {w}", cold, "pairs/s", "naive", cold / naive),
                Row(GROUP, f"cached epoch 2 ({kind} cache), {w}", second, "pairs/s", "cold", second / cold),
                Row(
                    GROUP,
                    f"cached (faster of epochs 2, 3) vs naive (TAO's way, re-implemented), {w}",
                    cached,
                    "pairs/s",
                    "naive",
                    cached / naive,
                    f">= {TARGET_X:.0f}x",
                    cached / naive >= TARGET_X,
                ),
                Row(GROUP, f"cached vs TAO stated, {w}", cached, "pairs/s", tao, cached / TAO_PAIRS_PER_S),
                Row(
                    GROUP,
                    f"train loader (weighted sampler) epoch 2, {w}",
                    train_second,
                    "pairs/s",
                    tao,
                    train_second / TAO_PAIRS_PER_S,
                ),
                Row(
                    GROUP,
                    f"train loader (weighted sampler), faster of epochs 2, 3, {w}",
                    train_cached,
                    "pairs/s",
                    tao,
                    train_cached / TAO_PAIRS_PER_S,
                ),
            ]
    return rows
