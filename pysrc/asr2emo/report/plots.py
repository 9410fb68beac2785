"""PNG figures of the report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_confusion(
    confusion: Sequence[Sequence[int]], classes: Sequence[str], title: str, path: Path
) -> None:
    """Row-normalized confusion matrix (rows = truth) with the counts written in the cells."""
    cm = np.asarray(confusion, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                f"{int(cm[i, j])}\n{norm[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.6 else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(histories: List[Dict], title: str, path: Path) -> None:
    """Training loss and validation UA per epoch, one line per fold; the best epoch marked."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.2))
    for h in histories:
        label = f"fold {h['fold']}"
        a1.plot(h["epoch"], h["train_loss"], marker=".", label=label)
        val = [np.nan if v is None else v for v in h["val_ua"]]
        (line,) = a2.plot(h["epoch"], val, marker=".", label=label)
        best = h.get("best_epoch")
        if best in h["epoch"]:
            a2.plot(
                [best],
                [val[h["epoch"].index(best)]],
                "o",
                color=line.get_color(),
                markersize=8,
                fillstyle="none",
            )
    a1.set_xlabel("epoch")
    a1.set_ylabel("frame cross-entropy (train)")
    a2.set_xlabel("epoch")
    a2.set_ylabel("validation UA (summed softmax)")
    a2.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
