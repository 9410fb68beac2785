"""Online cepstral mean normalization for the UBM's Gaussian selection (Kaldi ``OnlineCmvn``).

Kaldi's online i-vector recipe (``steps/online/nnet2/train_diag_ubm.sh``,
``train_ivector_extractor.sh``, ``src/online2/online-ivector-feature.cc``) computes the UBM
posteriors on features normalized by a sliding-window mean, while the i-vector statistics use the
raw features. Frame ``t`` is normalized by the mean of frames ``max(0, t - W + 1) .. t`` (causal),
topped up while fewer than ``W`` frames exist by ``min(W - n, global_frames)`` frames of the
global mean (``src/feat/online-feature.cc``, ``OnlineCmvn::ComputeStatsForFrame`` and
``SmoothOnlineCmvnStats`` with no speaker stats; mean only, Kaldi's ``normalize_variance=false``
default). Each utterance starts from the global statistics alone, as ``apply-cmvn-online``
without ``--spk2utt`` and ``OnlineIvectorFeature`` without an adaptation state do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from asr2emo.utils.errors import UserError


@dataclass
class OnlineCmvnOptions:
    """Kaldi ``OnlineCmvnOptions`` defaults (``--cmn-window``, ``--global-frames``)."""

    cmn_window: int = 600
    global_frames: int = 200


def online_cmvn(
    feats: torch.Tensor, global_mean: torch.Tensor, opts: OnlineCmvnOptions
) -> torch.Tensor:
    """``(T, D)`` features minus their causal sliding-window mean (float64 statistics, as
    Kaldi's); ``global_mean (D,)`` fills the window's missing frames."""
    if opts.cmn_window < 1 or opts.global_frames < 0:
        raise UserError(
            f"--cmn-window={opts.cmn_window} must be >= 1 and "
            f"--global-frames={opts.global_frames} >= 0"
        )
    x = feats.double()
    T = x.shape[0]
    W = opts.cmn_window
    csum = torch.cat([x.new_zeros(1, x.shape[1]), x.cumsum(0)])  # csum[t] = sum of frames < t
    t = torch.arange(T)
    start = (t - W + 1).clamp_min(0)
    window = csum[t + 1] - csum[start]
    count = (t + 1 - start).double()
    extra = (W - count).clamp(min=0, max=opts.global_frames)
    window = window + extra.unsqueeze(1) * global_mean.double()
    mean = window / (count + extra).unsqueeze(1)
    return (x - mean).to(feats.dtype)
