"""Pair networks: TAO's ``Siamese``/``Siamese_3`` (checkpoint-compatible), the small embedding network
``Siamese_Efficient`` and ``Siamese_Diff``, which compares feature maps (the default for new work)."""

from optical_inspection.models.build import MODEL_TYPES, build_model, model_kwargs
from optical_inspection.models.efficient import SiameseEfficient
from optical_inspection.models.loss import (
    LOSSES,
    ContrastiveLoss,
    contrastive_loss,
    natural_threshold,
    pair_distance,
    pair_loss,
    pair_scores,
    resolve_loss,
)
from optical_inspection.models.siamese_diff import SiameseDiff
from optical_inspection.models.tao_siamese import Siamese, Siamese3

__all__ = [
    "LOSSES",
    "MODEL_TYPES",
    "ContrastiveLoss",
    "Siamese",
    "Siamese3",
    "SiameseDiff",
    "SiameseEfficient",
    "build_model",
    "contrastive_loss",
    "model_kwargs",
    "natural_threshold",
    "pair_distance",
    "pair_loss",
    "pair_scores",
    "resolve_loss",
]
