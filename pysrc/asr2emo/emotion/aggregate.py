"""Frame posteriors -> one decision per utterance.

The paper's decision is the argmax of the **sum of the frames' softmax outputs**
(``sum_softmax``). For comparison we also give the argmax of the mean frame log-probability
(``mean_logprob``, the product-of-experts decision) and the majority vote of the frame argmaxes
(``majority``; ties broken by the summed softmax). All three are computed for all utterances at
once from a flat frame matrix and the utterance index of every frame.
"""

from __future__ import annotations

from typing import Dict

import torch

AGGREGATIONS = ("sum_softmax", "mean_logprob", "majority")


def aggregate(
    log_probs: torch.Tensor, utt_index: torch.Tensor, num_utts: int
) -> Dict[str, torch.Tensor]:
    """Utterance decisions and posteriors from frame log-probabilities.

    Args:
      log_probs: ``(N, C)`` frame log-softmax outputs.
      utt_index: ``(N,)`` index in ``[0, num_utts)`` of the utterance of each frame.
      num_utts: number of utterances (every one must have at least one frame).

    Returns:
      ``{"sum_softmax", "mean_logprob", "majority"}`` -> ``(num_utts,)`` predicted class ids, and
      ``"posteriors"`` -> ``(num_utts, C)`` the summed softmax normalized to sum to one.
    """
    num_classes = log_probs.shape[1]
    utt_index = utt_index.long()
    probs = log_probs.exp()
    summed = torch.zeros(num_utts, num_classes, dtype=probs.dtype).index_add_(0, utt_index, probs)
    lp_sum = torch.zeros(num_utts, num_classes, dtype=log_probs.dtype).index_add_(
        0, utt_index, log_probs
    )
    counts = torch.bincount(utt_index, minlength=num_utts).clamp(min=1).to(log_probs.dtype)
    votes = torch.zeros(num_utts, num_classes, dtype=torch.float64)
    frame_pred = log_probs.argmax(dim=1)
    votes.index_put_(
        (utt_index, frame_pred), torch.ones_like(frame_pred, dtype=torch.float64), accumulate=True
    )
    # Tie-break the vote by the normalized summed softmax, which is strictly below 1.
    tie = (summed / counts[:, None]).double() * 0.5
    return {
        "sum_softmax": summed.argmax(dim=1),
        "mean_logprob": (lp_sum / counts[:, None]).argmax(dim=1),
        "majority": (votes + tie).argmax(dim=1),
        "posteriors": summed / summed.sum(dim=1, keepdim=True),
    }
