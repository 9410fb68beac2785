"""The cross-entropy regularizer branch of Kaldi tdnn_1g: ``prefinal-xent`` and ``output-xent``.

Kaldi ``egs/tedlium/s5_r2/local/chain/tuning/run_tdnn_1g.sh``: ``prefinal-xent`` is a
``prefinal-layer`` (affine small -> big, relu, batchnorm, semi-orthogonal linear big -> small,
batchnorm) whose input is ``prefinal-l``, the semi-orthogonal 1024 -> 256 linear that
``prefinal-chain`` also reads (here :class:`asr2emo.model.layers.PrefinalLayer`'s ``linear_in``);
``output-xent`` is an affine to the same outputs with log-softmax, at learning-rate factor
``0.5 / xent_regularize``. The branch only shapes training (its loss pulls the shared layers
towards frame-level classification): it is not one of the model's named layers.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from asr2emo.model.layers import MaskedBatchNorm1d, constrain_orthonormal_

PREFINAL = "prefinal-xent"
OUTPUT = "output-xent"


class XentPrefinalLayer(nn.Module):
    """Kaldi ``prefinal-layer`` on ``prefinal-l``'s output: ``small_dim -> small_dim``."""

    def __init__(self, dim: int, small_dim: int) -> None:
        super().__init__()
        self.affine = nn.Conv1d(small_dim, dim, kernel_size=1)
        self.batchnorm1 = MaskedBatchNorm1d(dim, affine=False)
        self.linear_out = nn.Conv1d(dim, small_dim, kernel_size=1, bias=False)
        self.batchnorm2 = MaskedBatchNorm1d(small_dim, affine=False)

    def forward(self, x: torch.Tensor, lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``lens``: valid output frames of each sequence (None: all), for the batchnorms."""
        x = self.batchnorm1(F.relu(self.affine(x)), lens)
        return self.batchnorm2(self.linear_out(x), lens)

    def constrain_orthonormal(self) -> None:
        constrain_orthonormal_(self.linear_out.weight)


def build_xent_branch(dim: int, small_dim: int, num_outputs: int) -> nn.ModuleDict:
    """``{"prefinal-xent": ..., "output-xent": affine}`` (log-softmax applied by the caller)."""
    return nn.ModuleDict(
        {
            PREFINAL: XentPrefinalLayer(dim, small_dim),
            OUTPUT: nn.Conv1d(small_dim, num_outputs, kernel_size=1),
        }
    )


def xent_output_lr_factor(xent_regularize: float) -> float:
    """``output-xent``'s learning-rate factor under Adam: 0.5, Kaldi's effective rate.

    Kaldi (run_tdnn_1g.sh) sets ``learning_rate_factor=0.5/xent_regularize`` under SGD, where
    the xent derivative is scaled by ``xent_regularize``: the layer's step is then 0.5 times the
    base rate whatever the constant. Adam divides out a constant gradient scale, so the same
    effective rate is the factor 0.5 itself (5 here would step 10 times faster than Kaldi's).
    """
    if xent_regularize <= 0:
        raise ValueError(f"xent_regularize must be > 0, got {xent_regularize}")
    return 0.5
