"""Pictures of a run (matplotlib, Agg backend): training curves; ROC curve, per-class score histogram and worst-scored
pairs of an evaluation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_roc", "plot_histogram", "plot_worst_pairs", "plot_training_curves"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def plot_roc(fpr: np.ndarray, tpr: np.ndarray, auc: float, path: Path) -> Path:
    """ROC curve (false-alarm rate vs defect recall)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, lw=2, label=f"ROC-AUC {auc:.4f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(
        xlabel="False-alarm rate (PASS flagged)", ylabel="Defect recall", title="ROC curve", xlim=(0, 1), ylim=(0, 1.02)
    )
    ax.legend(loc="lower right")
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_histogram(scores: np.ndarray, labels: np.ndarray, threshold: float, path: Path) -> Path:
    """Distance histogram per class with the decision threshold."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(float(scores.min(initial=0.0)), float(max(scores.max(initial=1.0), threshold)) * 1.05, 40)
    ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label=f"PASS ({int((labels == 0).sum())})", color="tab:green")
    ax.hist(scores[labels == 1], bins=bins, alpha=0.6, label=f"defect ({int((labels == 1).sum())})", color="tab:red")
    ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.3f}")
    ax.set(xlabel="siamese_score (distance)", ylabel="pairs", title="Scores per class")
    ax.legend()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def _to_image(tensor: Any, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    array = np.asarray(tensor, dtype=np.float32).transpose(1, 2, 0)
    return np.clip(array * std + mean, 0.0, 1.0)


def plot_worst_pairs(
    dataset: Any, scores: np.ndarray, labels: np.ndarray, indices: np.ndarray, path: Path, *, per_class: int = 4
) -> Path | None:
    """Defects with the LOWEST scores and PASS with the HIGHEST (golden beside test, de-normalised)."""
    mean = np.asarray(getattr(dataset, "_mean", np.zeros(3))).reshape(1, 1, 3)
    std = np.asarray(getattr(dataset, "_std", np.ones(3))).reshape(1, 1, 3)
    defects = np.flatnonzero(labels == 1)
    passes = np.flatnonzero(labels == 0)
    chosen = [("defect", i) for i in defects[np.argsort(scores[defects])][:per_class]]
    chosen += [("PASS", i) for i in passes[np.argsort(-scores[passes])][:per_class]]
    if not chosen:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(chosen), figsize=(1.8 * len(chosen), 4.8), squeeze=False)
    for col, (kind, i) in enumerate(chosen):
        test, golden, _, row = dataset[int(indices[i])]
        axes[0][col].imshow(_to_image(golden, mean, std))
        axes[1][col].imshow(_to_image(test, mean, std))
        name = dataset.table.rows[int(row)].get("object_name", "")
        axes[0][col].set_title(f"{kind} {scores[i]:.3f}\n{name}", fontsize=8)
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0][0].set_ylabel("golden")
    axes[1][0].set_ylabel("test")
    fig.suptitle("Worst-scored pairs: defects scored lowest, PASS scored highest", fontsize=9)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_training_curves(epochs: list[dict[str, Any]], path: Path, *, best_epoch: int | None = None) -> Path | None:
    """Loss (train and validation), validation ROC-AUC and false alarms at the target recall per epoch, from the
    RUNNING status lines (``epoch`` 0-based, drawn counted from 1); the best checkpoint's epoch marked."""
    rows = sorted((int(r["epoch"]), r.get("kpi") or {}) for r in epochs if isinstance(r.get("epoch"), int))
    if not rows:
        return None

    def series(key: str) -> tuple[list[int], list[float]]:
        pairs = [(e + 1, float(k[key])) for e, k in rows if isinstance(k.get(key), (int, float))]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = (
        (axes[0], (("train_loss", "train"), ("val_loss", "validation")), "loss"),
        (axes[1], (("val_roc_auc", "validation"),), "ROC-AUC"),
        (axes[2], (("val_far_at_target", "validation"),), "false alarms at the target recall (% of PASS)"),
    )
    for ax, keys, title in panels:
        for key, label in keys:
            x, y = series(key)
            if x:
                ax.plot(x, y, marker="o", ms=3, label=label)
        if best_epoch is not None:
            ax.axvline(best_epoch + 1, color="grey", ls="--", lw=1, label=f"best checkpoint (epoch {best_epoch + 1})")
        ax.set(xlabel="epoch", title=title)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
