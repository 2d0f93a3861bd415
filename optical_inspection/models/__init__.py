"""Siamese networks: TAO's ``Siamese``/``Siamese_3`` (checkpoint-compatible) and the small ``Siamese_Efficient``."""

from optical_inspection.models.build import MODEL_TYPES, build_model, model_kwargs
from optical_inspection.models.efficient import SiameseEfficient
from optical_inspection.models.loss import ContrastiveLoss, contrastive_loss, pair_distance
from optical_inspection.models.tao_siamese import Siamese, Siamese3

__all__ = [
    "MODEL_TYPES",
    "ContrastiveLoss",
    "Siamese",
    "Siamese3",
    "SiameseEfficient",
    "build_model",
    "contrastive_loss",
    "model_kwargs",
    "pair_distance",
]
