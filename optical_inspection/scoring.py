"""Model backends that turn (test, golden) batches into distances: a ``.pth`` checkpoint (PyTorch), an ``.onnx``
model (ONNX Runtime, CPUExecutionProvider) or a TensorRT ``.engine`` (needs the ``tensorrt`` package and a GPU).

Each backend also says what decision threshold its file carries (the calibrated one) and the margin it was trained
with, so that evaluate and inference can choose a threshold and say where it came from.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from optical_inspection.checkpoint import extract_state_dict, load_checkpoint, load_weights
from optical_inspection.errors import UserError
from optical_inspection.models.build import build_from_kwargs, build_model, model_kwargs
from optical_inspection.models.loss import pair_distance

__all__ = ["Scorer", "TorchScorer", "OnnxScorer", "TensorRTScorer", "open_scorer", "score_loader", "ONNX_META_KEY"]

ONNX_META_KEY = "optical_inspection"
_log = logging.getLogger(__name__)


@dataclass
class Scorer:
    """Base: ``distances(test, golden)`` on float32 (B, 3, H', W') arrays/tensors."""

    path: Path
    threshold: float | None = None
    margin: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    kind: str = ""

    def distances(self, test: torch.Tensor, golden: torch.Tensor) -> np.ndarray:
        raise NotImplementedError


class TorchScorer(Scorer):
    """A ``.pth`` checkpoint (ours, TAO's, or a plain state dict) run with PyTorch, GPU when present."""

    def __init__(self, path: Path, cfg: Any) -> None:
        data = load_checkpoint(path)
        hparams = data.get("hyper_parameters") if isinstance(data.get("hyper_parameters"), dict) else {}
        expected = model_kwargs(cfg)
        kwargs = hparams.get("model") if isinstance(hparams.get("model"), dict) else None
        if kwargs is not None:
            layout_keys = ("tile_height", "tile_width", "rows", "cols")
            if any(kwargs.get(k) != expected[k] for k in layout_keys):
                have = {k: kwargs.get(k) for k in layout_keys}
                want = {k: expected[k] for k in layout_keys}
                raise UserError(
                    f"Checkpoint {path} was trained on inputs {have} but the dataset config gives {want}; set "
                    "dataset.image_height/image_width, num_input/input_map and concat_type as in training."
                )
            model = build_from_kwargs(kwargs)
        else:
            model = build_model(cfg)
        load_weights(model, extract_state_dict(data), f"checkpoint {path}")
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.eval().to(self.device)
        threshold = data.get("threshold")
        margin = hparams.get("margin", cfg.model.margin)
        super().__init__(path, float(threshold) if threshold is not None else None, float(margin), {}, "pytorch")

    @torch.no_grad()
    def distances(self, test: torch.Tensor, golden: torch.Tensor) -> np.ndarray:
        emb1, emb2 = self.model(torch.as_tensor(test).to(self.device), torch.as_tensor(golden).to(self.device))
        return pair_distance(emb1, emb2).float().cpu().numpy()


class OnnxScorer(Scorer):
    """An exported ``.onnx`` (inputs input_1/input_2, outputs output_1/output_2) on ONNX Runtime's CPU provider."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise UserError(f"{path} is not a loadable ONNX model ({str(exc).splitlines()[0][:200]}).") from None
        names = [i.name for i in self.session.get_inputs()]
        if names[:2] != ["input_1", "input_2"]:
            raise UserError(f"{path} has inputs {names}; an Optical Inspection model has input_1 and input_2.")
        batch = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) else None
        meta = self.session.get_modelmeta().custom_metadata_map.get(ONNX_META_KEY)
        info = json.loads(meta) if meta else {}
        threshold, margin = info.get("threshold"), info.get("margin")
        super().__init__(path, threshold, margin, info, "onnxruntime")

    def _run(self, test: np.ndarray, golden: np.ndarray) -> np.ndarray:
        out1, out2 = self.session.run(["output_1", "output_2"], {"input_1": test, "input_2": golden})
        return np.sqrt(np.sum((out1 - out2 + 1e-6) ** 2, axis=1))

    def distances(self, test: torch.Tensor, golden: torch.Tensor) -> np.ndarray:
        t = np.ascontiguousarray(torch.as_tensor(test).numpy(), dtype=np.float32)
        g = np.ascontiguousarray(torch.as_tensor(golden).numpy(), dtype=np.float32)
        if self.fixed_batch is None:
            return self._run(t, g)
        n, b, parts = len(t), self.fixed_batch, []
        for start in range(0, n, b):
            tt, gg = t[start : start + b], g[start : start + b]
            pad = b - len(tt)
            if pad:
                tt = np.concatenate([tt, np.repeat(tt[-1:], pad, axis=0)])
                gg = np.concatenate([gg, np.repeat(gg[-1:], pad, axis=0)])
            parts.append(self._run(tt, gg)[: b - pad])
        return np.concatenate(parts)


class TensorRTScorer(Scorer):
    """A TensorRT ``.engine`` (bindings as the ONNX model); needs the ``tensorrt`` package and a CUDA GPU.

    Not exercised by the tests on this CPU-only machine (no TensorRT, no GPU).
    """

    def __init__(self, path: Path) -> None:
        from optical_inspection.tasks.gen_trt_engine import require_tensorrt

        trt = require_tensorrt("running a TensorRT engine")
        self._trt = trt
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise UserError(f"{path} is not a TensorRT engine built for this TensorRT version/GPU; rebuild it.")
        self.context = self.engine.create_execution_context()
        super().__init__(path, None, None, {}, "tensorrt")

    def distances(self, test: torch.Tensor, golden: torch.Tensor) -> np.ndarray:
        dev = torch.device("cuda")
        inputs = {
            "input_1": torch.as_tensor(test).to(dev).contiguous(),
            "input_2": torch.as_tensor(golden).to(dev).contiguous(),
        }
        outputs = {}
        for name, tensor in inputs.items():
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        for name in ("output_1", "output_2"):
            shape = tuple(self.context.get_tensor_shape(name))
            outputs[name] = torch.empty(shape, dtype=torch.float32, device=dev)
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        stream = torch.cuda.current_stream()
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        stream.synchronize()
        return pair_distance(outputs["output_1"], outputs["output_2"]).cpu().numpy()


def open_scorer(cfg: Any, section: Any, what: str) -> Scorer:
    """The backend for ``<what>.checkpoint`` (``.pth``/``.onnx``/``.engine``) or ``<what>.trt_engine``."""
    path_text = section.checkpoint or section.trt_engine
    key = f"{what}.checkpoint" if section.checkpoint else f"{what}.trt_engine"
    if not path_text:
        raise UserError(f"{what}.checkpoint is not set; give a .pth checkpoint, an .onnx model or a .engine file.")
    path = Path(path_text)
    if not path.is_file():
        raise UserError(f"{key}: file {path} not found; give the path of a trained checkpoint, .onnx or .engine.")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return OnnxScorer(path)
    if suffix in (".engine", ".trt", ".plan") or key.endswith("trt_engine"):
        return TensorRTScorer(path)
    return TorchScorer(path, cfg)


def score_loader(scorer: Scorer, loader: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distances, labels, row indices) over a loader."""
    ds, ys, idx = [], [], []
    for test, golden, label, index in loader:
        ds.append(scorer.distances(test, golden))
        ys.append(np.asarray(label, dtype=np.float32))
        idx.append(np.asarray(index))
    if not ds:
        return np.empty(0, np.float32), np.empty(0, np.float32), np.empty(0, np.int64)
    return np.concatenate(ds).astype(np.float32), np.concatenate(ys), np.concatenate(idx).astype(np.int64)
