"""Batchnorm statistics of the final model recomputed on training data (Kaldi ``RecomputeStats``).

``final.pt`` averages the weights of the last epochs (:func:`asr2emo.model.checkpoint.
write_final`); averaging the batchnorm statistics along with them gives statistics that no
network produced. Kaldi recomputes them after combining: ``nnet3-chain-combine``
(``src/chainbin/nnet3-chain-combine.cc``) ends with ``RecomputeStats``
(``src/nnet3/nnet-chain-diagnostics.cc``): ``ZeroComponentStats``, then one forward pass over
the combination examples with batchnorm in training mode (normalizing by batch statistics) and
dropout in test mode, each ``BatchNormComponent`` accumulating the count, sum and sum of squares
of its input (``StoreStats``, ``src/nnet3/nnet-normalize-component.cc``); its test-mode mean and
variance are then ``sum / count`` and ``sumsq / count - mean^2`` over every frame it saw. Here
the same, over the valid frames (:class:`asr2emo.model.layers.MaskedBatchNorm1d`) of some
training minibatches.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import torch
import torch.nn as nn

from asr2emo.model.layers import valid_frames
from asr2emo.utils.errors import UserError

_BatchNorm = nn.modules.batchnorm._BatchNorm


def _valid_mask(x: torch.Tensor, lens: Optional[torch.Tensor]) -> torch.Tensor:
    """``(N, 1, T)`` float64 weights: 1 on the valid frames of each sequence (all without lens)."""
    if lens is None:
        return torch.ones(x.shape[0], 1, x.shape[2], dtype=torch.float64, device=x.device)
    return valid_frames(lens, x.shape[2], torch.float64, x.device)


@torch.no_grad()
def recompute_batchnorm_stats(
    model: nn.Module,
    batches: Iterable[Dict[str, Any]],
    device: Optional[Union[str, torch.device]] = None,
) -> Dict[str, Any]:
    """Replace every batchnorm's running mean and variance of ``model`` by those of its inputs
    over the valid frames of ``batches`` (``AsrDataset`` dicts), computed as Kaldi's
    ``RecomputeStats`` does; ``num_batches_tracked`` becomes the number of batches. Nothing
    else changes. A batchnorm the forward pass never reached keeps its statistics (logged).
    Returns ``{"batches": n, "frames": {batchnorm name: frames}}``."""
    if device is None:
        device = next(model.parameters()).device
    bns = {name: m for name, m in model.named_modules() if isinstance(m, _BatchNorm)}
    sums: Dict[str, List[torch.Tensor]] = {}

    def accumulate(name: str):
        def hook(module: nn.Module, inputs: Tuple, output: torch.Tensor) -> None:
            x = inputs[0].detach().double()
            if x.dim() == 2:
                x = x.unsqueeze(-1)
            m = _valid_mask(x, inputs[1] if len(inputs) > 1 else None)
            stats = [(x * m).sum(dim=(0, 2)), (x * x * m).sum(dim=(0, 2)), m.sum()]
            if name in sums:
                stats = [a + b for a, b in zip(sums[name], stats)]
            sums[name] = stats

        return hook

    was_training = model.training
    model.eval()  # dropout (and anything else mode-dependent) as at test time ...
    for m in bns.values():
        m.train()  # ... but batchnorm normalizes by batch statistics, as in RecomputeStats
    handles = [m.register_forward_hook(accumulate(name)) for name, m in bns.items()]
    num_batches = 0
    try:
        for batch in batches:
            # The xent branch's batchnorms are reached only by the forward that computes it;
            # without it they would keep the averaged checkpoints' statistics.
            model(
                batch["feats"].to(device),
                batch["ivectors"].to(device),
                batch["feat_lens"].to(device),
                **({"xent": True} if getattr(model, "has_xent", False) else {}),
            )
            num_batches += 1
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if num_batches == 0:
        raise UserError("no training minibatch to recompute the batchnorm statistics on")
    frames: Dict[str, int] = {}
    for name, m in bns.items():
        if name not in sums:
            continue
        s, ss, count = sums[name]
        mean = s / count
        var = (ss / count - mean * mean).clamp(min=0.0)
        m.running_mean.copy_(mean.to(m.running_mean.dtype))
        m.running_var.copy_(var.to(m.running_var.dtype))
        if m.num_batches_tracked is not None:
            m.num_batches_tracked.fill_(num_batches)
        frames[name] = int(count)
    missed = sorted(set(bns) - set(frames))
    if missed:
        logging.warning(
            f"batchnorm statistics not recomputed (no frames reached them): {', '.join(missed)}"
        )
    logging.info(
        f"batchnorm statistics of {len(frames)} layers recomputed on {num_batches} training "
        f"minibatches ({min(frames.values(), default=0)}-{max(frames.values(), default=0)} "
        "frames each)"
    )
    return {"batches": num_batches, "frames": frames}


def recompute_state_stats(
    model: nn.Module,
    state: Dict[str, torch.Tensor],
    batches: Iterable[Dict[str, Any]],
    device: Optional[Union[str, torch.device]] = None,
) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """``state`` (e.g. an averaged state dict) with its batchnorm statistics recomputed by
    :func:`recompute_batchnorm_stats` in ``model`` (overwritten); the other entries are the
    very tensors of ``state``. Returns the new state dict and the recomputation's summary."""
    model.load_state_dict(state)
    info = recompute_batchnorm_stats(model, batches, device)
    new = dict(state)
    for name, m in model.named_modules():
        if name in info["frames"]:
            for buf in ("running_mean", "running_var", "num_batches_tracked"):
                key = f"{name}.{buf}"
                if key in new:
                    new[key] = getattr(m, buf).detach().cpu().clone()
    return new, info
