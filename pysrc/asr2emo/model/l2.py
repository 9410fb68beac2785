"""Kaldi's per-component ``l2-regularize`` of tdnn_1g, as a penalty on the TDNN-F's weights.

Kaldi ``run_tdnn_1g.sh`` sets ``l2-regularize=0.008`` on tdnn1 (``affine_opts``), the tdnnf
layers (``tdnnf_opts``), ``prefinal-l`` (``linear_opts``), ``prefinal-chain`` and
``prefinal-xent`` (``prefinal_opts``), and 0.002 on ``output`` and ``output-xent``
(``output_opts``); ``--chain.l2-regularize 0.0`` (the output l2 of
:class:`asr2emo.lfmmi.loss.LfMmiLoss`) is a different term. ``src/nnet3/nnet-utils.cc``
``ApplyL2Regularization``, called by ``nnet-chain-training.cc`` with scale = the minibatch's
number of chunks, adds ``-2 * l2 * num_chunks * lrate * W`` (weights and biases) to the update of
an objective summed over frames: a gradient step on the penalty ``l2 * num_chunks * ||W||^2``,
kept proportional to the data "so the amount of l2 vs. gradient contribution stays the same"
(its comment). Our loss is per output frame and our sequences are whole utterances, not
chunks, so the same penalty per frame is ``l2 / chunk_frames * ||W||^2`` with ``chunk_frames``
the output frames of a Kaldi chunk (``--egs.chunk-width 150`` / 3 = 50).

Why a penalty and not decoupled weight decay: the penalty's gradient joins the data gradient
before Adam normalizes them, so within every parameter the ratio of the two is Kaldi's; a
decoupled decay (AdamW) shrinks by ``lr * decay`` whatever the gradient scale, which no Kaldi
setting reproduces. Batchnorm follows every regularized affine, so, as in Kaldi, the penalty
mostly acts as a larger effective learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Dict, List

import torch
import torch.nn as nn

from asr2emo.model.layers import PrefinalLayer, TdnnfLayer, TdnnLayer
from asr2emo.model.xent import XentPrefinalLayer
from asr2emo.utils.config import positive_int
from asr2emo.utils.errors import UserError


@dataclass
class LayerL2Config:
    """Per-layer-kind l2 (``conf/lfmmi.conf``); 0 is off, the default, as before it existed."""

    l2_tdnn: float = field(default=0.0, metadata={"help": "tdnn1 (tdnn_1g: 0.008)"})
    l2_tdnnf: float = field(default=0.0, metadata={"help": "tdnnf2.. (tdnn_1g: 0.008)"})
    l2_prefinal: float = field(
        default=0.0, metadata={"help": "prefinal and prefinal-xent (tdnn_1g: 0.008)"}
    )
    l2_output: float = field(
        default=0.0, metadata={"help": "output and output-xent (tdnn_1g: 0.002)"}
    )
    l2_chunk_frames: int = field(
        default=50,
        metadata={
            "type": positive_int,
            "help": "output frames of the Kaldi chunk the l2 values are per (tdnn_1g: 150/3)",
        },
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise UserError(f"--{f.name.replace('_', '-')} must be >= 0")

    @property
    def enabled(self) -> bool:
        return any(v > 0 for v in self.weights().values())

    def weights(self) -> Dict[str, float]:
        return {
            "tdnn": self.l2_tdnn,
            "tdnnf": self.l2_tdnnf,
            "prefinal": self.l2_prefinal,
            "output": self.l2_output,
        }


def l2_groups(model: nn.Module) -> Dict[str, List[nn.Parameter]]:
    """The parameters of each layer kind of a :class:`TdnnfModel` (``lda``: none, as Kaldi's
    fixed-affine ``lda``; batchnorms have none)."""
    groups: Dict[str, List[nn.Parameter]] = {k: [] for k in ("tdnn", "tdnnf", "prefinal")}
    groups["output"] = list(model.layers["output"].parameters())
    for m in model.modules():
        if isinstance(m, TdnnLayer):
            groups["tdnn"] += list(m.parameters())
        elif isinstance(m, TdnnfLayer):
            groups["tdnnf"] += list(m.parameters())
        elif isinstance(m, (PrefinalLayer, XentPrefinalLayer)):
            groups["prefinal"] += list(m.parameters())
    if getattr(model, "xent", None) is not None:
        groups["output"] += list(model.xent["output-xent"].parameters())
    return groups


def l2_penalty(model: nn.Module, config: LayerL2Config) -> torch.Tensor:
    """``sum_kind l2_kind / chunk_frames * sum ||p||^2``: the penalty per output frame."""
    total = next(model.parameters()).new_zeros(())
    groups = l2_groups(model)
    for kind, weight in config.weights().items():
        if weight > 0:
            squares = sum(p.pow(2).sum() for p in groups[kind])
            total = total + weight / config.l2_chunk_frames * squares
    return total
