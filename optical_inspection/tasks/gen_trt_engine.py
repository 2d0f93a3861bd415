"""``gen_trt_engine``: build a TensorRT engine from the exported ONNX (fp32/fp16, min/opt/max batch profile).

Needs the ``tensorrt`` package and a CUDA GPU. Without them it stops with a user error naming what is missing and
the alternatives: the TAO deploy container (the runtime's docker backend), or ONNX Runtime (evaluate/inference take
the ``.onnx`` as ``checkpoint``). The build path is written against TensorRT's Python API (>= 8.6) but is not run on
this project's CPU-only CI.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from optical_inspection.errors import UserError
from optical_inspection.status import STARTED, SUCCESS
from optical_inspection.tasks._common import prepare_results

__all__ = ["run", "require_tensorrt"]

_log = logging.getLogger(__name__)


def require_tensorrt(purpose: str) -> Any:
    """The ``tensorrt`` module when it and a CUDA GPU are present; else a UserError with the alternatives."""
    import torch

    missing = []
    try:
        import tensorrt as trt
    except ImportError:
        trt, missing = None, ["the tensorrt Python package"]
    if not torch.cuda.is_available():
        missing.append("a CUDA GPU")
    if missing:
        raise UserError(
            f"{purpose} needs {' and '.join(missing)}, which this machine lacks. Alternatives: run gen_trt_engine in "
            "TAO's deploy container (the runtime's docker backend, image ...-deploy), or skip TensorRT and run "
            "evaluate/inference with the exported .onnx as checkpoint (ONNX Runtime on the CPU)."
        )
    return trt


def run(cfg: Any) -> int:
    gcfg = cfg.gen_trt_engine
    results, status = prepare_results(cfg, "gen_trt_engine")
    status.write(STARTED, "Starting TensorRT engine build")
    onnx_file = Path(gcfg.onnx_file or "")
    if not gcfg.onnx_file or not onnx_file.is_file():
        raise UserError(f"gen_trt_engine.onnx_file {gcfg.onnx_file!r} not found; give the .onnx written by export.")
    t = gcfg.tensorrt
    lo, opt, hi = int(t.min_batch_size), int(t.opt_batch_size), int(t.max_batch_size)
    if gcfg.batch_size and int(gcfg.batch_size) > 0:
        lo = opt = hi = int(gcfg.batch_size)
    if not lo <= opt <= hi:
        raise UserError(f"gen_trt_engine.tensorrt batch profile must satisfy min <= opt <= max; got {lo}/{opt}/{hi}.")
    trt = require_tensorrt("gen_trt_engine")
    engine_path = Path(gcfg.trt_engine) if gcfg.trt_engine else results / "model.engine"
    logger = trt.Logger(trt.Logger.VERBOSE if gcfg.verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_file.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"TensorRT cannot parse {onnx_file}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(t.workspace_size) << 20)
    if t.data_type == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        chw = tuple(tensor.shape[1:])
        profile.set_shape(tensor.name, (lo, *chw), (opt, *chw), (hi, *chw))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT engine build failed")
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = engine_path.with_name(f".{engine_path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(bytes(serialized))
    os.replace(tmp, engine_path)
    status.write(SUCCESS, f"Built {engine_path} ({t.data_type}, batch {lo}/{opt}/{hi})")
    return 0
