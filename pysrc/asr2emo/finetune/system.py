"""The TDNN-F split at a layer boundary: a frozen bottom computed once, a trainable top.

For bottleneck layer ``layer`` and ``k`` fine-tuned layers, the top is the ``k`` named layers
ending at ``layer`` (for ``tdnnf12``: k=1 -> tdnnf12, k=2 -> tdnnf11, tdnnf12, ...); the bottom
(input assembly, ``lda`` and the layers below) never changes, so its output is computed once
per utterance, whole and with the edge padding of :meth:`TdnnfModel.gather_input`, and the top
is run on it in minibatches. The frame bookkeeping (subsampling point, remaining context) is
that of :meth:`TdnnfModel.run_layers_multi`, so an untrained top gives exactly the frozen
model's layer output (tested).
"""

from __future__ import annotations

import copy
from typing import List, Mapping, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from asr2emo.model.layers import PrefinalLayer, TdnnfLayer
from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel
from asr2emo.utils.errors import UserError


def layer_span(model: TdnnfModel, layer: str, k: int) -> Tuple[int, int]:
    """``(first, last)``: indices in ``model.layer_names`` of the k layers ending at ``layer``."""
    model.check_layer(layer)
    if layer == "output":
        raise UserError("fine-tuning needs a hidden layer (tdnn1 .. prefinal), not 'output'")
    last = model.layer_names.index(layer)
    if k < 0 or k > last + 1:
        raise UserError(f"--finetune-k={k}: layer {layer} has only {last + 1} layers up to it")
    return last - k + 1, last


def _run(
    config: TdnnfConfig,
    layers: Mapping[str, nn.Module],
    names: Sequence[str],
    x: torch.Tensor,
    first: int,
    low_rate: bool,
) -> Tuple[torch.Tensor, bool]:
    """Layers ``names`` (the first at index ``first`` of the layer names) with the subsampling
    rule of ``run_layers_multi``; also whether the output is at the low frame rate."""
    for i, name in enumerate(names, start=first):
        if not low_rate and config.runs_low_rate(i):
            x = x[:, :, :: config.frame_subsampling_factor]
            low_rate = True
        x = layers[name](x)
    return x, low_rate


@torch.no_grad()
def bottom_outputs(
    model: TdnnfModel, feats: Sequence[np.ndarray], ivectors: Sequence[np.ndarray], first: int
) -> List[torch.Tensor]:
    """Per utterance, the ``(C, W)`` input of layer ``first`` (whole utterance, eval mode)."""
    model.eval()
    out = []
    for f, iv in zip(feats, ivectors):
        ft = torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32))[None]
        ivt = torch.from_numpy(np.ascontiguousarray(iv, dtype=np.float32))[None]
        x = model.lda(model.gather_input(ft, ivt, torch.tensor([ft.shape[1]])))
        x, _ = _run(model.config, model.layers, model.layer_names[:first], x, 0, False)
        out.append(x[0].contiguous())
    return out


class TrainableTop(nn.Module):
    """Layers ``first..last`` of a copy of the model (trainable), from cached bottom outputs."""

    def __init__(self, model: TdnnfModel, layer: str, k: int) -> None:
        super().__init__()
        first, last = layer_span(model, layer, k)
        self.first, self.last = first, last
        self.names = model.layer_names[first : last + 1]
        self.layers = nn.ModuleDict({n: copy.deepcopy(model.layers[n]) for n in self.names})
        self.config = model.config
        self.in_low_rate = first >= 1 and model.config.runs_low_rate(first - 1)
        self.margin = sum(model.config.time_strides[last:])

    def forward(self, bottoms: Sequence[torch.Tensor], out_lens: torch.Tensor) -> torch.Tensor:
        """Right-padded batch of cached bottoms -> ``(N, T_out_max, C)`` (rows past
        ``out_lens`` are padding)."""
        c = self.config
        f = c.frame_subsampling_factor
        width = max(b.shape[1] for b in bottoms)
        x = torch.stack([nn.functional.pad(b, (0, width - b.shape[1])) for b in bottoms])
        x, low_rate = _run(c, self.layers, self.names, x, self.first, self.in_low_rate)
        n = int(out_lens.max())
        if low_rate:
            m = self.margin // f
            x = x[:, :, m : m + n]
        else:
            x = x[:, :, self.margin : self.margin + (n - 1) * f + 1 : f]
        return x.transpose(1, 2)

    def constrain_orthonormal(self) -> None:
        for m in self.modules():
            if isinstance(m, (TdnnfLayer, PrefinalLayer)):
                m.constrain_orthonormal()

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
