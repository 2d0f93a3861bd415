"""Models: TAO's state-dict layout both ways, one batched pass == TAO's two passes (eval), the efficient model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from optical_inspection.checkpoint import extract_state_dict, load_checkpoint, load_weights
from optical_inspection.errors import UserError
from optical_inspection.models import Siamese, Siamese3, SiameseEfficient, contrastive_loss, pair_distance
from optical_inspection.spec import load_spec
from optical_inspection.tasks.export import export_onnx


class _TaoReference(nn.Module):
    """TAO's network rebuilt here from its documented layer list (TAO-COMPAT section 3), run TAO's way: one
    forward per branch."""

    def __init__(self, flat: int, emb: int, siamese3: bool) -> None:
        super().__init__()
        tower: list[nn.Module] = []
        for c_in, c_out in ((3, 4), (4, 8), (8, 8)):
            tower += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3), nn.ReLU(), nn.BatchNorm2d(c_out)]
        self.cnn1 = nn.Sequential(*tower)
        if siamese3:
            head = [nn.Linear(flat, 512), nn.ReLU(), nn.BatchNorm1d(512), nn.Linear(512, 512), nn.ReLU()]
            head += [nn.BatchNorm1d(512), nn.Linear(512, emb)]
        else:
            head = [nn.Linear(flat, 500), nn.ReLU(), nn.Linear(500, 500), nn.ReLU(), nn.Linear(500, emb)]
        self.fc1 = nn.Sequential(*head)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(self.fc1(torch.flatten(self.cnn1(x), 1)) for x in (x1, x2))  # type: ignore[return-value]


SIAMESE3_KEYS = {f"cnn1.{i}.{p}" for i in (1, 5, 9) for p in ("weight", "bias")} | {
    f"cnn1.{i}.{p}"
    for i in (3, 7, 11)
    for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
}


def _randomise_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)


@pytest.mark.parametrize(
    ("cls", "siamese3", "fc_keys"), [(Siamese3, True, {0, 2, 3, 5, 6}), (Siamese, False, {0, 2, 4})]
)
def test_tao_checkpoint_loads_and_matches_tao_outputs(
    tmp_path: Path, cls: type, siamese3: bool, fc_keys: set[int]
) -> None:
    torch.manual_seed(0)
    h, w = 4 * 8, 8  # 4 linear lights of 8x8
    ref = _TaoReference(8 * h * w, 5, siamese3)
    _randomise_bn(ref)
    # A TAO Lightning checkpoint: weights under state_dict with the "model." prefix.
    # TAO's Lightning checkpoint also holds its OmegaConf spec: allowed through a data-only allow-list.
    spec = OmegaConf.create(
        {"model": {"model_type": "Siamese_3" if siamese3 else "Siamese"}, "dataset": {"num_input": 4}}
    )
    tao_ckpt = {
        "state_dict": {f"model.{k}": v for k, v in ref.state_dict().items()},
        "epoch": 3,
        "global_step": 90,
        "hyper_parameters": {"experiment_spec": spec},
    }
    torch.save(tao_ckpt, tmp_path / "tao.pth")
    ours = cls(h, w, 5)
    assert set(ours.state_dict()) == set(ref.state_dict())
    assert {int(k.split(".")[1]) for k in ours.state_dict() if k.startswith("fc1.")} == fc_keys
    if siamese3:
        assert set(ours.state_dict()) >= SIAMESE3_KEYS
    load_weights(ours, extract_state_dict(load_checkpoint(tmp_path / "tao.pth")), "tao.pth")
    x1, x2 = torch.randn(3, 3, h, w), torch.randn(3, 3, h, w)
    ref.eval(), ours.eval()
    with torch.no_grad():
        for a, b in zip(ref(x1, x2), ours(x1, x2), strict=True):
            assert torch.allclose(a, b, atol=1e-5)
    # and ours loads into TAO's layout
    ref2 = _TaoReference(8 * h * w, 5, siamese3)
    ref2.load_state_dict(ours.state_dict(), strict=True)


def test_pretrained_shape_mismatch_lists_keys(tmp_path: Path) -> None:
    small = Siamese3(4 * 8, 8, 5)
    torch.save({"state_dict": {f"model.{k}": v for k, v in small.state_dict().items()}}, tmp_path / "small.pth")
    big = Siamese3(4 * 16, 16, 5)
    with pytest.raises(UserError) as info:
        load_weights(big, extract_state_dict(load_checkpoint(tmp_path / "small.pth")), "small.pth")
    message = str(info.value)
    assert "fc1.0.weight: checkpoint (512, 2048) vs model (512, 8192)" in message
    assert "dataset.image_height" in message


def test_unsafe_pickle_is_refused(tmp_path: Path) -> None:
    torch.save({"state_dict": {}, "payload": Path("x")}, tmp_path / "evil.pth")  # a non-tensor object
    with pytest.raises(UserError, match="weights_only"):
        load_checkpoint(tmp_path / "evil.pth")


def test_efficient_model_is_small_and_localisation_aware() -> None:
    torch.manual_seed(0)
    model = SiameseEfficient(64, 64, rows=4, cols=1).eval()
    tao = sum(p.numel() for p in Siamese3(4 * 128, 128, 5).parameters())
    ours = sum(p.numel() for p in model.parameters())
    assert ours < 500_000 and tao > 268_000_000
    x = torch.rand(2, 3, 256, 64)
    y = x.clone()
    y[:, :, 10:16, 40:46] += 2.0  # a local change in one corner of the first light
    e1, e2 = model(x, y)
    assert e1.shape == (2, 16 * 16)  # 16 channels per cell (max(embedding_vectors, 16)) on a 4x4 grid
    diff = (e1 - e2).abs().view(2, 16, 4, 4).sum(dim=(0, 1))
    region = diff[0:2, 2:4]  # the cells around the change move most (even untrained)
    assert region.max() == diff.max() and region.sum() > 0.4 * diff.sum()
    # lighting drift (gain/offset per light) does not move the embedding
    e3, _ = model(x * 1.2 + 0.1, x)
    assert torch.allclose(e1, e3, atol=1e-3)


def test_grid_concat_equals_linear_for_the_efficient_model() -> None:
    torch.manual_seed(0)
    lin = SiameseEfficient(16, 16, rows=4, cols=1).eval()
    grid = SiameseEfficient(16, 16, rows=2, cols=2).eval()
    grid.load_state_dict(lin.state_dict())
    tiles = torch.rand(2, 4, 3, 16, 16)
    linear_in = tiles.permute(0, 2, 1, 3, 4).reshape(2, 3, 64, 16)
    grid_in = tiles.view(2, 2, 2, 3, 16, 16).permute(0, 3, 1, 4, 2, 5).reshape(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(lin.forward_once(linear_in), grid.forward_once(grid_in), atol=1e-5)


def test_batched_pass_trains_like_two_passes_in_eval_and_loss_matches_definition() -> None:
    torch.manual_seed(0)
    d = torch.tensor([0.5, 3.0, 1.0])
    y = torch.tensor([0.0, 1.0, 1.0])
    expected = ((0.5**2) + 0.0 + (2.0 - 1.0) ** 2) / 3
    assert contrastive_loss(d, y, 2.0).item() == pytest.approx(expected)
    e1, e2 = torch.zeros(1, 2), torch.tensor([[3.0, 4.0]])
    assert pair_distance(e1, e2).item() == pytest.approx(5.0, abs=1e-4)


@pytest.mark.parametrize("model_type", ["Siamese_Efficient", "Siamese_3"])
@pytest.mark.parametrize("batch_size", [-1, 3])
def test_onnx_export_bindings_and_ort_parity(tmp_path: Path, model_type: str, batch_size: int) -> None:
    from optical_inspection.models.build import build_model

    cfg = load_spec(None, [f"model.model_type={model_type}", "dataset.image_height=16", "dataset.image_width=16"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    path = export_onnx(model, tmp_path / "m.onnx", (3, 64, 16), opset=17, batch_size=batch_size)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 17
    assert [i.name for i in proto.graph.input] == ["input_1", "input_2"]
    assert [o.name for o in proto.graph.output] == ["output_1", "output_2"]
    dim0 = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert (dim0.dim_param != "") == (batch_size == -1)
    if batch_size != -1:
        assert dim0.dim_value == batch_size
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    n = 5 if batch_size == -1 else batch_size
    x1, x2 = torch.randn(n, 3, 64, 16), torch.randn(n, 3, 64, 16)
    with torch.no_grad():
        t1, t2 = model(x1, x2)
    o1, o2 = session.run(None, {"input_1": x1.numpy(), "input_2": x2.numpy()})
    assert np.abs(o1 - t1.numpy()).max() < 1e-4 and np.abs(o2 - t2.numpy()).max() < 1e-4
