"""Model backends that turn (test, golden) batches into pair scores: a ``.pth`` checkpoint (PyTorch), an ``.onnx``
model (ONNX Runtime, CPUExecutionProvider) or a TensorRT ``.engine`` (needs the ``tensorrt`` package and a GPU).

Two kinds of model file: an embedding network (TAO's bindings: outputs ``output_1``/``output_2``, the two embeddings;
the pair score is their Euclidean distance) and a score network (``Siamese_Diff``: one output ``score``, the pair
score itself). Each backend also says what decision threshold its file carries (the calibrated one) and the model's
own threshold (the margin of an embedding network), so that evaluate and inference can choose a threshold and say
where it came from.
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
from optical_inspection.models.loss import LOGIT_MODELS, natural_threshold, pair_scores

__all__ = [
    "Scorer",
    "TorchScorer",
    "OnnxScorer",
    "TensorRTScorer",
    "open_scorer",
    "score_dataset",
    "embedding_distance",
    "ONNX_META_KEY",
    "EMBEDDING_OUTPUTS",
    "SCORE_OUTPUT",
]

ONNX_META_KEY = "optical_inspection"
EMBEDDING_OUTPUTS = ("output_1", "output_2")
SCORE_OUTPUT = "score"
_log = logging.getLogger(__name__)


@dataclass
class Scorer:
    """Base: ``distances(test, golden)`` (the pair scores) on float32 (B, 3, H', W') arrays/tensors.

    ``output`` is ``embedding`` (the file gives two embeddings: ``embed_pair``/``embed``) or ``score`` (the file gives
    the pair score: ``score_pair``). ``margin`` is the model's own decision threshold (the contrastive margin of an
    embedding network; probability 0.5 for a score network), the fallback when the file carries no calibrated one.
    """

    path: Path
    threshold: float | None = None
    margin: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    output: str = "embedding"

    def distances(self, test: torch.Tensor, golden: torch.Tensor) -> np.ndarray:
        """Pair score of every (test, golden) pair."""
        if self.output == "score":
            return self.score_pair(test, golden)
        return embedding_distance(*self.embed_pair(test, golden))

    def embed_pair(self, first: Any, second: Any) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of two equally long image batches (the network's two inputs)."""
        raise NotImplementedError

    def score_pair(self, test: Any, golden: Any) -> np.ndarray:
        """Pair scores of a score network."""
        raise NotImplementedError

    def embed(self, images: Any) -> np.ndarray:
        """Embeddings (B, D) of a batch of images: the halves go through the network's two inputs, which share
        their weights, so any Siamese model file (TAO's too) embeds single images without graph surgery."""
        x = np.ascontiguousarray(torch.as_tensor(images).numpy(), dtype=np.float32)
        n = len(x)
        if n == 0:
            return np.empty((0, 0), np.float32)
        half = (n + 1) // 2
        first, second = x[:half], x[half:]
        if len(second) < half:  # odd count: repeat the last image to make the halves equal
            second = np.concatenate([second, x[-1:]])
        e1, e2 = self.embed_pair(first, second)
        return np.concatenate([e1, e2])[:n]


def embedding_distance(emb1: np.ndarray, emb2: np.ndarray) -> np.ndarray:
    """Euclidean distance per row, as ``torch.nn.functional.pairwise_distance`` (eps 1e-6 added to the difference)."""
    diff = np.asarray(emb1, np.float32) - np.asarray(emb2, np.float32) + np.float32(1e-6)
    return np.sqrt(np.sum(diff * diff, axis=1))


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
        model_type = (kwargs or {}).get("model_type", str(cfg.model.model_type))
        margin = natural_threshold(model_type, float(hparams.get("margin", cfg.model.margin)))
        output = "score" if model_type in LOGIT_MODELS else "embedding"
        info = {"calibration": data.get("calibration")} if isinstance(data.get("calibration"), dict) else {}
        super().__init__(path, float(threshold) if threshold is not None else None, margin, info, "pytorch", output)

    @torch.no_grad()
    def embed_pair(self, first: Any, second: Any) -> tuple[np.ndarray, np.ndarray]:
        emb1, emb2 = self.model(torch.as_tensor(first).to(self.device), torch.as_tensor(second).to(self.device))
        return emb1.float().cpu().numpy(), emb2.float().cpu().numpy()

    @torch.no_grad()
    def score_pair(self, test: Any, golden: Any) -> np.ndarray:
        out = self.model(torch.as_tensor(test).to(self.device), torch.as_tensor(golden).to(self.device))
        return pair_scores(out)[0].float().cpu().numpy()

    @torch.no_grad()
    def embed(self, images: Any) -> np.ndarray:
        forward_once = getattr(self.model, "forward_once", None)
        if forward_once is None:
            return super().embed(images)
        return forward_once(torch.as_tensor(images).to(self.device)).float().cpu().numpy()


class OnnxScorer(Scorer):
    """An exported ``.onnx`` (inputs input_1/input_2; outputs output_1/output_2, or score) on ONNX Runtime's CPU
    provider."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise UserError(f"{path} is not a loadable ONNX model ({str(exc).splitlines()[0][:200]}).") from None
        names = [i.name for i in self.session.get_inputs()]
        if names[:2] != ["input_1", "input_2"]:
            raise UserError(f"{path} has inputs {names}; an Optical Inspection model has input_1 and input_2.")
        outputs = [o.name for o in self.session.get_outputs()]
        output = _output_kind(outputs, path)
        batch = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) else None
        meta = self.session.get_modelmeta().custom_metadata_map.get(ONNX_META_KEY)
        info = json.loads(meta) if meta else {}
        threshold, margin = info.get("threshold"), info.get("margin")
        super().__init__(path, threshold, margin, info, "onnxruntime", output)

    def _run(self, first: np.ndarray, second: np.ndarray) -> list[np.ndarray]:
        names = [SCORE_OUTPUT] if self.output == "score" else list(EMBEDDING_OUTPUTS)
        return self.session.run(names, {"input_1": first, "input_2": second})

    def _batched(self, first: Any, second: Any) -> list[np.ndarray]:
        """Run the model over two equally long batches, in chunks of the model's fixed batch size if it has one."""
        a = np.ascontiguousarray(torch.as_tensor(first).numpy(), dtype=np.float32)
        b = np.ascontiguousarray(torch.as_tensor(second).numpy(), dtype=np.float32)
        if self.fixed_batch is None:
            return self._run(a, b)
        n, size, parts = len(a), self.fixed_batch, []
        for start in range(0, n, size):
            aa, bb = a[start : start + size], b[start : start + size]
            pad = size - len(aa)
            if pad:  # a model exported with a fixed batch size: fill the last batch with copies
                aa = np.concatenate([aa, np.repeat(aa[-1:], pad, axis=0)])
                bb = np.concatenate([bb, np.repeat(bb[-1:], pad, axis=0)])
            parts.append([out[: size - pad] for out in self._run(aa, bb)])
        return [np.concatenate(chunk) for chunk in zip(*parts, strict=True)]

    def embed_pair(self, first: Any, second: Any) -> tuple[np.ndarray, np.ndarray]:
        out1, out2 = self._batched(first, second)
        return out1, out2

    def score_pair(self, test: Any, golden: Any) -> np.ndarray:
        return self._batched(test, golden)[0].reshape(-1)


def _output_kind(outputs: list[str], path: Path) -> str:
    """``embedding`` or ``score`` from a model file's output names."""
    if outputs[:2] == list(EMBEDDING_OUTPUTS):
        return "embedding"
    if outputs[:1] == [SCORE_OUTPUT]:
        return "score"
    raise UserError(
        f"{path} has outputs {outputs}; an Optical Inspection model has output_1 and output_2 (embeddings) or "
        f"{SCORE_OUTPUT} (the pair score)."
    )


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
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        output = _output_kind([n for n in names if n not in ("input_1", "input_2")], path)
        super().__init__(path, None, None, {}, "tensorrt", output)

    def score_pair(self, test: Any, golden: Any) -> np.ndarray:
        return self._execute(test, golden)[0].reshape(-1)

    def embed_pair(self, first: Any, second: Any) -> tuple[np.ndarray, np.ndarray]:
        out1, out2 = self._execute(first, second)
        return out1, out2

    def _execute(self, first: Any, second: Any) -> list[np.ndarray]:
        dev = torch.device("cuda")
        inputs = {
            "input_1": torch.as_tensor(first).to(dev).contiguous(),
            "input_2": torch.as_tensor(second).to(dev).contiguous(),
        }
        outputs = {}
        for name, tensor in inputs.items():
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        names = [SCORE_OUTPUT] if self.output == "score" else list(EMBEDDING_OUTPUTS)
        for name in names:
            shape = tuple(self.context.get_tensor_shape(name))
            outputs[name] = torch.empty(shape, dtype=torch.float32, device=dev)
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        stream = torch.cuda.current_stream()
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        stream.synchronize()
        return [outputs[name].float().cpu().numpy() for name in names]


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


def score_dataset(
    scorer: Scorer, dataset: Any, batch_size: int, workers: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair scores, labels, row indices) of every pair of a :class:`PairDataset`, in row order.

    Embedding networks: each test image is embedded once and each DISTINCT golden image once (a golden image serves
    the rows of every board), then pairs are scored from the embeddings: the same distances as scoring pair by pair
    (the networks embed each image independently in eval mode), with up to half the network work. ``batch_size``
    pairs = twice as many images per network call, as when scoring pairs. Score networks score the pairs in order.
    """
    from optical_inspection.data.image_view import image_batches

    n = len(dataset)
    rows = np.arange(n, dtype=np.int64)
    labels = np.asarray(dataset.table.labels, dtype=np.float32)
    if n == 0:
        return np.empty(0, np.float32), labels, rows
    if scorer.output == "score":
        size = max(int(batch_size), 1)
        tests = image_batches(dataset, rows, "test", size, workers)
        goldens = image_batches(dataset, rows, "golden", size, workers)
        scores = [scorer.score_pair(t, g) for t, g in zip(tests, goldens, strict=True)]
        return np.concatenate(scores).astype(np.float32), labels, rows
    first, inverse = dataset.golden_groups()
    images = 2 * max(int(batch_size), 1)
    golden = np.concatenate([scorer.embed(b) for b in image_batches(dataset, first, "golden", images, workers)])
    test = np.concatenate([scorer.embed(b) for b in image_batches(dataset, rows, "test", images, workers)])
    _log.info("Embedded %d test and %d distinct golden images (pair-by-pair scoring embeds %d)", n, len(first), 2 * n)
    return embedding_distance(test, golden[inverse]), labels, rows
