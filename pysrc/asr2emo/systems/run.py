"""All emotion systems on stage 8's folds, and the one chosen on validation speakers.

Per fold (stage 8's test session and validation speaker, checked against its outputs):

- ``paper``: stage 8's frame-level head on its layer (its ``head.pt``), summed softmax;
- ``asp``: attentive-statistics-pooling head on the same layer's frames;
- ``layer_mix``: learned softmax mixture of every layer's utterance statistics + MLP;
- ``egemaps``: eGeMAPS v02 functionals + SVM (rbf, Platt posteriors) on the training speakers;
- ``<x>+egemaps``: score-level fusion of each of the above with ``egemaps`` (weight on the
  validation speaker);
- ``selected``: per fold, the candidate with the best UA on held-out training-session data
  (ties: the earlier one, simplest first).

``selection="inner-cv"`` (the default) scores the candidates by an inner leave-one-session-out
over the fold's training sessions (each inner fold with its own validation speaker for early
stopping): every training-session utterance is predicted by models that did not see its
session, so the fusion weights and the choice rest on all training speakers rather than on one.
The paper's frame head is not retrained per inner fold (20 frame-level trainings per fold), so
in this mode the candidates are :data:`INNER_CANDIDATES`. ``selection="val-speaker"`` uses the
fold's one validation speaker for the weights and the choice among all :data:`CANDIDATES`.

Nothing here reads a test label before the fold's decisions are made.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from asr2emo.emotion.data import FrameData
from asr2emo.emotion.folds import Fold
from asr2emo.emotion.head import load_head
from asr2emo.emotion.train import score
from asr2emo.systems.fusion import Scores, fit_weight, fuse, ua_of
from asr2emo.systems.heads import (
    UtteranceHeadConfig,
    asp_forward,
    posteriors,
    stats_forward,
    train_asp,
    train_layer_mix,
)
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

BASE = ("paper", "asp", "layer_mix", "egemaps")
FUSED = tuple(f"{s}+egemaps" for s in ("paper", "asp", "layer_mix"))
CANDIDATES = BASE + FUSED
INNER_CANDIDATES = ("asp", "layer_mix", "egemaps", "asp+egemaps", "layer_mix+egemaps")
SELECTIONS = ("inner-cv", "val-speaker")
TITLES = {
    "paper": "paper: frame-level head, summed softmax ({layer})",
    "asp": "attentive statistics pooling head ({layer})",
    "layer_mix": "layer mixing ({n} layers, utterance mean/std) + MLP",
    "egemaps": "eGeMAPS v02 + SVM, training speakers only (fusion input)",
    "paper+egemaps": "fusion: paper + eGeMAPS",
    "asp+egemaps": "fusion: attentive pooling + eGeMAPS",
    "layer_mix+egemaps": "fusion: layer mixing + eGeMAPS",
    "selected": "**chosen per fold on training-session speakers**",
}


@dataclass
class SystemsConfig:
    """Settings of every system (``conf/systems.conf``)."""

    head: UtteranceHeadConfig = field(default_factory=UtteranceHeadConfig)
    svm_c: float = 1.0
    svm_gamma: str = "scale"
    selection: str = "inner-cv"


def egemaps_model(cfg: SystemsConfig, seed: int) -> Pipeline:
    """StandardScaler + rbf SVM with sigmoid-calibrated posteriors (Platt; 3-fold stratified
    calibration, no shuffling, then one SVM on all training utterances)."""
    try:
        gamma: object = float(cfg.svm_gamma)
    except ValueError:
        gamma = cfg.svm_gamma
    svm = SVC(kernel="rbf", C=cfg.svm_c, gamma=gamma, random_state=seed)
    calibrated = CalibratedClassifierCV(svm, method="sigmoid", cv=3, ensemble=False)
    return Pipeline([("scaler", StandardScaler()), ("clf", calibrated)])


def _full_posteriors(pipe: Pipeline, x: np.ndarray, num_classes: int) -> np.ndarray:
    """``predict_proba`` with a column for every class (0 for classes absent in training)."""
    out = np.zeros((len(x), num_classes))
    out[:, pipe.classes_] = pipe.predict_proba(x)
    return out


def _scores(data: FrameData, utts: np.ndarray, post: np.ndarray) -> Scores:
    return Scores([data.ids[u] for u in utts.tolist()], np.asarray(post, dtype=np.float64))


def _fit_systems(
    data: FrameData,
    stats: torch.Tensor,
    egemaps: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    cfg: SystemsConfig,
    seed: int,
    fold: int,
):
    """The three trained systems of one split: ``{name: (predict(utts) -> posteriors, info)}``."""
    num_classes = len(data.classes)
    asp, asp_hist = train_asp(data, train, val, cfg.head, fold)
    mix, mix_hist = train_layer_mix(stats, data.labels, data.classes, train, val, cfg.head, fold)
    mix_hist["layer_weights"] = mix.layer_weights().tolist()
    svm = egemaps_model(cfg, seed).fit(egemaps[train], data.labels[train])
    a_fwd, m_fwd = asp_forward(data), stats_forward(stats)
    return {
        "asp": (lambda u: posteriors(asp, a_fwd, u), asp_hist),
        "layer_mix": (lambda u: posteriors(mix, m_fwd, u), mix_hist),
        "egemaps": (lambda u: _full_posteriors(svm, egemaps[u], num_classes), {}),
    }


def training_pool(fold: Fold) -> np.ndarray:
    """The fold's training-session utterances (training and validation speakers), sorted: the
    utterances the inner cross-validation predicts."""
    return np.sort(np.concatenate([fold.train, fold.val]))


def inner_cv_scores(
    fold: Fold, data: FrameData, stats: torch.Tensor, egemaps: np.ndarray, cfg, seed: int
) -> Dict[str, Scores]:
    """Posteriors of every training-session utterance of ``fold`` from the systems trained in
    an inner leave-one-session-out over those sessions (never the fold's test session)."""
    from asr2emo.emotion.folds import make_folds

    pool = training_pool(fold)
    inner = make_folds(data.sessions[pool], [data.speakers[u] for u in pool], seed)
    post: Dict[str, np.ndarray] = {n: np.zeros((len(pool), len(data.classes))) for n in BASE[1:]}
    for f in inner:
        systems = _fit_systems(
            data, stats, egemaps, pool[f.train], pool[f.val], cfg, seed, 100 * fold.fold + f.fold
        )
        for name, (predict, _) in systems.items():
            post[name][f.test] = predict(pool[f.test])
    return {n: _scores(data, pool, p) for n, p in post.items()}


def run_fold(
    fold: Fold,
    data: FrameData,
    stats: torch.Tensor,
    egemaps: np.ndarray,
    paper_head: Path,
    cfg: SystemsConfig,
    seed: int,
) -> Dict[str, Dict]:
    """``{system: {"val": Scores, "test": Scores, "info": {...}}}`` of one fold."""
    out: Dict[str, Dict] = {}
    classes, labels = data.classes, data.labels
    val_labels = labels[fold.val]

    def add(name: str, val_post, test_post, info: Optional[Dict] = None) -> None:
        val = _scores(data, fold.val, val_post)
        out[name] = {
            "val": val,
            "test": _scores(data, fold.test, test_post),
            "info": {**(info or {}), "val_ua": ua_of(val, val_labels, classes)},
        }

    head, head_classes = load_head(paper_head)
    if head_classes != list(classes):
        raise UserError(f"{paper_head}: classes {head_classes}, the bottleneck gives {classes}")
    add(
        "paper",
        score(head, data, fold.val)["posteriors"].numpy(),
        score(head, data, fold.test)["posteriors"].numpy(),
    )
    systems = _fit_systems(data, stats, egemaps, fold.train, fold.val, cfg, seed, fold.fold)
    for name, (predict, info) in systems.items():
        add(name, predict(fold.val), predict(fold.test), info)
    test_ids = out["egemaps"]["test"].ids
    if cfg.selection == "inner-cv":
        inner = inner_cv_scores(fold, data, stats, egemaps, cfg, seed)
        inner_labels = labels[training_pool(fold)]
    elif cfg.selection != "val-speaker":
        raise UserError(f"--selection must be one of {', '.join(SELECTIONS)}, got {cfg.selection}")
    for name in FUSED:
        a = name.split("+")[0]
        if cfg.selection == "inner-cv" and a in inner:
            w = fit_weight(inner[a], inner["egemaps"], inner_labels, classes, test_ids)
        else:
            w = fit_weight(out[a]["val"], out["egemaps"]["val"], val_labels, classes, test_ids)
        out[name] = {
            "val": fuse(out[a]["val"], out["egemaps"]["val"], w),
            "test": fuse(out[a]["test"], out["egemaps"]["test"], w),
            "info": {"weight": w},
        }
        out[name]["info"]["val_ua"] = ua_of(out[name]["val"], val_labels, classes)
    if cfg.selection == "inner-cv":
        names = INNER_CANDIDATES
        fused = {n: fuse(inner[n.split("+")[0]], inner["egemaps"], out[n]["info"]["weight"])
                 for n in names if "+" in n}  # fmt: skip
        uas = {n: ua_of(fused.get(n, inner.get(n)), inner_labels, classes) for n in names}
    else:
        names = CANDIDATES
        uas = {n: out[n]["info"]["val_ua"] for n in names}
    chosen = max(names, key=lambda n: (uas[n], -names.index(n)))
    out["selected"] = {
        **out[chosen],
        "info": {"chosen": chosen, "val_uas": uas, "selection": cfg.selection},
    }
    logging.info(
        "fold %d: %s UA %s -> %s",
        fold.fold,
        cfg.selection,
        " ".join(f"{n} {u:.3f}" for n, u in uas.items()),
        chosen,
    )
    return out


def fold_json(results: Dict[str, Dict]) -> Dict:
    """The JSON of :func:`run_fold`'s results (posteriors rounded to 1e-6)."""
    return {
        name: {
            split: {"ids": r[split].ids, "posteriors": np.round(r[split].posteriors, 6).tolist()}
            for split in ("val", "test")
        }
        | {"info": r["info"]}
        for name, r in results.items()
    }


def prediction_records(
    data: FrameData, fold_results: Dict[str, Dict], system: str, split: str = "test"
) -> List[Dict]:
    """Stage 8's prediction records (id, speaker, session, label, pred, posteriors)."""
    row = {u: i for i, u in enumerate(data.ids)}
    r = fold_results[system][split]
    recs = []
    for uid, post in zip(r["ids"], r["posteriors"]):
        i = row[uid]
        recs.append(
            {
                "id": uid,
                "speaker": data.speakers[i],
                "session": int(data.sessions[i]),
                "label": data.classes[int(data.labels[i])],
                "pred": data.classes[int(np.argmax(post))],
                "posteriors": dict(zip(data.classes, post)),
            }
        )
    return recs


def write_fold(fold_dir: Path, results: Dict[str, Dict]) -> None:
    fold_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(fold_dir / "scores.json") as tmp:
        tmp.write_text(json.dumps(fold_json(results)) + "\n")


def plot_layer_weights(path: Path, layers: Sequence[str], per_fold: Dict[int, List[float]]):
    """Learned layer weights per fold against depth (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for k, w in sorted(per_fold.items()):
        ax.plot(range(1, len(layers) + 1), w, marker="o", label=f"fold {k}")
    ax.axhline(1.0 / len(layers), color="grey", ls=":", label="uniform")
    ax.set_xticks(range(1, len(layers) + 1))
    ax.set_xticklabels(layers, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("softmax weight")
    ax.set_title("layer mixing: learned weights per fold")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
