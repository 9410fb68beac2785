"""What a trained candidate system keeps, and its posteriors on any inputs.

A :class:`Member` holds one base system's trained parts (a head, an SVM pipeline, the layer
mixture and block standardization of early fusion); :func:`member_posteriors` scores the
utterances of any :class:`SystemInputs` with it. The cross-validation (``systems.run``) and the
exported deploy system (``systems.export``) score through the same function, so what is
deployed is what was evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from asr2emo.emotion.data import FrameData
from asr2emo.emotion.train import score
from asr2emo.systems.heads import asp_forward, posteriors, stats_forward

BlockScale = List[Tuple[np.ndarray, np.ndarray]]  # per block: mean, std (before / sqrt(width))


@dataclass
class SystemInputs:
    """What the systems read, utterance for utterance in the order of ``data``."""

    data: FrameData  # the paper layer's frames
    stats: torch.Tensor  # (U, L, 2 D) every mixed layer's utterance mean/std
    egemaps: np.ndarray  # (U, F) eGeMAPS functionals
    paper_index: Optional[int] = None  # the paper layer's place among the mixed layers
    mix_frames: Optional[FrameData] = None  # (N, L, D) frames of every mixed layer


@dataclass
class Member:
    """One trained base system: ``model`` is the head (frame, frame_mix, asp, layer_mix) or
    the SVM pipeline (egemaps, early, early_layer); early fusion also keeps the layer mixture
    whose pooled statistics it reads (``mix``) and its blocks' standardization (``scale``)."""

    name: str
    class_weight: str
    model: Any
    mix: Optional[torch.nn.Module] = None
    scale: BlockScale = field(default_factory=list)


def fit_block_scale(blocks: Sequence[np.ndarray], train: np.ndarray) -> BlockScale:
    """Each block's mean and std (floored at 1e-5) on the ``train`` rows."""
    out = []
    for x in blocks:
        x = np.asarray(x, dtype=np.float64)
        out.append((x[train].mean(axis=0), np.maximum(x[train].std(axis=0), 1e-5)))
    return out


def apply_block_scale(blocks: Sequence[np.ndarray], scale: BlockScale) -> np.ndarray:
    """The blocks side by side, each standardized by ``scale`` and divided by the square root
    of its width: every block has unit total variance on the training utterances, so 512
    bottleneck statistics do not drown 88 eGeMAPS functionals in the rbf distance."""
    out = []
    for x, (mean, std) in zip(blocks, scale):
        x = np.asarray(x, dtype=np.float64)
        out.append((x - mean) / std / np.sqrt(x.shape[1]))
    return np.concatenate(out, axis=1)


def block_features(blocks: Sequence[np.ndarray], train: np.ndarray) -> np.ndarray:
    """:func:`apply_block_scale` with the scale fitted on the ``train`` rows."""
    return apply_block_scale(blocks, fit_block_scale(blocks, train))


def full_posteriors(pipe: Pipeline, x: np.ndarray, num_classes: int) -> np.ndarray:
    """``predict_proba`` with a column for every class (0 for classes absent in training)."""
    out = np.zeros((len(x), num_classes))
    out[:, pipe.classes_] = pipe.predict_proba(x)
    return out


def frame_posteriors(head: torch.nn.Module, frames: FrameData, utts: np.ndarray) -> np.ndarray:
    """A frame-level head's normalized summed softmax per utterance."""
    return score(head, frames, np.asarray(utts))["posteriors"].numpy()


def early_blocks(m: Member, inp: SystemInputs) -> List[np.ndarray]:
    """Early fusion's input blocks: [layer-mixed (early) or paper-layer (early_layer)
    utterance statistics ; eGeMAPS]."""
    if m.name == "early":
        m.mix.eval()
        with torch.no_grad():
            block = m.mix.pooled(inp.stats).numpy()
    else:
        block = inp.stats[:, inp.paper_index].numpy()
    return [block, inp.egemaps]


def member_posteriors(m: Member, inp: SystemInputs, utts: np.ndarray) -> np.ndarray:
    """``(len(utts), C)`` posteriors of the member on the utterances ``utts`` of ``inp``."""
    utts = np.asarray(utts)
    num_classes = len(inp.data.classes)
    if len(utts) == 0:  # the deploy pool has no test utterances; an SVM refuses none
        return np.zeros((0, num_classes))
    if m.name == "frame":
        return frame_posteriors(m.model, inp.data, utts)
    if m.name == "frame_mix":
        return frame_posteriors(m.model, inp.mix_frames, utts)
    if m.name == "asp":
        return posteriors(m.model, asp_forward(inp.data), utts)
    if m.name == "layer_mix":
        return posteriors(m.model, stats_forward(inp.stats), utts)
    if m.name == "egemaps":
        return full_posteriors(m.model, inp.egemaps[utts], num_classes)
    if m.name in ("early", "early_layer"):
        x = apply_block_scale([b[utts] for b in early_blocks(m, inp)], m.scale)
        return full_posteriors(m.model, x, num_classes)
    raise ValueError(f"unknown system {m.name}")
