"""Targets of Kaldi chain's cross-entropy regularizer: the numerator's frame posteriors.

Kaldi ``src/chain/chain-training.cc`` ``ComputeChainObjfAndDeriv`` runs the numerator
forward-backward (``src/chain/chain-numerator.cc``) and hands its occupation posteriors, per
frame and pdf, to ``output-xent`` as soft targets (``xent_deriv``); ``nnet3/nnet-chain-training.cc``
``ProcessOutputs`` scores them as ``sum_t sum_c target[t, c] * xent_output[t, c]``. Here the
posteriors are the gradient of the numerator's log-semiring total with respect to the network
output: each arc's posterior lands on the (frame, output unit) whose score it consumed, so
``d num_tot / d nnet_output[n, t, c]`` is the probability that the numerator is in unit ``c`` at
frame ``t``. They are computed on a detached copy, so they are constants for the loss.
"""

from __future__ import annotations

from typing import Optional

import k2
import torch
from torch import Tensor


def numerator_posteriors(
    num_graphs: k2.Fsa,
    nnet_output: Tensor,
    supervision_segments: Tensor,
    output_beam: float = 10.0,
    use_double_scores: bool = True,
    keep: Optional[Tensor] = None,
) -> Tensor:
    """Frame posteriors ``(N, T, C)`` of the numerator graphs (one per segment row).

    Frames of a segment whose numerator total is not finite (the transcript does not fit its
    frames) or that ``keep`` (bool, one per segment) leaves out are zero, as are frames outside
    every segment; every other supervised frame sums to 1. No gradient flows through the result.
    """
    segs = supervision_segments.to(torch.int32).cpu()
    with torch.enable_grad():
        x = nnet_output.detach().requires_grad_(True)
        lats = k2.intersect_dense(num_graphs, k2.DenseFsaVec(x, segs), output_beam=output_beam)
        tot = lats.get_tot_scores(log_semiring=True, use_double_scores=use_double_scores)
        ok = torch.isfinite(tot)
        if keep is not None:
            ok = ok & keep.to(ok.device)
        if not bool(ok.any()):
            return torch.zeros_like(x)
        (post,) = torch.autograd.grad(tot[ok].sum(), x)
    post = torch.nan_to_num(post, nan=0.0, posinf=0.0, neginf=0.0)
    for (n, start, dur), good in zip(segs.tolist(), ok.tolist()):
        if not good:
            post[n, start : start + dur] = 0.0
    return post
