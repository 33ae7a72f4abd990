"""Figures logged with each training run: learning curves and a gallery of test predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def loss_curves(epochs: Sequence[int], train_loss: Sequence[float], val_loss: Sequence[float], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, train_loss, marker="o", label="train")
    ax.plot(epochs, val_loss, marker="o", label="validation")
    ax.set(xlabel="epoch", ylabel="CTC loss", title="Loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def cer_curve(epochs: Sequence[int], val_cer: Sequence[float], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, val_cer, marker="o", color="tab:red")
    ax.set(xlabel="epoch", ylabel="CER", title="Validation character error rate", ylim=(0, max(1.0, *val_cer)))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def prediction_gallery(images: np.ndarray, truths: Sequence[str], predictions: Sequence[str], path: Path, columns: int = 4) -> None:
    """Ink arrays shown as dark-on-white words, titled 'prediction / truth' (green when right)."""
    count = len(images)
    rows = max(1, (count + columns - 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 1.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, truth, pred in zip(axes.flat, images, truths, predictions):
        ax.imshow(255 - image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{pred} / {truth}", color="tab:green" if pred == truth else "tab:red", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def training_figures(history, images: np.ndarray, truths: Sequence[str], predictions: Sequence[str],
                     folder: Path) -> list[Path]:
    """A training run's figures in `folder`: loss and CER curves over `history` (training.EpochResult
    records) and a gallery of the first 16 test predictions."""
    epochs = [e.epoch for e in history]
    paths = [folder / "loss.png", folder / "cer.png", folder / "test_gallery.png"]
    loss_curves(epochs, [e.train_loss for e in history], [e.val_loss for e in history], paths[0])
    cer_curve(epochs, [e.val_cer for e in history], paths[1])
    prediction_gallery(images[:16], truths[:16], predictions[:16], paths[2])
    return paths
