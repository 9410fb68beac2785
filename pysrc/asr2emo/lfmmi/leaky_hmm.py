"""Kaldi's leaky HMM for the LF-MMI denominator, as an epsilon-free k2 graph.

Kaldi (``src/chain/chain-denominator.cc``, ``--leaky-hmm-coefficient``, 0.1 in tedlium
``run_tdnn_1g.sh``) lets every frame "leak" a fraction ``c`` of the total forward mass back into
the graph with the initial distribution: ``alpha'(t, s) = alpha(t, s) + c * init(s) * sum_u
alpha(t, u)``. It keeps the denominator from assigning vanishing mass to a frame range and is
said to stabilize training. ``init`` is Kaldi's ``DenominatorGraph::SetInitialProbs``
(``src/chain/chain-den-graph.cc``): 100 steps of HMM propagation from the start state with
outgoing probabilities normalized per state, averaged.

The epsilon arcs "any state -> leak -> state s" are compiled away: every arc also has a copy
into a leak state Z (score + log c), and Z has a copy of every arc leaving a state u (score +
log init(u)), including into Z itself, plus a final arc with sum_u init(u) final(u). The
numerator keeps the graph without leaks (Kaldi's numerator has none), so num <= den still holds.
"""

from __future__ import annotations

import math

import k2
import torch
from torch import Tensor

from asr2emo.utils.errors import UserError


def initial_probs(den: k2.Fsa, num_iters: int = 100) -> Tensor:
    """Per-state initial probabilities (float64) of an FSA with log-probability scores."""
    arcs = den.arcs.values()
    src, dst, label = arcs[:, 0].long(), arcs[:, 1].long(), arcs[:, 2]
    prob = den.scores.detach().to(torch.float64).exp()
    n = den.shape[0]
    out_tot = torch.zeros(n, dtype=torch.float64).index_add_(0, src, prob)
    norm = torch.where(out_tot > 0, 1.0 / out_tot, torch.zeros_like(out_tot))
    emitting = label >= 0
    src_e, dst_e, prob_e = src[emitting], dst[emitting], prob[emitting]
    cur = torch.zeros(n, dtype=torch.float64)
    cur[0] = 1.0
    avg = torch.zeros(n, dtype=torch.float64)
    for _ in range(num_iters):
        avg += cur / num_iters
        nxt = torch.zeros(n, dtype=torch.float64).index_add_(0, dst_e, (cur * norm)[src_e] * prob_e)
        cur = nxt / nxt.sum()  # renormalized: mass leaving through final arcs is dropped
    return avg


def add_leaky_hmm(den: k2.Fsa, coefficient: float) -> k2.Fsa:
    """``den`` with Kaldi's leaky-HMM transitions (labels, aux_labels and scores kept)."""
    if not 0.0 <= coefficient < 1.0:
        raise UserError(f"--leaky-hmm-coefficient must be in [0, 1), got {coefficient}")
    if coefficient == 0.0:
        return den
    den = den.to("cpu")
    init = initial_probs(den)
    arcs = den.arcs.values()
    src, dst, label = arcs[:, 0], arcs[:, 1].clone(), arcs[:, 2]
    scores = den.scores.detach().to(torch.float64)
    aux = den.aux_labels
    final = den.shape[0] - 1
    leak, new_final = final, final + 1  # the leak state takes the old final's number
    dst[dst == final] = new_final
    log_c = math.log(coefficient)
    emitting = label >= 0
    used = emitting & (init[src.long()] > 0)
    log_init = init[src.long()].clamp_min(1e-300).log()
    final_mass = float((init[src.long()][~emitting] * scores[~emitting].exp()).sum())
    pieces = [
        (src, dst, label, scores, aux),  # the graph
        (src[emitting], torch.full_like(dst[emitting], leak), label[emitting],
         scores[emitting] + log_c, aux[emitting]),  # every frame leaks into Z
        (torch.full_like(src[used], leak), dst[used], label[used],
         scores[used] + log_init[used], aux[used]),  # Z starts anywhere, by init
        (torch.full_like(src[used], leak), torch.full_like(dst[used], leak), label[used],
         scores[used] + log_init[used] + log_c, aux[used]),  # ... and leaks again
    ]  # fmt: skip
    s = torch.cat([p[0] for p in pieces])
    d = torch.cat([p[1] for p in pieces])
    lab = torch.cat([p[2] for p in pieces])
    sc = torch.cat([p[3] for p in pieces])
    ax = torch.cat([p[4] for p in pieces])
    if final_mass > 0:
        s = torch.cat([s, torch.tensor([leak], dtype=s.dtype)])
        d = torch.cat([d, torch.tensor([new_final], dtype=d.dtype)])
        lab = torch.cat([lab, torch.tensor([-1], dtype=lab.dtype)])
        sc = torch.cat([sc, torch.tensor([math.log(final_mass)], dtype=sc.dtype)])
        ax = torch.cat([ax, torch.tensor([-1], dtype=ax.dtype)])
    order = torch.argsort(s, stable=True)
    sc32 = sc[order].to(torch.float32)
    t = torch.stack([s[order], d[order], lab[order], sc32.view(torch.int32)], dim=1)
    fsa = k2.Fsa(t.contiguous())
    fsa.aux_labels = ax[order].contiguous()
    return k2.arc_sort(fsa)
