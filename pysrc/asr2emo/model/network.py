"""The TDNN-F's computation, written once and scriptable: input splicing and the layer pass.

:class:`asr2emo.model.tdnnf.TdnnfModel` (training, decoding, bottleneck extraction) and the
TorchScript/ONNX exports (:mod:`asr2emo.emotion.torchscript`, :mod:`asr2emo.emotion.onnx_export`)
run these same two pieces, so an export cannot drift from the model it was cut from:

- :func:`splice_frames`: frames at given input positions, spliced with the i-vector of each frame
  (Kaldi's ``Append(Offset(input, -1), input, Offset(input, 1), ReplaceIndex(ivector, t, 0))``);
- :class:`LayerCut`: ``lda`` and the layers up to the deepest wanted one, subsampling where the
  strides become multiples of the factor, each wanted layer's output cut to the output frames.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from torch import nn


def splice_frames(
    normed: torch.Tensor,
    ivectors: torch.Tensor,
    idx: torch.Tensor,
    splice: List[int],
    ivector_period: int,
) -> torch.Tensor:
    """``(N, in_dim, W)`` network input from CMVN-normalized frames ``(N, T, F)``.

    ``idx (N, W + splice[-1] - splice[0])``: the input frame read at each position (already
    clamped into its sequence: edge frames repeat); the i-vector of frame t is
    ``ivectors[:, min(t // period, T_iv - 1)]``. Output position w holds frames
    ``idx[w - splice[0] + o]`` for every offset o, then the i-vector of the centre frame.
    """
    x = torch.gather(normed, 1, idx.unsqueeze(-1).expand(-1, -1, normed.shape[2]))
    iv_idx = torch.div(idx, ivector_period, rounding_mode="floor").clamp(max=ivectors.shape[1] - 1)
    iv = torch.gather(ivectors, 1, iv_idx.unsqueeze(-1).expand(-1, -1, ivectors.shape[2]))
    s0 = splice[0]
    w = idx.shape[1] - splice[-1] + s0
    parts: List[torch.Tensor] = []
    for o in splice:
        parts.append(x[:, o - s0 : o - s0 + w])
    parts.append(iv[:, -s0 : -s0 + w])
    return torch.cat(parts, dim=2).transpose(1, 2)


class _WithoutLens(nn.Module):
    """A layer that takes no valid lengths (the output affine) in the pass's calling shape."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor, lens: Optional[torch.Tensor]) -> torch.Tensor:
        return self.module(x)


class LayerCut(nn.Module):
    """``lda`` + the model's layers up to the deepest of ``layers``, as one scriptable pass.

    ``forward(x (N, in_dim, W), lens)`` -> ``{layer: (N, C, T_out)}``. ``margin`` counts the
    full-rate frames each side of the wanted output frames that the remaining layers still
    consume; it is a multiple of the factor at the subsampling point (all later strides are),
    so there the frames at multiples of the factor are kept. ``lens`` (valid frames of each
    sequence after ``lda``; None: all) follow the frames through every layer so that the
    batchnorms leave the padding out in training. The modules are the model's own (shared, not
    copied): a cut sees every update of the model it was made from.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        for layer in layers:
            model.check_layer(layer)
        c = model.config
        self.factor = int(c.frame_subsampling_factor)
        self.lda = model.lda
        names = list(model.layers.keys())
        deepest = max(names.index(n) for n in layers)
        modules = nn.ModuleList()
        emit: List[str] = []
        margins: List[int] = []
        low_rate: List[bool] = []
        margin = sum(c.time_strides)
        for i, name in enumerate(names[: deepest + 1]):
            module = model.layers[name]
            modules.append(module if name != "output" else _WithoutLens(module))
            if 1 <= i <= len(c.time_strides):
                margin -= c.time_strides[i - 1]
            emit.append(name if name in layers else "")
            margins.append(int(margin))
            low_rate.append(bool(c.runs_low_rate(i)))
        self.layers = modules
        self.emit = emit
        self.margins = margins
        self.low_rate = low_rate

    def forward(
        self, x: torch.Tensor, lens: Optional[torch.Tensor] = None
    ) -> Dict[str, torch.Tensor]:
        f = self.factor
        out: Dict[str, torch.Tensor] = {}
        x = self.lda(x)
        subsampled = False
        for i, layer in enumerate(self.layers):
            if self.low_rate[i] and not subsampled:
                x = x[:, :, ::f]
                if lens is not None:
                    lens = torch.div(lens - 1, f, rounding_mode="floor") + 1
                subsampled = True
            y = layer(x, lens)
            if lens is not None:
                lens = lens - (x.shape[2] - y.shape[2])
            x = y
            name = self.emit[i]
            if name != "":
                m = self.margins[i]
                if subsampled:
                    m = m // f
                    out[name] = x[:, :, m : x.shape[2] - m]
                else:
                    out[name] = x[:, :, m : x.shape[2] - m : f]
        return out
