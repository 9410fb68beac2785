"""Utterance-level metrics of the paper: UA (mean per-class recall) and WA (accuracy).

UA is the unweighted mean of the per-class recalls over the classes that occur in the
reference labels (scikit-learn's ``balanced_accuracy_score`` convention); WA is plain accuracy.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np


def confusion_matrix(labels: Sequence[int], preds: Sequence[int], num_classes: int) -> np.ndarray:
    """``C[i, j]`` = number of utterances of true class ``i`` predicted as ``j``."""
    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    """Recall of each class (NaN for a class absent from the references)."""
    support = cm.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def unweighted_accuracy(cm: np.ndarray) -> float:
    """Mean recall over the classes present in the references."""
    rec = per_class_recall(cm)
    rec = rec[~np.isnan(rec)]
    return float(rec.mean()) if rec.size else float("nan")


def weighted_accuracy(cm: np.ndarray) -> float:
    """Fraction of utterances classified correctly."""
    total = cm.sum()
    return float(np.trace(cm) / total) if total else float("nan")


def summarize(labels: Sequence[int], preds: Sequence[int], classes: List[str]) -> Dict:
    """UA, WA, per-class recall (by class name; null when absent), confusion matrix and n."""
    cm = confusion_matrix(labels, preds, len(classes))
    rec = per_class_recall(cm)
    return {
        "ua": unweighted_accuracy(cm),
        "wa": weighted_accuracy(cm),
        "per_class_recall": {
            c: (None if np.isnan(r) else float(r)) for c, r in zip(classes, rec.tolist())
        },
        "confusion": cm.tolist(),
        "n": int(cm.sum()),
    }
