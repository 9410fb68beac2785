"""scikit-learn baselines scored on stage 8's folds, with stage 8's metrics.

Every system is a ``Pipeline(StandardScaler, classifier)`` fitted on the training utterances of
a fold only, so the standardization never sees the test session. Stage 8 holds one training
speaker out for early stopping; these classifiers have no early stopping, so by default they
train on the training *and* validation speakers (``train_on="train+val"``: every utterance
outside the test session), or on the same training speakers as stage 8 (``"train"``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from asr2emo.baselines.utterances import UttTable
from asr2emo.emotion.folds import Fold
from asr2emo.emotion.metrics import cv_summary
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.markers import write_marker

# system name -> (feature kind, classifier)
SYSTEMS: Dict[str, tuple] = {
    "egemaps_svm": ("egemaps", "svm"),
    "mfcc_lr": ("mfcc_stats", "logreg"),
    "ivector_lr": ("ivector", "logreg"),
}
SYSTEM_TITLES = {
    "egemaps_svm": "eGeMAPS v02 functionals + SVM (rbf)",
    "mfcc_lr": "MFCC mean/std + logistic regression",
    "ivector_lr": "offline i-vector + logistic regression",
    "tdnnf_scratch": "TDNN-F + head from scratch (no ASR pretraining)",
}


@dataclass
class ClassicalConfig:
    """Classifier settings (``conf/baselines.conf``)."""

    svm_c: float = 1.0
    svm_gamma: str = "scale"  # "scale", "auto" or a number
    lr_c: float = 1.0
    lr_max_iter: int = 2000
    class_weight: str = "none"  # none | balanced
    train_on: str = "train+val"  # train+val | train
    seed: int = 1


def make_pipeline(classifier: str, cfg: ClassicalConfig) -> Pipeline:
    """StandardScaler + SVM (rbf) or multinomial logistic regression."""
    cw = None if cfg.class_weight == "none" else cfg.class_weight
    if classifier == "svm":
        try:
            gamma: object = float(cfg.svm_gamma)
        except ValueError:
            gamma = cfg.svm_gamma
        clf = SVC(kernel="rbf", C=cfg.svm_c, gamma=gamma, class_weight=cw, random_state=cfg.seed)
    elif classifier == "logreg":
        clf = LogisticRegression(
            C=cfg.lr_c, max_iter=cfg.lr_max_iter, class_weight=cw, random_state=cfg.seed
        )
    else:
        raise UserError(f"unknown classifier '{classifier}' (svm or logreg)")
    return Pipeline([("scaler", StandardScaler()), ("clf", clf)])


def training_utts(fold: Fold, train_on: str) -> np.ndarray:
    if train_on == "train+val":
        return np.sort(np.concatenate([fold.train, fold.val]))
    if train_on == "train":
        return fold.train
    raise UserError(f"--train-on must be train+val or train, got '{train_on}'")


def run_folds(
    feats: np.ndarray,
    table: UttTable,
    folds: Sequence[Fold],
    classifier: str,
    cfg: ClassicalConfig,
    fitted: Optional[Dict[int, Pipeline]] = None,
) -> Dict[int, List[Dict]]:
    """``{fold: prediction records}`` (stage 8's predictions.jsonl fields, decision only).

    ``fitted``, when given, receives each fold's fitted pipeline (for inspection and tests).
    """
    out: Dict[int, List[Dict]] = {}
    for fold in folds:
        tr = training_utts(fold, cfg.train_on)
        pipe = make_pipeline(classifier, cfg)
        pipe.fit(feats[tr], table.labels[tr])
        pred = pipe.predict(feats[fold.test])
        if fitted is not None:
            fitted[fold.fold] = pipe
        out[fold.fold] = [
            {
                "id": table.ids[u],
                "speaker": table.speakers[u],
                "session": int(table.sessions[u]),
                "label": table.classes[int(table.labels[u])],
                "pred": table.classes[int(p)],
            }
            for u, p in zip(fold.test.tolist(), pred.tolist())
        ]
    return out


def metrics_from_records(system: str, folds: Dict[int, List[Dict]], classes: Sequence[str]) -> Dict:
    """Stage 8's ``metrics.json`` keys (ua, wa pooled; per fold; fold means) for one decision."""
    pooled = cv_summary(folds, classes, lambda r: r["pred"])
    return {
        "system": system,
        "classes": list(classes),
        "ua": pooled["ua"],
        "wa": pooled["wa"],
        "ua_fold_mean": pooled["ua_fold_mean"],
        "wa_fold_mean": pooled["wa_fold_mean"],
        "per_class_recall": pooled["per_class_recall"],
        "confusion": pooled["confusion"],
        "n": pooled["n"],
        "folds": pooled["folds"],
    }


def write_system(
    system_dir: Path, folds: Dict[int, List[Dict]], metrics: Dict, record: Dict
) -> None:
    """``fold-<k>/predictions.jsonl``, ``metrics.json``, then ``.done`` holding ``record``."""
    for k, recs in folds.items():
        path = system_dir / f"fold-{k}" / "predictions.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    with atomic_path(system_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    write_marker(system_dir, record)
