"""Training and scoring of the emotion head; the leave-one-session-out cross-validation.

Every frame is labelled with its utterance's emotion and the head is trained with frame-level
cross-entropy on minibatches of frames shuffled across utterances (Adam). Early stopping uses
the utterance-level UA (summed softmax) on the validation speaker. Per fold, the outputs are
``predictions.jsonl`` (one line per test utterance), ``history.json`` and ``head.pt``; a fold
whose ``.done`` records the same settings and inputs is not recomputed, so a killed
cross-validation resumes at the next fold, and a changed conf recomputes every fold.
"""

from __future__ import annotations

import copy
import json
import logging
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch

from asr2emo.emotion.aggregate import AGGREGATIONS, aggregate
from asr2emo.emotion.data import FrameData
from asr2emo.emotion.folds import Fold, check_disjoint_speakers, make_folds
from asr2emo.emotion.head import EmotionHead, save_head
from asr2emo.emotion.metrics import cv_summary, summarize
from asr2emo.utils.config import fraction, nonneg_int, positive_float, positive_int
from asr2emo.utils.io import atomic_path, write_json
from asr2emo.utils.markers import make_record, needs_run, write_marker


@dataclass
class HeadConfig:
    """Hyper-parameters of the head and its training (``conf/emotion.conf``)."""

    hidden_dims: List[int] = field(
        default_factory=list,
        metadata={"help": "hidden layer sizes; empty: one dense layer + softmax (the paper)"},
    )
    dropout: float = field(default=0.2, metadata={"type": fraction})
    lr: float = field(default=1e-3, metadata={"type": positive_float, "help": "Adam learning rate"})
    weight_decay: float = 0.0
    batch_size: int = field(
        default=512, metadata={"type": positive_int, "help": "frames per minibatch"}
    )
    max_epochs: int = field(default=20, metadata={"type": positive_int})
    patience: int = field(
        default=4,
        metadata={
            "type": nonneg_int,
            "help": "epochs without a better validation UA before stopping",
        },
    )
    frames_per_epoch: int = field(
        default=0, metadata={"help": "frames drawn per epoch; 0: every training frame once"}
    )
    class_weight: str = field(
        default="none",
        metadata={"choices": ["none", "balanced"], "help": "balanced: inverse frame frequency"},
    )
    seed: int = 1


class EarlyStopping:
    """Validation-UA early stopping shared by the head, fine-tuning and from-scratch trainers.

    Keeps the per-epoch ``history``, the best epoch and a deep copy of its state; ``patience``
    epochs in a row without a better UA end training.
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.history: Dict[str, list] = {"epoch": [], "train_loss": [], "val_ua": []}
        self.best_ua = -1.0
        self.best_epoch = 0
        self.best_state: Any = None
        self.bad = 0

    def start(self, val_ua: float, state: Callable[[], Any]) -> None:
        """Epoch 0: the starting point (e.g. the frozen solution) is the first candidate."""
        self._record(0, None, val_ua)
        self.best_ua, self.best_state = val_ua, copy.deepcopy(state())

    def update(
        self, epoch: int, train_loss: float, val_ua: Optional[float], state: Callable[[], Any]
    ) -> bool:
        """Record ``epoch``; True when training should stop. Without a validation UA
        (``None``: no validation set) every epoch counts as the best and nothing stops."""
        self._record(epoch, train_loss, val_ua)
        if val_ua is None:
            self.best_epoch = epoch
            return False
        if val_ua > self.best_ua:
            self.best_ua, self.best_epoch, self.bad = val_ua, epoch, 0
            self.best_state = copy.deepcopy(state())
            return False
        self.bad += 1
        return self.bad >= self.patience

    def _record(self, epoch: int, train_loss: Optional[float], val_ua: Optional[float]) -> None:
        self.history["epoch"].append(epoch)
        self.history["train_loss"].append(train_loss)
        self.history["val_ua"].append(val_ua)


@dataclass
class TrainResult:
    head: torch.nn.Module
    history: Dict[str, list]
    best_epoch: int


def _class_weights(y: torch.Tensor, num_classes: int, mode: str) -> Optional[torch.Tensor]:
    if mode == "none":
        return None
    if mode != "balanced":
        raise ValueError(f"class_weight must be none or balanced, got {mode}")
    counts = torch.bincount(y, minlength=num_classes).double()
    w = counts.sum() / (num_classes * counts.clamp(min=1))
    return w.float()


@torch.no_grad()
def score(
    head: torch.nn.Module,
    data: FrameData,
    utts: np.ndarray,
    device: str = "cpu",
    chunk: int = 16384,
) -> Dict[str, torch.Tensor]:
    """Utterance decisions (every aggregation) and posteriors for the utterances ``utts``."""
    head.eval()
    rows = data.frame_rows(utts)
    out = []
    for s in range(0, len(rows), chunk):
        x = data.feats[torch.from_numpy(rows[s : s + chunk])].to(device).float()
        out.append(head(x).cpu())
    log_probs = torch.cat(out) if out else torch.zeros(0, len(data.classes))
    utt_index = torch.from_numpy(data.frame_utt_index(utts))
    return aggregate(log_probs, utt_index, len(utts))


def _val_ua(head: torch.nn.Module, data: FrameData, utts: np.ndarray, device: str) -> float:
    pred = score(head, data, utts, device)["sum_softmax"].numpy()
    return summarize(data.labels[utts], pred, data.classes)["ua"]


def train_head(
    data: FrameData,
    train_utts: np.ndarray,
    val_utts: Optional[np.ndarray],
    cfg: HeadConfig,
    device: str = "cpu",
    num_epochs: Optional[int] = None,
    seed_offset: int = 0,
    head: Optional[torch.nn.Module] = None,
) -> TrainResult:
    """Train a head on the frames of ``train_utts``.

    With ``val_utts``: up to ``cfg.max_epochs`` epochs, early stopping after ``cfg.patience``
    epochs without a better validation UA, the best epoch's weights are returned. Without:
    exactly ``num_epochs`` epochs (the deployable head trained on all data). ``head``: another
    frame-level module (``data.feats`` rows in, log-probabilities out) with its standardizer
    already fitted; default a new :class:`EmotionHead` of ``cfg``.
    """
    seed = cfg.seed * 7919 + seed_offset
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rows = torch.from_numpy(data.frame_rows(train_utts))
    if torch.device(device).type == "cpu":
        # minibatches are gathered from the frame matrix: no copy of the training rows
        x_all, row_of = data.feats, rows
    else:  # the training rows once on the GPU
        x_all, row_of = data.feats[rows].to(device), torch.arange(len(rows), device=device)
    y_all = torch.from_numpy(np.repeat(data.labels[train_utts], data.num_frames()[train_utts]))
    y_all = y_all.to(device)
    num_classes = len(data.classes)
    if head is None:
        head = EmotionHead(data.dim, num_classes, cfg.hidden_dims, cfg.dropout)
        head.standardizer.fit(data.feats, rows)
    head.to(device)
    weights = _class_weights(y_all.cpu(), num_classes, cfg.class_weight)
    loss_fn = torch.nn.NLLLoss(weight=None if weights is None else weights.to(device))
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    epochs = cfg.max_epochs if num_epochs is None else num_epochs
    n = len(rows)
    per_epoch = n if cfg.frames_per_epoch <= 0 else min(n, cfg.frames_per_epoch)
    stopper = EarlyStopping(cfg.patience)
    for epoch in range(1, epochs + 1):
        head.train()
        perm = torch.randperm(n, generator=gen)[:per_epoch].to(device)
        total, count = 0.0, 0
        for s in range(0, per_epoch, cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            loss = loss_fn(head(x_all[row_of[idx]].float()), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            count += len(idx)
        train_loss = total / max(count, 1)
        ua = None if val_utts is None else _val_ua(head, data, val_utts, device)
        if ua is not None:
            logging.info("epoch %d: train loss %.4f, validation UA %.4f", epoch, train_loss, ua)
        if stopper.update(epoch, train_loss, ua, head.state_dict):
            break
    if stopper.best_state is not None:
        head.load_state_dict(stopper.best_state)
    head.to("cpu").eval()
    return TrainResult(head, stopper.history, stopper.best_epoch)


def prediction_records(
    data: FrameData, utts: np.ndarray, scored: Dict[str, torch.Tensor]
) -> List[Dict]:
    """One JSON-able record per utterance: id, speaker, session, label, pred per aggregation."""
    recs = []
    post = scored["posteriors"].tolist()
    for j, u in enumerate(np.asarray(utts).tolist()):
        recs.append(
            {
                "id": data.ids[u],
                "speaker": data.speakers[u],
                "session": int(data.sessions[u]),
                "label": data.classes[int(data.labels[u])],
                "pred": {a: data.classes[int(scored[a][j])] for a in AGGREGATIONS},
                "posteriors": {c: round(p, 6) for c, p in zip(data.classes, post[j])},
                "num_frames": int(data.num_frames()[u]),
            }
        )
    return recs


def cv_record(cfg: HeadConfig, inputs: Optional[Mapping[str, Path]] = None, **settings) -> Dict:
    """The marker record of a cross-validation (and of each of its folds): the head settings,
    any other ``settings`` that shape the result (classes, frame type) and the inputs."""
    return make_record("train-emotion", dict(asdict(cfg), **settings), inputs or {})


def run_fold(
    data: FrameData,
    fold: Fold,
    fold_dir: Path,
    cfg: HeadConfig,
    device: str,
    record: Optional[Mapping] = None,
) -> None:
    """Train, early-stop and score one fold; outputs in ``fold_dir`` with ``.done`` last."""
    check_disjoint_speakers(fold, data.speakers)
    logging.info(
        "fold %d: test session %d (%d utts), validation speaker %s (%d utts), %d training utts",
        fold.fold,
        fold.test_session,
        len(fold.test),
        fold.val_speaker,
        len(fold.val),
        len(fold.train),
    )
    missing = sorted(set(data.classes) - {data.classes[int(data.labels[u])] for u in fold.train})
    if missing:
        logging.warning(
            "fold %d: no training utterance of class(es) %s; the head cannot predict them on "
            "session %d, whose UA is capped accordingly",
            fold.fold,
            ", ".join(missing),
            fold.test_session,
        )
    res = train_head(data, fold.train, fold.val, cfg, device, seed_offset=fold.fold)
    recs = prediction_records(data, fold.test, score(res.head, data, fold.test))
    fold_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(fold_dir / "predictions.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    write_json(
        fold_dir / "history.json",
        {
            **res.history,
            "best_epoch": res.best_epoch,
            "val_speaker": fold.val_speaker,
            "test_session": fold.test_session,
            "num_train_utts": len(fold.train),
        },
    )
    with atomic_path(fold_dir / "head.pt") as tmp:
        save_head(res.head, tmp, data.classes)
    write_marker(fold_dir, record if record is not None else cv_record(cfg))


def read_predictions(path: Path) -> List[Dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def metrics_from_predictions(
    layer: str, folds: Dict[int, List[Dict]], classes: Sequence[str]
) -> Dict:
    """The ``metrics.json`` of a layer from the per-fold predictions (schema: see module doc of
    :mod:`asr2emo.bin.train_emotion`)."""
    aggs: Dict[str, Dict] = {
        agg: cv_summary(folds, classes, lambda r, agg=agg: r["pred"][agg]) for agg in AGGREGATIONS
    }
    main = aggs["sum_softmax"]
    return {
        "layer": layer,
        "aggregation": "sum_softmax",
        "classes": list(classes),
        "ua": main["ua"],
        "wa": main["wa"],
        "ua_fold_mean": main["ua_fold_mean"],
        "wa_fold_mean": main["wa_fold_mean"],
        "per_class_recall": main["per_class_recall"],
        "confusion": main["confusion"],
        "n": main["n"],
        "folds": main["folds"],
        "aggregations": aggs,
    }


def cross_validate(
    data: FrameData,
    layer: str,
    layer_dir: Path,
    cfg: HeadConfig,
    device: str = "cpu",
    record: Optional[Mapping] = None,
) -> Dict:
    """Leave-one-session-out CV of one layer; writes fold dirs, ``metrics.json`` and ``.done``
    (``record``, default :func:`cv_record` of ``cfg``)."""
    layer_dir = Path(layer_dir)
    record = record if record is not None else cv_record(cfg)
    folds = make_folds(data.sessions, data.speakers, cfg.seed)
    preds: Dict[int, List[Dict]] = {}
    best_epochs = []
    for fold in folds:
        fold_dir = layer_dir / f"fold-{fold.fold}"
        if needs_run(fold_dir, record, f"{layer} fold {fold.fold}"):
            run_fold(data, fold, fold_dir, cfg, device, record)
        preds[fold.fold] = read_predictions(fold_dir / "predictions.jsonl")
        best_epochs.append(json.loads((fold_dir / "history.json").read_text())["best_epoch"])
    metrics = metrics_from_predictions(layer, preds, data.classes)
    metrics["best_epochs"] = best_epochs
    metrics["num_utts"] = data.num_utts
    metrics["num_frames"] = int(data.offsets[-1])
    metrics["config"] = asdict(cfg)
    write_json(layer_dir / "metrics.json", metrics)
    write_marker(layer_dir, record)
    logging.info(
        "%s: UA %.4f WA %.4f (pooled over %d utts); fold UAs %s",
        layer,
        metrics["ua"],
        metrics["wa"],
        metrics["n"],
        " ".join(f"{f['ua']:.3f}" for f in metrics["folds"]),
    )
    return metrics


def validation_ua(layer_dir: Path) -> Optional[float]:
    """Mean over folds of the best validation UA (early-stopping speakers), None without any.

    Measured on speakers of the training sessions only, so choosing a layer by it never looks at
    a test fold (the CV UA would).
    """
    best = []
    for history in sorted(Path(layer_dir).glob("fold-*/history.json")):
        values = [v for v in json.loads(history.read_text()).get("val_ua", []) if v is not None]
        if values:
            best.append(max(values))
    return float(np.mean(best)) if best else None


def final_epochs(best_epochs: Sequence[int]) -> int:
    """Epochs of the deployable head: the median of the folds' early-stopping epochs."""
    return max(1, int(round(statistics.median(best_epochs))))


def train_final(data: FrameData, cfg: HeadConfig, epochs: int, device: str = "cpu") -> EmotionHead:
    """The deployable head: every utterance, a fixed number of epochs, no validation."""
    res = train_head(
        data, np.arange(data.num_utts), None, cfg, device, num_epochs=epochs, seed_offset=10_000
    )
    return res.head
