"""Build the model a spec names (``model.model_type``) for the input layout of ``dataset``."""

from __future__ import annotations

from typing import Any

from torch import nn

from optical_inspection.models.efficient import SiameseEfficient
from optical_inspection.models.siamese_diff import SiameseDiff
from optical_inspection.models.tao_siamese import Siamese, Siamese3

__all__ = ["MODEL_TYPES", "build_model", "model_kwargs"]

MODEL_TYPES = ("Siamese_Diff", "Siamese_Efficient", "Siamese", "Siamese_3")


def model_kwargs(cfg: Any) -> dict[str, Any]:
    """Plain-dict description of the architecture (stored in checkpoints as hyperparameters)."""
    from optical_inspection.data import tile_layout

    layout = tile_layout(cfg)
    kwargs = {
        "model_type": str(cfg.model.model_type),
        "embedding_vectors": int(cfg.model.embedding_vectors),
        "tile_height": layout.height,
        "tile_width": layout.width,
        "rows": layout.rows,
        "cols": layout.cols,
    }
    if kwargs["model_type"] == "Siamese_Diff":
        kwargs["width"] = int(cfg.model.base_channels)
        kwargs["tolerance"] = int(cfg.model.registration_tolerance)
    return kwargs


def build_model(cfg: Any) -> nn.Module:
    """The network of ``cfg.model.model_type``; ``model_backbone`` must be ``custom`` (as in TAO)."""
    from optical_inspection.errors import UserError

    backbone = str(cfg.model.model_backbone)
    if backbone != "custom":
        raise UserError(
            f"model.model_backbone is {backbone!r}; only 'custom' is available (as in TAO). Set it to custom."
        )
    return build_from_kwargs(model_kwargs(cfg))


def build_from_kwargs(kw: dict[str, Any]) -> nn.Module:
    """Inverse of :func:`model_kwargs`."""
    from optical_inspection.errors import UserError

    kind = kw["model_type"]
    height, width = kw["tile_height"] * kw["rows"], kw["tile_width"] * kw["cols"]
    if kind == "Siamese_3":
        return Siamese3(height, width, kw["embedding_vectors"])
    if kind == "Siamese":
        return Siamese(height, width, kw["embedding_vectors"])
    if kind == "Siamese_Efficient":
        return SiameseEfficient(
            kw["tile_height"],
            kw["tile_width"],
            rows=kw["rows"],
            cols=kw["cols"],
            embedding_vectors=kw["embedding_vectors"],
        )
    if kind == "Siamese_Diff":
        return SiameseDiff(
            kw["tile_height"],
            kw["tile_width"],
            rows=kw["rows"],
            cols=kw["cols"],
            width=kw.get("width", 16),
            tolerance=kw.get("tolerance", 4),
        )
    raise UserError(f"model.model_type is {kind!r}; choose one of {', '.join(MODEL_TYPES)}.")
