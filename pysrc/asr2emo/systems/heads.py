"""Utterance-level emotion heads over the frozen bottleneck, and their training.

:class:`AspHead`: one layer's frames -> standardizer -> attentive statistics pooling -> MLP.
:class:`LayerMixHead`: every layer's utterance mean/std, standardized per layer, combined by a
learned softmax-weighted sum (as SUPERB weights upstream hidden states; since the mean is linear,
mixing the layers' means equals the mean of the mixed frames), then the same MLP. Both train on
utterance labels with cross-entropy (optionally class-weighted) and stop early on the
validation speaker's UA, as stage 8.
:class:`LayerMixFrameHead`: the paper's frame-level head on a learned softmax mixture of every
layer's standardized frames, per frame (trained by stage 8's own ``train_head``). Both mixtures
follow s3prl's ``Featurizer`` (``s3prl/nn/upstream.py``: zero-initialised layer logits, softmax,
weighted sum of same-shaped hidden states).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np
import torch
from torch import nn

from asr2emo.emotion.data import FrameData
from asr2emo.emotion.head import EmotionHead, Standardizer
from asr2emo.emotion.metrics import summarize
from asr2emo.emotion.train import EarlyStopping, HeadConfig, _class_weights, train_head
from asr2emo.systems.pooling import AttentiveStatsPooling


@dataclass
class UtteranceHeadConfig:
    """Hyper-parameters of both utterance-level heads (``conf/systems.conf``)."""

    hidden_dim: int = 128
    attention_dim: int = 64
    dropout: float = 0.3
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 16
    max_epochs: int = 40
    patience: int = 8
    seed: int = 1


def _mlp(dim: int, hidden: int, num_classes: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(dim, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )


class AspHead(nn.Module):
    """``(B, T, D)`` raw frames + ``(B, T)`` mask -> ``(B, C)`` logits."""

    def __init__(self, dim: int, num_classes: int, cfg: UtteranceHeadConfig) -> None:
        super().__init__()
        self.standardizer = Standardizer(dim)
        self.pool = AttentiveStatsPooling(dim, cfg.attention_dim)
        self.mlp = _mlp(2 * dim, cfg.hidden_dim, num_classes, cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.pool(self.standardizer(x), mask))


class LayerMixHead(nn.Module):
    """``(B, L, S)`` per-layer utterance statistics -> ``(B, C)`` logits."""

    def __init__(self, num_layers: int, dim: int, num_classes: int, cfg: UtteranceHeadConfig):
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_layers, dim))
        self.register_buffer("std", torch.ones(num_layers, dim))
        self.logits = nn.Parameter(torch.zeros(num_layers))  # uniform mixture at the start
        self.mlp = _mlp(dim, cfg.hidden_dim, num_classes, cfg.dropout)

    @torch.no_grad()
    def fit_standardizer(self, stats: torch.Tensor, floor: float = 1e-5) -> None:
        """Per-layer mean and std of the training utterances' statistics ``(U, L, S)``."""
        x = stats.double()
        self.mean.copy_(x.mean(dim=0).float())
        self.std.copy_(x.std(dim=0, unbiased=False).clamp(min=floor).float())

    def layer_weights(self) -> torch.Tensor:
        """``(L,)`` the mixture weights (softmax: non-negative, summing to 1)."""
        return torch.softmax(self.logits, dim=0)

    def pooled(self, stats: torch.Tensor) -> torch.Tensor:
        """``(B, S)`` the standardized statistics mixed by the layer weights."""
        z = (stats - self.mean) / self.std
        return (self.layer_weights()[None, :, None] * z).sum(dim=1)

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.pooled(stats))


class LayerMixFrameHead(nn.Module):
    """``(N, L, D)`` raw frames of ``L`` layers -> ``(N, C)`` log-probabilities: per-layer
    standardization, a softmax-weighted sum over the layers (SUPERB's weighted sum of hidden
    states, applied frame by frame), then the layers of the paper's :class:`EmotionHead`."""

    def __init__(self, num_layers: int, dim: int, num_classes: int, cfg: HeadConfig) -> None:
        super().__init__()
        self.num_layers, self.dim = num_layers, dim
        self.standardizer = Standardizer(num_layers * dim)  # the layers side by side
        self.logits = nn.Parameter(torch.zeros(num_layers))  # uniform mixture at the start
        self.net = EmotionHead(dim, num_classes, cfg.hidden_dims, cfg.dropout).net

    def fit_standardizer(self, feats: torch.Tensor, rows: torch.Tensor) -> None:
        """Mean and std per layer and dimension of the training ``rows`` of ``(N, L, D)``."""
        self.standardizer.fit(feats.reshape(len(feats), -1), rows)

    def layer_weights(self) -> torch.Tensor:
        """``(L,)`` the mixture weights (softmax: non-negative, summing to 1)."""
        return torch.softmax(self.logits, dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.standardizer(x.reshape(len(x), -1).float()).view(-1, self.num_layers, self.dim)
        mixed = (self.layer_weights()[None, :, None] * z).sum(dim=1)
        return torch.log_softmax(self.net(mixed), dim=-1)


def pad_frames(data: FrameData, utts: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(B, T_max, D)`` float32 frames of ``utts`` zero-padded, and the ``(B, T_max)`` mask."""
    lens = data.num_frames()[utts]
    x = torch.zeros(len(utts), int(lens.max()), data.dim)
    mask = torch.zeros(len(utts), int(lens.max()), dtype=torch.bool)
    for j, (u, n) in enumerate(zip(utts.tolist(), lens.tolist())):
        x[j, :n] = data.feats[data.offsets[u] : data.offsets[u] + n].float()
        mask[j, :n] = True
    return x, mask


Forward = Callable[[nn.Module, np.ndarray], torch.Tensor]


@torch.no_grad()
def posteriors(model: nn.Module, forward: Forward, utts: np.ndarray, batch: int = 64):
    """``(len(utts), C)`` softmax posteriors of the utterances ``utts`` (eval mode)."""
    model.eval()
    out = [
        torch.softmax(forward(model, utts[s : s + batch]), dim=1)
        for s in range(0, len(utts), batch)
    ]
    return torch.cat(out).numpy()


def fit(
    model: nn.Module,
    forward: Forward,
    labels: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    classes,
    cfg: UtteranceHeadConfig,
    seed_offset: int = 0,
    class_weight: str = "none",
) -> dict:
    """Adam on the cross-entropy of ``train`` utterances, early stopping on ``val``'s UA; the
    best epoch's weights stay in ``model``. Returns the history (epochs, losses, val UAs).
    ``class_weight="balanced"``: each class weighted by the inverse of its training frequency
    (stage 8's rule, on utterances), the loss being the weighted mean."""
    gen = torch.Generator().manual_seed(cfg.seed * 7919 + seed_offset)
    torch.manual_seed(cfg.seed * 7919 + seed_offset)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    weight = _class_weights(y[torch.from_numpy(train)], len(classes), class_weight)
    stopper = EarlyStopping(cfg.patience)
    for epoch in range(1, cfg.max_epochs + 1):
        model.train()
        order = train[torch.randperm(len(train), generator=gen).numpy()]
        total = 0.0
        for s in range(0, len(order), cfg.batch_size):
            b = order[s : s + cfg.batch_size]
            loss = nn.functional.cross_entropy(forward(model, b), y[b], weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(b)
        pred = posteriors(model, forward, val).argmax(axis=1)
        ua = summarize(labels[val], pred, list(classes))["ua"]
        if stopper.update(epoch, total / len(order), ua, model.state_dict):
            break
    model.load_state_dict(stopper.best_state)
    model.eval()
    return {**stopper.history, "best_epoch": stopper.best_epoch, "best_val_ua": stopper.best_ua}


def asp_forward(data: FrameData) -> Forward:
    """The forward of an :class:`AspHead` on utterance indices into ``data``."""

    def forward(model: nn.Module, utts: np.ndarray) -> torch.Tensor:
        x, mask = pad_frames(data, np.asarray(utts))
        return model(x, mask)

    return forward


def stats_forward(stats: torch.Tensor) -> Forward:
    """The forward of a :class:`LayerMixHead` on utterance indices into ``stats`` (U, L, S)."""
    return lambda model, utts: model(stats[torch.from_numpy(np.asarray(utts))])


def train_asp(
    data: FrameData,
    train: np.ndarray,
    val: np.ndarray,
    cfg: UtteranceHeadConfig,
    fold: int,
    class_weight: str = "none",
) -> Tuple[AspHead, dict]:
    """An :class:`AspHead` on one fold (standardizer from the training frames only)."""
    torch.manual_seed(cfg.seed * 7919 + fold)
    model = AspHead(data.dim, len(data.classes), cfg)
    model.standardizer.fit(data.feats, torch.from_numpy(data.frame_rows(train)))
    forward = asp_forward(data)
    hist = fit(model, forward, data.labels, train, val, data.classes, cfg, fold, class_weight)
    return model, hist


def train_layer_mix(
    stats: torch.Tensor,
    labels: np.ndarray,
    classes,
    train: np.ndarray,
    val: np.ndarray,
    cfg: UtteranceHeadConfig,
    fold: int,
    init: Optional[torch.Tensor] = None,
    class_weight: str = "none",
) -> Tuple[LayerMixHead, dict]:
    """A :class:`LayerMixHead` on one fold (per-layer standardizer from training utterances)."""
    torch.manual_seed(cfg.seed * 7919 + fold)
    model = LayerMixHead(stats.shape[1], stats.shape[2], len(classes), cfg)
    model.fit_standardizer(stats[torch.from_numpy(train)])
    if init is not None:
        model.logits.data.copy_(init)
    forward = stats_forward(stats)
    hist = fit(model, forward, labels, train, val, classes, cfg, fold, class_weight)
    return model, hist


def train_frame_mix(
    frames: FrameData,
    train: np.ndarray,
    val: np.ndarray,
    cfg: HeadConfig,
    fold: int,
) -> Tuple[LayerMixFrameHead, dict]:
    """A :class:`LayerMixFrameHead` on one fold, trained exactly as stage 8 trains its head
    (``cfg``: stage 8's settings, its class weight included); ``frames.feats`` is ``(N, L, D)``."""
    torch.manual_seed(cfg.seed * 7919 + fold)
    _, num_layers, dim = frames.feats.shape
    model = LayerMixFrameHead(num_layers, dim, len(frames.classes), cfg)
    model.fit_standardizer(frames.feats, torch.from_numpy(frames.frame_rows(train)))
    res = train_head(frames, train, val, cfg, seed_offset=fold, head=model)
    hist = {**res.history, "best_epoch": res.best_epoch}
    return res.head, {**hist, "layer_weights": res.head.layer_weights().tolist()}
