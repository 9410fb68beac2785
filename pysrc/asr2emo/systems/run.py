"""All emotion systems on stage 8's folds, and the one chosen on training-session speakers.

Per fold (stage 8's test session and validation speaker, checked against its outputs):

- ``paper``: stage 8's frame-level head on its layer (its ``head.pt``), summed softmax; the
  reference row, as stage 8 left it;
- ``frame``: the same frame-level head as a candidate: stage 8's ``train_head`` with stage 8's
  settings (``emotion.conf``) on every split the choice needs (on the fold's own split, at
  stage 8's class weight, it is stage 8's ``head.pt``);
- ``frame_mix``: that head on a learned softmax mixture of every layer's frames, frame by frame;
- ``asp``: attentive-statistics-pooling head on the paper layer's frames;
- ``layer_mix``: learned softmax mixture of every layer's utterance statistics + MLP;
- ``egemaps``: eGeMAPS v02 functionals + SVM (rbf, Platt posteriors) on the training speakers;
- ``early``: early fusion, the same SVM on [the layer mixture's pooled statistics ; eGeMAPS];
  ``early_layer``: on [the paper layer's utterance mean/std ; eGeMAPS] (:func:`block_features`);
- ``<x>+egemaps``: score-level fusion of each head with ``egemaps``;
- ``best_single``: per fold, the candidate with the best UA on held-out training-session data
  (ties: the earlier one, the paper's head first);
- ``selected``: per fold, the system of ``choice`` (:mod:`asr2emo.systems.choice`):
  ``one-se-ensemble`` (the default), the mean posteriors of every candidate within one
  standard error of the best inner-cv UA; ``best``: ``best_single``.

Every trained system has a class balance, one of ``class_weights`` (``none``; ``balanced``:
inverse-frequency class weights in the loss, or in the SVM), chosen per fold and per system on
the same held-out data as the fusion weights and the choice.

``selection="inner-cv"`` (the default) makes these choices from an inner leave-one-session-out
over the fold's training sessions (each inner fold with its own validation speaker for early
stopping): every training-session utterance is predicted by models that did not see its
session, so the choices rest on all training speakers rather than on one.
``selection="val-speaker"`` uses the fold's one validation speaker (one held-out group, no
standard error: ``choice="best"`` only).

Nothing here reads a test label before the fold's decisions are made.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from asr2emo.emotion.data import FrameData
from asr2emo.emotion.folds import Fold, make_folds
from asr2emo.emotion.head import load_head
from asr2emo.emotion.train import HeadConfig, train_head
from asr2emo.systems import members
from asr2emo.systems.choice import (
    CHOICES,
    best_candidate,
    fold_uas,
    mean_posteriors,
    one_se_members,
    standard_error,
)
from asr2emo.systems.fusion import Scores, fit_weight, fuse, ua_of
from asr2emo.systems.heads import (
    UtteranceHeadConfig,
    train_asp,
    train_frame_mix,
    train_layer_mix,
)
from asr2emo.systems.members import (  # noqa: F401 (block_features: the tests' import)
    Member,
    apply_block_scale,
    block_features,
    early_blocks,
    fit_block_scale,
    frame_posteriors,
    member_posteriors,
)
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

BASE = ("frame", "frame_mix", "asp", "layer_mix", "egemaps", "early", "early_layer")
FUSED = tuple(f"{s}+egemaps" for s in ("frame", "frame_mix", "asp", "layer_mix"))
CANDIDATES = BASE + FUSED
ROWS = ("paper",) + CANDIDATES + ("best_single", "selected")
SELECTIONS = ("inner-cv", "val-speaker")
CLASS_WEIGHTS = ("none", "balanced")
TITLES = {
    "paper": "paper: frame-level head, summed softmax ({layer}), stage 8's",
    "frame": "frame-level head ({layer}), class balance chosen",
    "frame_mix": "frame-level head on a layer mixture ({n} layers, per frame)",
    "asp": "attentive statistics pooling head ({layer})",
    "layer_mix": "layer mixing ({n} layers, utterance mean/std) + MLP",
    "egemaps": "eGeMAPS v02 + SVM, training speakers only (fusion input)",
    "early": "early fusion: layer-mixed statistics + eGeMAPS -> SVM",
    "early_layer": "early fusion: {layer} mean/std + eGeMAPS -> SVM",
    "frame+egemaps": "fusion: frame-level head + eGeMAPS",
    "frame_mix+egemaps": "fusion: frame-level layer mixture + eGeMAPS",
    "asp+egemaps": "fusion: attentive pooling + eGeMAPS",
    "layer_mix+egemaps": "fusion: layer mixing + eGeMAPS",
    "best_single": "best single by inner-cv (per fold)",
    "selected": "**chosen per fold on training-session speakers: {choice}**",
}
Predict = Callable[[np.ndarray], np.ndarray]


@dataclass
class SystemsConfig:
    """Settings of every system (``conf/systems.conf``; ``frame``: stage 8's ``emotion.conf``)."""

    head: UtteranceHeadConfig = field(default_factory=UtteranceHeadConfig)
    frame: HeadConfig = field(default_factory=HeadConfig)
    svm_c: float = 1.0
    svm_gamma: str = "scale"
    selection: str = "inner-cv"
    choice: str = "one-se-ensemble"
    class_weights: List[str] = field(default_factory=lambda: list(CLASS_WEIGHTS))
    frame_mix: bool = True


@dataclass
class SystemInputs(members.SystemInputs):
    """What the systems read (:class:`asr2emo.systems.members.SystemInputs`), and which
    candidates they allow."""

    def candidates(self) -> Tuple[str, ...]:
        """:data:`CANDIDATES` less those whose input is absent."""
        off = set() if self.mix_frames is not None else {"frame_mix", "frame_mix+egemaps"}
        off |= set() if self.paper_index is not None else {"early_layer"}
        return tuple(n for n in CANDIDATES if n not in off)


def check_config(cfg: SystemsConfig) -> None:
    """One UserError line for a selection, choice or class-weight setting outside the known
    ones, or a choice that needs inner folds without them."""
    if cfg.selection not in SELECTIONS:
        raise UserError(f"--selection must be one of {', '.join(SELECTIONS)}, got {cfg.selection}")
    if cfg.choice not in CHOICES:
        raise UserError(f"--choice must be one of {', '.join(CHOICES)}, got {cfg.choice}")
    if cfg.choice == "one-se-ensemble" and cfg.selection != "inner-cv":
        raise UserError(
            f"--choice=one-se-ensemble needs --selection=inner-cv (its standard error is over "
            f"the inner folds), got --selection={cfg.selection}; use --choice=best"
        )
    bad = [c for c in cfg.class_weights if c not in CLASS_WEIGHTS]
    if bad or not cfg.class_weights or len(set(cfg.class_weights)) != len(cfg.class_weights):
        raise UserError(
            f"--class-weights must list some of {', '.join(CLASS_WEIGHTS)} once each, got "
            f"'{','.join(cfg.class_weights)}'"
        )


def egemaps_model(
    cfg: SystemsConfig, seed: int, class_weight: str = "none", scale: bool = True
) -> Pipeline:
    """[StandardScaler +] rbf SVM with sigmoid-calibrated posteriors (Platt; 3-fold stratified
    calibration, no shuffling, then one SVM on all training utterances)."""
    try:
        gamma: object = float(cfg.svm_gamma)
    except ValueError:
        gamma = cfg.svm_gamma
    cw = None if class_weight == "none" else class_weight
    svm = SVC(kernel="rbf", C=cfg.svm_c, gamma=gamma, class_weight=cw, random_state=seed)
    calibrated = CalibratedClassifierCV(svm, method="sigmoid", cv=3, ensemble=False)
    steps = [("scaler", StandardScaler())] if scale else []
    return Pipeline(steps + [("clf", calibrated)])


def _scores(data: FrameData, utts: np.ndarray, post: np.ndarray) -> Scores:
    return Scores([data.ids[u] for u in utts.tolist()], np.asarray(post, dtype=np.float64))


def fit_members(
    inp: SystemInputs,
    train: np.ndarray,
    val: np.ndarray,
    cfg: SystemsConfig,
    seed: int,
    fold: int,
    class_weight: Mapping[str, str],
    stage8: Optional[torch.nn.Module] = None,
) -> Dict[str, Tuple[Member, Dict]]:
    """The systems named in ``class_weight`` ({system: its class weight}) trained on one split:
    ``{system: (member, info)}``. ``stage8``: stage 8's head of this very split, used as
    ``frame`` at stage 8's class weight instead of retraining it."""
    data, out = inp.data, {}
    mixes: Dict[str, Tuple] = {}

    def mix(cw: str):
        if cw not in mixes:
            mixes[cw] = train_layer_mix(inp.stats, data.labels, data.classes, train, val,
                                        cfg.head, fold, class_weight=cw)  # fmt: skip
        return mixes[cw]

    def svm(x: np.ndarray, cw: str, scale: bool = True) -> Pipeline:
        return egemaps_model(cfg, seed, cw, scale).fit(x[train], data.labels[train])

    for name, cw in class_weight.items():
        frame_cfg = replace(cfg.frame, class_weight=cw)
        if name == "frame" and stage8 is not None and cw == cfg.frame.class_weight:
            out[name] = (Member(name, cw, stage8), {"stage8_head": True})
        elif name == "frame":
            res = train_head(data, train, val, frame_cfg, seed_offset=fold)
            out[name] = (Member(name, cw, res.head), {"best_epoch": res.best_epoch})
        elif name == "frame_mix":
            head, hist = train_frame_mix(inp.mix_frames, train, val, frame_cfg, fold)
            info = {k: hist[k] for k in ("best_epoch", "layer_weights")}
            out[name] = (Member(name, cw, head), info)
        elif name == "asp":
            model, hist = train_asp(data, train, val, cfg.head, fold, class_weight=cw)
            out[name] = (Member(name, cw, model), hist)
        elif name == "layer_mix":
            model, hist = mix(cw)
            hist = {**hist, "layer_weights": model.layer_weights().tolist()}
            out[name] = (Member(name, cw, model), hist)
        elif name == "egemaps":
            out[name] = (Member(name, cw, svm(inp.egemaps, cw)), {})
        elif name in ("early", "early_layer"):
            m = Member(name, cw, None, mix(cw)[0] if name == "early" else None)
            blocks = early_blocks(m, inp)
            m.scale = fit_block_scale(blocks, train)
            m.model = svm(apply_block_scale(blocks, m.scale), cw, scale=False)
            out[name] = (m, {})
        else:
            raise ValueError(f"unknown system {name}")
    return out


def fit_split(
    inp: SystemInputs,
    train: np.ndarray,
    val: np.ndarray,
    cfg: SystemsConfig,
    seed: int,
    fold: int,
    class_weight: Mapping[str, str],
    stage8: Optional[torch.nn.Module] = None,
) -> Dict[str, Tuple[Predict, Dict]]:
    """:func:`fit_members` as ``{system: (posteriors of utterance indices of inp, info)}``."""
    fitted = fit_members(inp, train, val, cfg, seed, fold, class_weight, stage8)
    return {n: (partial(member_posteriors, m, inp), info) for n, (m, info) in fitted.items()}


def training_pool(fold: Fold) -> np.ndarray:
    """The fold's training-session utterances (training and validation speakers), sorted: the
    utterances the inner cross-validation predicts."""
    return np.sort(np.concatenate([fold.train, fold.val]))


def inner_cv_scores(
    fold: Fold, inp: SystemInputs, cfg: SystemsConfig, seed: int, systems: Sequence[str]
) -> Dict[Tuple[str, str], Scores]:
    """``{(system, class weight): posteriors of every training-session utterance of fold}``
    from the systems trained in an inner leave-one-session-out over those sessions (never the
    fold's test session)."""
    data = inp.data
    pool = training_pool(fold)
    inner = make_folds(data.sessions[pool], [data.speakers[u] for u in pool], seed)
    post = {(n, cw): np.zeros((len(pool), len(data.classes)))
            for n in systems for cw in cfg.class_weights}  # fmt: skip
    for f in inner:
        for cw in cfg.class_weights:
            fitted = fit_split(
                inp, pool[f.train], pool[f.val], cfg, seed, 100 * fold.fold + f.fold,
                dict.fromkeys(systems, cw),
            )  # fmt: skip
            for name, (predict, _) in fitted.items():
                post[(name, cw)][f.test] = predict(pool[f.test])
    return {k: _scores(data, pool, p) for k, p in post.items()}


def run_fold(
    fold: Fold, inp: SystemInputs, paper_head: Optional[Path], cfg: SystemsConfig, seed: int
) -> Dict[str, Dict]:
    """``{system: {"val": Scores, "test": Scores, "info": {...}}}`` of one fold.

    ``paper_head``: stage 8's head of this fold (the ``paper`` row, and ``frame`` at stage 8's
    class weight on the fold's own split); None for a fold stage 8 has not trained (the deploy
    pool, :mod:`asr2emo.systems.deploy`, whose test set is empty)."""
    check_config(cfg)
    data = inp.data
    classes, labels = data.classes, data.labels
    num_classes = len(classes)
    names = inp.candidates()
    base = [n for n in names if "+" not in n]
    out: Dict[str, Dict] = {}
    val_labels = labels[fold.val]
    test_ids = [data.ids[u] for u in fold.test]

    def add(name: str, val_post, test_post, info: Optional[Dict] = None) -> None:
        val = _scores(data, fold.val, val_post)
        out[name] = {
            "val": val,
            "test": _scores(data, fold.test, test_post),
            "info": {**(info or {}), "val_ua": ua_of(val, val_labels, classes)},
        }

    stage8: Optional[torch.nn.Module] = None
    if paper_head is not None:
        stage8, head_classes = load_head(paper_head)
        if head_classes != list(classes):
            raise UserError(f"{paper_head}: classes {head_classes}, the bottleneck gives {classes}")
        paper = partial(frame_posteriors, stage8, data)
        add(
            "paper",
            paper(fold.val),
            paper(fold.test) if len(fold.test) else np.zeros((0, num_classes)),
        )

    # Selection data: every (system, class weight) scored on held-out training-session speakers.
    if cfg.selection == "inner-cv":
        sel = inner_cv_scores(fold, inp, cfg, seed, base)
        sel_labels = labels[training_pool(fold)]
        sel_groups = data.sessions[training_pool(fold)]  # the inner fold of each utterance
    else:
        fits, sel = {}, {}
        for cw in cfg.class_weights:
            fits[cw] = fit_split(
                inp, fold.train, fold.val, cfg, seed, fold.fold, dict.fromkeys(base, cw), stage8
            )
            for n in base:
                sel[(n, cw)] = _scores(data, fold.val, fits[cw][n][0](fold.val))
        sel_labels, sel_groups = val_labels, np.zeros(len(fold.val), dtype=np.int64)
    leak = {u for s in sel.values() for u in s.ids} & set(test_ids)
    if leak:
        raise UserError(f"fold {fold.fold}: selection data holds test utterance {min(leak)}")
    sel_ua = {k: ua_of(s, sel_labels, classes) for k, s in sel.items()}
    order = list(cfg.class_weights)
    balance = {n: max(order, key=lambda cw: (sel_ua[(n, cw)], -order.index(cw))) for n in base}

    if cfg.selection == "inner-cv":
        systems = fit_split(inp, fold.train, fold.val, cfg, seed, fold.fold, balance, stage8)
    else:
        systems = {n: fits[balance[n]][n] for n in base}
    for n in base:
        predict, info = systems[n]
        uas = {cw: sel_ua[(n, cw)] for cw in order}
        add(n, predict(fold.val), predict(fold.test),
            {**info, "class_weight": balance[n], "class_weight_uas": uas})  # fmt: skip

    chosen_sel = {n: sel[(n, balance[n])] for n in base}
    for name in (n for n in names if "+" in n):
        a = name.split("+")[0]
        w = fit_weight(chosen_sel[a], chosen_sel["egemaps"], sel_labels, classes, test_ids)
        chosen_sel[name] = fuse(chosen_sel[a], chosen_sel["egemaps"], w)
        out[name] = {
            "val": fuse(out[a]["val"], out["egemaps"]["val"], w),
            "test": fuse(out[a]["test"], out["egemaps"]["test"], w),
            "info": {"weight": w},
        }
        out[name]["info"]["val_ua"] = ua_of(out[name]["val"], val_labels, classes)
    out.update(
        choose(fold.fold, names, chosen_sel, sel_labels, sel_groups, out, classes, cfg, balance)
    )
    return out


def choose(
    fold_id: int,
    names: Sequence[str],
    sel: Mapping[str, Scores],
    sel_labels: np.ndarray,
    sel_groups: np.ndarray,
    systems: Mapping[str, Dict],
    classes: Sequence[str],
    cfg: SystemsConfig,
    balance: Mapping[str, str],
) -> Dict[str, Dict]:
    """The ``best_single`` and ``selected`` rows from the candidates' selection scores ``sel``
    (held-out training-session utterances; ``sel_groups``: the held-out session of each, one
    per inner fold) and their val/test scores in ``systems``. Reads only ``sel``'s labels."""
    uas = {n: ua_of(sel[n], sel_labels, classes) for n in names}
    best = best_candidate(uas, names)
    info = {"best": best, "val_uas": uas, "selection": cfg.selection, "choice": cfg.choice,
            "class_weights": dict(balance)}  # fmt: skip
    rows = {"best_single": {**systems[best], "info": {**info, "chosen": best, "members": [best]}}}
    if cfg.choice == "best":
        members, extra = [best], {}
    else:
        per_fold = fold_uas(sel[best], sel_labels, sel_groups, classes)
        se = standard_error(list(per_fold.values()))
        members = one_se_members(uas, names, best, se)
        extra = {"se": se, "threshold": uas[best] - se,
                 "best_fold_uas": {str(k): v for k, v in per_fold.items()}}  # fmt: skip
    ens = {sp: mean_posteriors([systems[n][sp] for n in members]) for sp in ("val", "test")}
    sel_ua = ua_of(mean_posteriors([sel[n] for n in members]), sel_labels, classes)
    chosen = members[0] if len(members) == 1 else "mean(" + ", ".join(members) + ")"
    rows["selected"] = {
        **ens,
        "info": {**info, **extra, "chosen": chosen, "members": members, "selection_ua": sel_ua},
    }
    logging.info(
        "fold %d: %s UA %s -> best %s%s -> %s (class weights: %s)",
        fold_id,
        cfg.selection,
        " ".join(f"{n} {u:.3f}" for n, u in uas.items()),
        best,
        "" if "se" not in extra else f" {uas[best]:.3f}, SE {extra['se']:.3f}, S = {members}",
        chosen,
        " ".join(f"{n} {cw}" for n, cw in balance.items()),
    )
    return rows


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
