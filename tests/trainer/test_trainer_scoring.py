"""Dataset scoring embeds each test image once and each distinct golden image once, with the distances of
scoring pair by pair: PyTorch (checkpoint models and TAO's networks) and ONNX Runtime (dynamic and fixed batch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from optical_inspection.data import build_dataloader, build_dataset
from optical_inspection.models import Siamese3, SiameseEfficient
from optical_inspection.scoring import OnnxScorer, Scorer, TorchScorer, score_dataset
from optical_inspection.spec import build_config
from optical_inspection.tasks.export import export_onnx

from .conftest import tiny_spec


class CountingScorer(Scorer):
    """Wraps a real scorer and counts the images it embeds (the real network still runs)."""

    def __init__(self, inner: Scorer) -> None:
        super().__init__(inner.path, inner.threshold, inner.margin, inner.info, inner.kind)
        self.inner, self.images = inner, 0

    def embed(self, images):  # type: ignore[no-untyped-def]
        self.images += len(images)
        return self.inner.embed(images)

    def embed_pair(self, first, second):  # type: ignore[no-untyped-def]
        return self.inner.embed_pair(first, second)


def _torch_scorer(model: torch.nn.Module, folder: Path, cfg) -> TorchScorer:
    """A real TorchScorer over a plain state-dict file of ``model``."""
    path = folder / f"{type(model).__name__}.pth"
    torch.save(model.state_dict(), path)
    return TorchScorer(path, cfg)


def _pairwise(scorer: Scorer, cfg, batch: int) -> np.ndarray:
    loader = build_dataloader(cfg, "test", train=False, batch_size=batch, workers=0)
    return np.concatenate([scorer.distances(test, golden) for test, golden, _, _ in loader])


def _cfg(data: Path, results: Path, kind: str = "Siamese_Efficient"):
    return build_config(tiny_spec(data, results, model={"model_type": kind}))


def _model(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = SiameseEfficient(32, 32, rows=4, cols=1) if kind == "Siamese_Efficient" else Siamese3(128, 32, 5)
    with torch.no_grad():  # non-trivial running statistics, as after training
        model.train()(torch.randn(4, 3, 128, 32), torch.randn(4, 3, 128, 32))
    return model.eval()


@pytest.mark.parametrize("kind", ["Siamese_Efficient", "Siamese_3"])
def test_shared_goldens_give_the_pairwise_distances_with_fewer_images(tiny_data: Path, tmp_path: Path, kind) -> None:
    cfg = _cfg(tiny_data, tmp_path, kind)
    dataset = build_dataset(cfg, "test", train=False)
    n, distinct = len(dataset), len(dataset.golden_groups()[0])
    assert distinct < n  # the synthetic boards share their golden images

    scorer = CountingScorer(_torch_scorer(_model(kind), tmp_path, cfg))
    scores, labels, rows = score_dataset(scorer, dataset, batch_size=5)  # odd sizes: uneven last batches
    assert scorer.images == n + distinct
    assert np.array_equal(rows, np.arange(n)) and np.array_equal(labels, dataset.table.labels.astype(np.float32))
    np.testing.assert_allclose(scores, _pairwise(scorer.inner, cfg, 8), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_size", [-1, 4])
def test_onnx_scoring_matches_pytorch_with_dynamic_and_fixed_batch(tiny_data: Path, tmp_path: Path, batch_size) -> None:
    cfg = _cfg(tiny_data, tmp_path)
    model = _model("Siamese_Efficient")
    torch_scorer = _torch_scorer(model, tmp_path, cfg)
    path = export_onnx(model, tmp_path / "m.onnx", (3, 128, 32), batch_size=batch_size)
    dataset = build_dataset(cfg, "test", train=False)
    onnx_scores, _, _ = score_dataset(OnnxScorer(path), dataset, batch_size=3)
    torch_scores, _, _ = score_dataset(torch_scorer, dataset, batch_size=8)
    assert np.abs(onnx_scores - torch_scores).max() < 1e-4
    # an odd number of images through the two network inputs, fixed batch padded
    images = next(iter(build_dataloader(cfg, "test", train=False, batch_size=7, workers=0)))[0]
    assert np.abs(OnnxScorer(path).embed(images) - torch_scorer.embed(images)).max() < 1e-4
