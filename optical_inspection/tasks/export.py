"""``export``: a ``.pth`` checkpoint to ONNX with TAO's bindings.

Inputs ``input_1``/``input_2`` (B, 3, input_height, input_width), the test and the golden image. Outputs: for the
embedding networks (TAO's ``Siamese``/``Siamese_3``, ``Siamese_Efficient``) ``output_1``/``output_2``, the two
embeddings, as TAO Deploy expects (the pair score is their Euclidean distance); for ``Siamese_Diff`` one output
``score`` (B,), the pair score itself (``softplus`` of the defect logit), because the comparison happens inside the
network: TAO Deploy's Optical Inspection inference, which computes a distance from two embeddings, cannot run it;
this project's evaluate/inference (ONNX Runtime or TensorRT) can. Opset from the spec; a dynamic batch axis only
when ``export.batch_size`` is -1. Exporter: the TorchScript-based ``torch.onnx.export(..., dynamo=False)`` on
purpose: torch 2.13 defaults to the dynamo exporter, which needs ``onnxscript`` and is not needed for these plain
conv/linear graphs. Export always runs on the CPU (no CUDA needed, fixing TAO's broken on_cpu). The calibrated
threshold and margin travel in the model's metadata (``optical_inspection`` key, JSON), so evaluate/inference with
the ``.onnx`` use the same threshold.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from optical_inspection.errors import UserError
from optical_inspection.models.build import model_kwargs
from optical_inspection.models.siamese_diff import logit_to_score
from optical_inspection.scoring import EMBEDDING_OUTPUTS, ONNX_META_KEY, SCORE_OUTPUT, TorchScorer
from optical_inspection.status import STARTED, SUCCESS
from optical_inspection.tasks._common import prepare_results

__all__ = ["run", "export_onnx"]

_log = logging.getLogger(__name__)


class _Wrapper(torch.nn.Module):
    """The exported graph: the model's two embeddings, or the pair score of a logit model."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_1: torch.Tensor, input_2: torch.Tensor) -> Any:
        out = self.model(input_1, input_2)
        return logit_to_score(out) if isinstance(out, torch.Tensor) else out


def output_names(model: torch.nn.Module) -> list[str]:
    """ONNX output names of ``model``: one pair score for a logit model, else the two embeddings."""
    return [SCORE_OUTPUT] if getattr(model, "output", None) == "logit" else list(EMBEDDING_OUTPUTS)


def export_onnx(
    model: torch.nn.Module,
    path: Path,
    input_shape: tuple[int, int, int],
    *,
    opset: int = 17,
    batch_size: int = -1,
    constant_folding: bool = False,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` as ONNX (atomically) and check it with ``onnx.checker``."""
    import onnx

    model = model.eval().cpu()
    batch = 2 if batch_size == -1 else int(batch_size)
    dummy = (torch.randn(batch, *input_shape), torch.randn(batch, *input_shape))
    outputs = output_names(model)
    dynamic = None
    if batch_size == -1:
        dynamic = {name: {0: "batch"} for name in ("input_1", "input_2", *outputs)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Wrapper(model).eval(),
                dummy,
                str(tmp),
                input_names=["input_1", "input_2"],
                output_names=outputs,
                dynamic_axes=dynamic,
                opset_version=int(opset),
                do_constant_folding=bool(constant_folding),
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        if metadata:
            entry = proto.metadata_props.add()
            entry.key, entry.value = ONNX_META_KEY, json.dumps(metadata)
            onnx.save(proto, str(tmp))
        onnx.checker.check_model(str(tmp))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def run(cfg: Any) -> int:
    from optical_inspection.data import input_shape

    xcfg = cfg.export
    results, status = prepare_results(cfg, "export")
    status.write(STARTED, "Starting export")
    if not xcfg.checkpoint:
        raise UserError("export.checkpoint is not set; give the .pth checkpoint to export.")
    shape = input_shape(cfg)
    expected = (int(xcfg.input_channel), int(xcfg.input_height), int(xcfg.input_width))
    if expected != shape:
        raise UserError(
            f"export.input_channel/input_height/input_width are {expected[0]}x{expected[1]}x{expected[2]} but the "
            f"dataset config gives model inputs of {shape[0]}x{shape[1]}x{shape[2]} ({cfg.dataset.num_input} light(s) "
            f"of {cfg.dataset.image_height}x{cfg.dataset.image_width}, concat {cfg.dataset.concat_type}). Set "
            f"export.input_height={shape[1]} export.input_width={shape[2]}."
        )
    if int(xcfg.batch_size) == 0 or int(xcfg.batch_size) < -1:
        raise UserError(f"export.batch_size is {xcfg.batch_size}; use -1 (dynamic) or a positive batch size.")
    scorer = TorchScorer(Path(xcfg.checkpoint), cfg)
    onnx_file = Path(xcfg.onnx_file) if xcfg.onnx_file else results / "model.onnx"
    onnx_file.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "threshold": scorer.threshold,
        "margin": scorer.margin,
        "calibration": scorer.info.get("calibration"),
        "model": model_kwargs(cfg),
        "checkpoint": str(xcfg.checkpoint),
    }
    export_onnx(
        scorer.model,
        onnx_file,
        shape,
        opset=int(xcfg.opset_version),
        batch_size=int(xcfg.batch_size),
        constant_folding=bool(xcfg.do_constant_folding),
        metadata=meta,
    )
    status.write(
        SUCCESS, f"Exported {onnx_file} (opset {xcfg.opset_version}, batch {xcfg.batch_size})", onnx_file=str(onnx_file)
    )
    print(f"Wrote {onnx_file}")
    return 0
