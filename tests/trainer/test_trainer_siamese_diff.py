"""Siamese_Diff: registration-tolerant comparison, shapes for any layout, losses, ONNX export with one score output."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from optical_inspection.models import SiameseDiff, pair_loss, pair_scores, resolve_loss
from optical_inspection.models.siamese_diff import _outside, logit_to_score, score_to_probability
from optical_inspection.scoring import OnnxScorer
from optical_inspection.spec import load_spec
from optical_inspection.tasks.export import export_onnx


def _blobs(seed: int = 0) -> torch.Tensor:
    """A (1, 4, 24, 24) map with a few bright squares away from the border."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(1, 4, 24, 24)
    for _ in range(6):
        r, c = (int(v) for v in torch.randint(4, 16, (2,), generator=g))
        x[:, :, r : r + 3, c : c + 3] = torch.rand(4, 1, 1, generator=g) + 0.5
    return x


def test_outside_forgives_shifts_within_the_window_and_sees_new_material() -> None:
    golden = _blobs()
    shifted = torch.roll(golden, shifts=(2, -2), dims=(2, 3))  # within a 5x5 window (2 cells each way)
    assert _outside(shifted, golden, 5).abs().max() == 0
    assert _outside(golden, shifted, 5).abs().max() == 0
    assert _outside(shifted, golden, 1).abs().max() > 0  # no tolerance: the shift is a difference
    far = torch.roll(golden, shifts=(4, 0), dims=(2, 3))
    assert _outside(far, golden, 5).abs().max() > 0  # beyond the tolerance
    extra = golden.clone()
    extra[:, :, 20:22, 1:3] = 2.0  # material the golden image has nowhere near: seen comparing test to golden
    assert _outside(extra, golden, 5)[..., 20, 1].min() > 0
    line = torch.zeros(1, 1, 24, 24)
    line[..., 12, :] = 1.0  # a thin trace of the golden image, missing from the test image (an open):
    missing = torch.zeros_like(line)  # the test image lies inside the golden range there; only the other way sees it
    assert _outside(missing, line, 5).max() == 0 and _outside(line, missing, 5)[..., 12, :].min() == 1


@pytest.mark.parametrize(("h", "w", "rows", "cols"), [(64, 64, 1, 1), (30, 34, 4, 1), (16, 16, 2, 2)])
def test_any_tile_size_and_light_layout_gives_one_logit_per_pair(h: int, w: int, rows: int, cols: int) -> None:
    torch.manual_seed(0)
    model = SiameseDiff(h, w, rows=rows, cols=cols, width=8, tolerance=4).eval()
    x = torch.randn(3, 3, rows * h, cols * w)
    with torch.no_grad():
        same, other = model(x, x), model(x, torch.randn_like(x))
    assert same.shape == (3,) and other.shape == (3,)
    assert model.window1 == 5 and model.window2 == 3
    assert SiameseDiff(h, w, rows=rows, cols=cols, tolerance=0).window1 == 1


def test_identical_images_compare_as_zero_difference() -> None:
    """The head sees only the difference maps, so identical inputs give the same logit whatever the image."""
    torch.manual_seed(1)
    model = SiameseDiff(32, 32, width=8).eval()
    a, b = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(a, a), model(b, b), atol=1e-5)


def test_scores_losses_and_their_rules() -> None:
    logit = torch.tensor([-30.0, 0.0, 30.0])
    scores, raw = pair_scores(logit)
    assert raw is logit.float() or torch.equal(raw, logit)
    assert scores[1].item() == pytest.approx(math.log(2.0)) and scores[0] > 0 and scores[2] == pytest.approx(30.0)
    assert score_to_probability(float(logit_to_score(torch.tensor(0.0)))) == pytest.approx(0.5)
    label = torch.tensor([0.0, 1.0, 1.0])
    bce = pair_loss("bce", scores, raw, label, 2.0)
    assert bce.item() == pytest.approx(torch.nn.functional.binary_cross_entropy_with_logits(logit, label).item())
    assert pair_loss("focal", scores, raw, label, 2.0) < bce  # confident right answers weigh less
    assert resolve_loss("Siamese_Diff", None) == "bce" and resolve_loss("Siamese_3", None) == "contrastive"
    assert resolve_loss("Siamese_Diff", "contrastive") == "contrastive"
    with pytest.raises(ValueError, match="needs a model that outputs a defect logit"):
        resolve_loss("Siamese_Efficient", "focal")
    with pytest.raises(ValueError, match="choose one of"):
        resolve_loss("Siamese_Diff", "hinge")


@pytest.mark.parametrize("batch_size", [-1, 3])
def test_onnx_export_has_one_score_output_matching_pytorch(tmp_path: Path, batch_size: int) -> None:
    from optical_inspection.models.build import build_model

    cfg = load_spec(None, ["dataset.image_height=16", "dataset.image_width=20", "dataset.num_input=2",
                           "dataset.input_map={A: 0, B: 1}"])  # fmt: skip
    assert cfg.model.model_type == "Siamese_Diff"  # the default for new work
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    path = export_onnx(model, tmp_path / "m.onnx", (3, 32, 20), batch_size=batch_size, metadata={"threshold": 0.7})
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["input_1", "input_2"]
    assert [o.name for o in proto.graph.output] == ["score"]
    n = 5 if batch_size == -1 else batch_size
    x1, x2 = torch.randn(n, 3, 32, 20), torch.randn(n, 3, 32, 20)
    with torch.no_grad():
        expected = logit_to_score(model(x1, x2)).numpy()
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input_1": x1.numpy(), "input_2": x2.numpy()}
    )
    assert np.abs(got - expected).max() < 1e-4
    scorer = OnnxScorer(path)
    assert scorer.output == "score" and scorer.threshold == 0.7
    assert np.abs(scorer.distances(x1[:2], x2[:2]) - expected[:2]).max() < 1e-4
