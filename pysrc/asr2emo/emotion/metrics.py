"""Utterance-level metrics of the paper: UA (mean per-class recall) and WA (accuracy).

UA is the unweighted mean of the per-class recalls over the classes that occur in the
reference labels (scikit-learn's ``balanced_accuracy_score`` convention); WA is plain accuracy.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Sequence

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


def cv_summary(
    folds: Mapping[int, Sequence[Mapping]],
    classes: Sequence[str],
    decision: Callable[[Mapping], str],
) -> Dict:
    """A cross-validation's figures from each fold's prediction records (``label``,
    ``session`` and the class name ``decision(record)`` picks): :func:`summarize` pooled over
    every fold, then ``folds`` (per fold: fold, test_session, ua, wa, n) and their means
    ``ua_fold_mean``, ``wa_fold_mean`` (the paper's Table 3 figure)."""
    cid = {c: i for i, c in enumerate(classes)}
    all_lab: List[int] = []
    all_pred: List[int] = []
    rows = []
    for k in sorted(folds):
        recs = folds[k]
        lab = [cid[r["label"]] for r in recs]
        pred = [cid[decision(r)] for r in recs]
        s = summarize(lab, pred, list(classes))
        rows.append(
            {
                "fold": k,
                "test_session": recs[0]["session"] if recs else k,
                "ua": s["ua"],
                "wa": s["wa"],
                "n": s["n"],
            }
        )
        all_lab += lab
        all_pred += pred
    pooled = summarize(all_lab, all_pred, list(classes))
    pooled["folds"] = rows
    pooled["ua_fold_mean"] = float(np.mean([r["ua"] for r in rows]))
    pooled["wa_fold_mean"] = float(np.mean([r["wa"] for r in rows]))
    return pooled
