"""Training sampler weights, class checks, batch-size rule, and real worker processes."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from optical_inspection.data import DatasetError, build_dataloader, read_dataset_csv, sampler_weights


def _csv(tmp_path: Path, labels: list[str]) -> Path:
    path = tmp_path / "dataset.csv"
    rows = "".join(f"b1,golden/p,{label},C{i}\n" for i, label in enumerate(labels))
    path.write_text("input_path,golden_path,label,object_name\n" + rows)
    return path


def test_sampler_weights_follow_tao_formula(tmp_path: Path) -> None:
    table = read_dataset_csv(_csv(tmp_path, ["PASS"] * 8 + ["bridge", "missing"]))
    weights = sampler_weights(table, 0.1)
    np.testing.assert_allclose(weights, [1.0] * 8 + [(8 / 2) * 0.1] * 2)


def test_zero_defects_is_a_clear_error(tmp_path: Path) -> None:
    table = read_dataset_csv(_csv(tmp_path, ["PASS"] * 5))
    with pytest.raises(DatasetError, match="no defect rows.*division by zero"):
        sampler_weights(table, 0.1)
    with pytest.raises(DatasetError, match="no PASS rows"):
        sampler_weights(read_dataset_csv(_csv(tmp_path, ["bad"] * 3)), 0.1)


def test_training_loader_rules(small_synth, make_cfg) -> None:
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg", batch_size=1)
    with pytest.raises(DatasetError, match="batch size must be > 1"):
        build_dataloader(cfg, "train", train=True)
    loader = build_dataloader(cfg, "validation", train=False)  # batch 1 is fine outside training
    assert loader.batch_size == 1 and not loader.drop_last
    with pytest.raises(DatasetError, match="fewer than the batch size 32"):
        build_dataloader(cfg, "train", train=True, batch_size=32)


def test_training_loader_samples_weighted_with_replacement_and_seed(small_synth, make_cfg) -> None:
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg", batch_size=5)
    cfg.dataset.fpratio_sampling = 1.0
    loader = build_dataloader(cfg, "train", train=True, seed=7)
    assert loader.drop_last and isinstance(loader.sampler, torch.utils.data.WeightedRandomSampler)
    assert loader.sampler.num_samples == 24 and loader.sampler.replacement
    batches = list(loader)
    assert len(batches) == 4  # 24 // 5, last partial batch dropped
    order = [i for b in batches for i in b[3].tolist()]
    again = [i for b in build_dataloader(cfg, "train", train=True, seed=7) for i in b[3].tolist()]
    assert order == again
    # fpratio 1.0 balances classes: the defect share of many draws is ~50% although the CSV has 25%
    draws = torch.tensor(list(iter(loader.sampler)) + [i for _ in range(200) for i in loader.sampler])
    labels = torch.as_tensor(loader.dataset.table.labels)[draws].float()
    assert 0.4 < float(labels.mean()) < 0.6


def test_eval_loader_keeps_csv_order(small_synth, make_cfg) -> None:
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg", batch_size=7)
    indices = [i for batch in build_dataloader(cfg, "test", train=False) for i in batch[3].tolist()]
    assert indices == list(range(24))


def test_two_worker_processes_load_and_share_the_tile_cache(small_synth, make_cfg) -> None:
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg", batch_size=4)
    loader = build_dataloader(cfg, "test", train=False, workers=2)
    assert loader.num_workers == 2 and loader.persistent_workers
    first = [batch for batch in loader]
    assert loader.dataset.defer_normalisation  # workers sent uint8; the loader normalised on arrival
    cache = loader.dataset.cache
    assert cache.kind == "shared"
    assert cache.filled == len(loader.dataset.paths)  # filled by the workers, visible in this process
    second = [batch for batch in loader]
    assert not loader.dataset.defer_normalisation  # cache complete: the second epoch was built in this process
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and torch.equal(a[3], b[3])
    reference = build_dataloader(cfg, "test", train=False, workers=0, cache="none")
    for a, b in zip(first, reference, strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])
    assert first[0][0].shape == (4, 3, 128, 32) and first[0][2].dtype == torch.float32
    del loader  # stop the persistent workers now, before other tests fork theirs
    gc.collect()


def test_training_loader_with_workers_goes_in_process_after_the_first_epoch(small_synth, make_cfg) -> None:
    """Epoch 1 through 2 worker processes (the sampler's draws leave tiles undecoded); epoch 2 decodes the rest on
    threads and is built in this process; both give exactly the batches of a loader without workers."""
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg", batch_size=4)
    loader = build_dataloader(cfg, "train", train=True, workers=2, seed=11)
    reference = build_dataloader(cfg, "train", train=True, workers=0, seed=11, cache="none")
    cache = loader.dataset.cache
    try:
        for epoch in (1, 2):
            batches, expected = list(loader), list(reference)
            if epoch == 1:
                assert loader.dataset.defer_normalisation and cache.filled < len(loader.dataset.paths)
            else:
                assert cache.complete and not loader.dataset.defer_normalisation
            assert len(batches) == len(expected)
            for a, b in zip(batches, expected, strict=True):
                assert torch.equal(a[3], b[3]) and torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    finally:
        del loader
        gc.collect()


def test_plain_torch_dataloader_with_default_collate(small_synth, make_cfg) -> None:
    """PairDataset.__getitems__ batches; torch's default collate must still give the same batch."""
    from optical_inspection.data import build_dataset

    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg")
    dataset = build_dataset(cfg, "test", train=False)
    plain = next(iter(torch.utils.data.DataLoader(dataset, batch_size=6)))
    ours = next(iter(build_dataloader(cfg, "test", train=False, batch_size=6)))
    for a, b in zip(plain, ours, strict=True):
        assert torch.equal(a, b)
    assert plain[3].tolist() == list(range(6))


def test_augmented_training_batches(small_synth, make_cfg) -> None:
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg", batch_size=4)
    cfg.dataset.augmentation_config.augment = True
    plain_cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg", batch_size=4)
    augmented = next(iter(build_dataloader(cfg, "train", train=True, seed=3)))
    plain = next(iter(build_dataloader(plain_cfg, "train", train=True, seed=3)))
    assert augmented[3].tolist() == plain[3].tolist()  # same sampler draw
    assert augmented[0].shape == plain[0].shape == (4, 3, 128, 32)
    assert torch.isfinite(augmented[0]).all() and not torch.equal(augmented[0], plain[0])
    evaluation = next(iter(build_dataloader(cfg, "validation", train=False, batch_size=4)))
    reference = next(iter(build_dataloader(plain_cfg, "validation", train=False, batch_size=4)))
    assert torch.equal(evaluation[0], reference[0])  # augmentation only when training


def test_infer_split_accepts_csv_without_label(tmp_path: Path, small_synth, make_cfg) -> None:
    rows = small_synth.csv_path.read_text().splitlines()
    header = rows[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "label"]
    text = "\n".join(",".join(line.split(",")[i] for i in keep) for line in rows) + "\n"
    (tmp_path / "infer.csv").write_text(text)
    cfg = make_cfg(small_synth.csv_path, small_synth.images_dir, image_ext=".jpg")
    cfg.dataset.infer_dataset.csv_path = str(tmp_path / "infer.csv")
    batch = next(iter(build_dataloader(cfg, "infer", train=False, batch_size=3)))
    assert batch[0].shape == (3, 3, 128, 32) and batch[2].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(DatasetError, match="missing column\\(s\\) label"):
        cfg.dataset.test_dataset.csv_path = str(tmp_path / "infer.csv")
        build_dataloader(cfg, "test", train=False)


def test_broken_image_in_a_worker_gives_a_clean_message(tmp_path: Path, small_synth, make_cfg) -> None:
    import shutil

    images = tmp_path / "images"
    shutil.copytree(small_synth.images_dir, images)
    row = small_synth.csv_path.read_text().splitlines()[3].split(",")  # CSV row 4
    broken = images / row[0] / f"{row[3]}_SolderLight.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    cfg = make_cfg(small_synth.csv_path, images, image_ext=".jpg", batch_size=12)
    loader = build_dataloader(cfg, "test", train=False, workers=2)
    try:
        list(loader)
    except DatasetError as exc:
        message = str(exc)  # the exception (and its traceback holding the workers) is released after this block
    else:
        pytest.fail("a broken image must raise DatasetError")
    started = time.perf_counter()
    del loader
    assert time.perf_counter() - started < 3.0  # workers shut down promptly after the error
    assert message.startswith(f"{small_synth.csv_path} row 4, column input_path: image unreadable")
    assert str(broken) in message and "Traceback" not in message
