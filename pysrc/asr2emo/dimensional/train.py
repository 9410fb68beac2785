"""Valence/arousal/dominance regression on bottleneck frames, cross-validated on stage 8's folds.

The head maps every frame to the three dimensions (standardized frames -> [dense + ReLU]* ->
dense); an utterance's prediction is the mean over its frames, and the loss (MSE on
standardized targets, or 1 - mean CCC) is taken on those utterance predictions, minibatches of
utterances shuffled each epoch (Adam). Early stopping on the validation speaker's mean CCC.

Two references per fold: the **mean predictor** (the training utterances' mean, constant) and
**eGeMAPS + ridge regression** (standardized on the training fold). Every system's predictions
are clipped to the range of the training ratings (IEMOCAP 1-5). Both fit on every
utterance outside the test session; the head trains on stage 8's training speakers and early-
stops on its validation speaker.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from asr2emo.dimensional.data import DIMENSIONS, DimData
from asr2emo.dimensional.metrics import ccc, ccc_loss, scores
from asr2emo.emotion.folds import Fold
from asr2emo.emotion.head import Standardizer

SYSTEMS = ("head", "mean_predictor", "egemaps_ridge")


@dataclass
class RegConfig:
    """Hyper-parameters of the regression head (``conf/dimensional.conf``)."""

    hidden_dims: List[int] = field(default_factory=list)
    dropout: float = 0.0
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_utts: int = 32
    max_epochs: int = 30
    patience: int = 5
    loss: str = "ccc"  # ccc | mse
    ridge_alpha: float = 10.0
    seed: int = 1


class RegressionHead(nn.Module):
    """Frames ``(N, D)`` -> ``(N, 3)`` in standardized target units."""

    def __init__(self, input_dim: int, hidden_dims: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.standardizer = Standardizer(input_dim)
        self.register_buffer("target_mean", torch.zeros(len(DIMENSIONS)))
        self.register_buffer("target_std", torch.ones(len(DIMENSIONS)))
        layers: List[nn.Module] = []
        dim = input_dim
        for h in hidden_dims:
            layers += [nn.Linear(dim, h), nn.ReLU(), nn.Dropout(dropout)]
            dim = h
        layers.append(nn.Linear(dim, len(DIMENSIONS)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.standardizer(x))


def utterance_means(
    head: RegressionHead, data: DimData, utts: np.ndarray, chunk: int = 16384, device="cpu"
) -> torch.Tensor:
    """Standardized utterance predictions ``(len(utts), 3)``: mean of the frames' outputs,
    computed on ``device`` (where the head is)."""
    fd = data.frames
    rows = fd.frame_rows(utts)
    idx = torch.from_numpy(fd.frame_utt_index(utts)).to(device)
    outs = [
        head(fd.feats[torch.from_numpy(rows[s : s + chunk])].to(device).float())
        for s in range(0, len(rows), chunk)
    ]
    out = torch.cat(outs) if outs else torch.zeros(0, len(DIMENSIONS), device=device)
    summed = torch.zeros(len(utts), len(DIMENSIONS), device=device).index_add_(0, idx, out)
    counts = torch.from_numpy(fd.num_frames()[np.asarray(utts)]).float().clamp(min=1)
    return summed / counts.to(device)[:, None]


@torch.no_grad()
def predict(head: RegressionHead, data: DimData, utts: np.ndarray, device="cpu") -> np.ndarray:
    """Utterance predictions on the original scale, ``(len(utts), 3)``."""
    head.eval()
    z = utterance_means(head, data, utts, device=device)
    return (z * head.target_std + head.target_mean).double().cpu().numpy()


def _mean_ccc(pred: np.ndarray, gold: np.ndarray) -> float:
    vals = [ccc(pred[:, j], gold[:, j]) for j in range(gold.shape[1])]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else -1.0


def train_regressor(
    data: DimData,
    train_utts: np.ndarray,
    val_utts: Optional[np.ndarray],
    cfg: RegConfig,
    seed_offset: int = 0,
    device="cpu",
) -> tuple[RegressionHead, Dict[str, list], int]:
    """Train on ``train_utts`` on ``device``; early stopping on ``val_utts``' mean CCC; the best
    weights back (on the CPU)."""
    if cfg.loss not in ("ccc", "mse"):
        raise ValueError(f"loss must be ccc or mse, got {cfg.loss}")
    seed = cfg.seed * 7919 + seed_offset
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    fd = data.frames
    head = RegressionHead(fd.dim, cfg.hidden_dims, cfg.dropout)
    head.standardizer.fit(fd.feats, torch.from_numpy(fd.frame_rows(train_utts)))
    y = torch.from_numpy(data.targets[train_utts]).float()
    head.target_mean.copy_(y.mean(dim=0))
    head.target_std.copy_(y.std(dim=0, unbiased=False).clamp(min=1e-3))
    z_all = ((y - head.target_mean) / head.target_std).to(device)
    head.to(device)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: Dict[str, list] = {"epoch": [], "train_loss": [], "val_ccc": []}
    best, best_epoch, best_state, bad = -np.inf, 0, None, 0
    n = len(train_utts)
    for epoch in range(1, cfg.max_epochs + 1):
        head.train()
        perm = torch.randperm(n, generator=gen).numpy()
        total = 0.0
        for s in range(0, n, cfg.batch_utts):
            b = perm[s : s + cfg.batch_utts]
            if len(b) < 2 and cfg.loss == "ccc":
                continue  # CCC of one utterance is undefined
            pred = utterance_means(head, data, train_utts[b], device=device)
            gold = z_all[torch.from_numpy(b)]
            loss = ccc_loss(pred, gold) if cfg.loss == "ccc" else ((pred - gold) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(b)
        history["epoch"].append(epoch)
        history["train_loss"].append(total / n)
        if val_utts is None or len(val_utts) < 2:
            history["val_ccc"].append(None)
            best_epoch = epoch
            continue
        v = _mean_ccc(predict(head, data, val_utts, device), data.targets[val_utts])
        history["val_ccc"].append(v)
        if v > best:
            best, best_epoch, bad = v, epoch, 0
            best_state = copy.deepcopy(head.state_dict())
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        head.load_state_dict(best_state)
    head.to("cpu").eval()
    return head, history, best_epoch


def ridge_pipeline(alpha: float) -> Pipeline:
    return Pipeline([("scaler", StandardScaler()), ("ridge", Ridge(alpha=alpha))])


def run_fold(
    data: DimData,
    fold: Fold,
    cfg: RegConfig,
    systems: Sequence[str],
    egemaps: Optional[np.ndarray] = None,
    device="cpu",
) -> tuple[Dict[str, np.ndarray], Dict]:
    """``({system: (len(test), 3) predictions}, info)`` for one fold (the head on ``device``)."""
    outside = np.sort(np.concatenate([fold.train, fold.val]))
    preds: Dict[str, np.ndarray] = {}
    info: Dict = {"fold": fold.fold, "val_speaker": fold.val_speaker}
    if "head" in systems:
        head, hist, best_epoch = train_regressor(data, fold.train, fold.val, cfg, fold.fold, device)
        preds["head"] = predict(head, data, fold.test)
        info.update({"history": hist, "best_epoch": best_epoch})
    if "mean_predictor" in systems:
        mean = data.targets[outside].mean(axis=0)
        preds["mean_predictor"] = np.repeat(mean[None, :], len(fold.test), axis=0)
    if "egemaps_ridge" in systems:
        pipe = ridge_pipeline(cfg.ridge_alpha).fit(egemaps[outside], data.targets[outside])
        preds["egemaps_ridge"] = pipe.predict(egemaps[fold.test])
    # ratings live on a bounded scale: clip to the training ratings' range (one utterance with
    # an extreme standardized feature can otherwise dominate the MSE of a linear model)
    lo, hi = data.targets[outside].min(axis=0), data.targets[outside].max(axis=0)
    return {s: np.clip(p, lo, hi) for s, p in preds.items()}, info


def _nan_to_none(x: float) -> Optional[float]:
    return None if x is None or not np.isfinite(x) else float(x)


def score_table(pred: np.ndarray, gold: np.ndarray) -> Dict[str, Dict[str, Optional[float]]]:
    return {
        d: {k: _nan_to_none(v) for k, v in scores(pred[:, j], gold[:, j]).items()}
        for j, d in enumerate(DIMENSIONS)
    }


def cross_validate_dimensional(
    data: DimData,
    folds: Sequence[Fold],
    cfg: RegConfig,
    systems: Sequence[str],
    egemaps: Optional[np.ndarray] = None,
    device="cpu",
) -> tuple[Dict, List[Dict]]:
    """``(metrics, prediction records)`` over all folds (schema in
    :mod:`asr2emo.bin.train_dimensional`); the heads are trained on ``device``."""
    fd = data.frames
    per_system: Dict[str, Dict] = {s: {"folds": []} for s in systems}
    pooled_pred: Dict[str, List[np.ndarray]] = {s: [] for s in systems}
    pooled_gold: List[np.ndarray] = []
    records: List[Dict] = []
    infos = []
    for fold in folds:
        preds, info = run_fold(data, fold, cfg, systems, egemaps, device)
        gold = data.targets[fold.test]
        pooled_gold.append(gold)
        infos.append({k: v for k, v in info.items()})
        for s in systems:
            pooled_pred[s].append(preds[s])
            row = {"fold": fold.fold, "test_session": fold.test_session, "n": len(fold.test)}
            row.update(score_table(preds[s], gold))
            per_system[s]["folds"].append(row)
        for j, u in enumerate(fold.test.tolist()):
            records.append(
                {
                    "id": fd.ids[u],
                    "speaker": fd.speakers[u],
                    "session": int(fd.sessions[u]),
                    "fold": fold.fold,
                    "gold": dict(zip(DIMENSIONS, map(float, gold[j]))),
                    "pred": {
                        s: {d: round(float(v), 5) for d, v in zip(DIMENSIONS, preds[s][j])}
                        for s in systems
                    },
                }
            )
        logging.info(
            "fold %d: CCC v/a/d %s",
            fold.fold,
            "; ".join(
                f"{s} "
                + "/".join(
                    (
                        "nan"
                        if per_system[s]["folds"][-1][d]["ccc"] is None
                        else f"{per_system[s]['folds'][-1][d]['ccc']:.3f}"
                    )
                    for d in DIMENSIONS
                )
                for s in systems
            ),
        )
    gold_all = np.concatenate(pooled_gold)
    for s in systems:
        per_system[s]["pooled"] = score_table(np.concatenate(pooled_pred[s]), gold_all)
        per_system[s]["fold_mean"] = {
            d: {
                k: _nan_to_none(
                    np.mean([f[d][k] for f in per_system[s]["folds"] if f[d][k] is not None])
                    if any(f[d][k] is not None for f in per_system[s]["folds"])
                    else float("nan")
                )
                for k in ("ccc", "pearson", "mse")
            }
            for d in DIMENSIONS
        }
    metrics = {
        "dimensions": list(DIMENSIONS),
        "systems": per_system,
        "num_utts": fd.num_utts,
        "folds_info": infos,
    }
    return metrics, records
