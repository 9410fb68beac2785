"""The chain context + HMM transducer (pdf ids -> phone ids) as one epsilon-free k2 FSA.

It plays the part of Kaldi's H o C for the biphone tree (``src/chain/chain-den-graph.cc``
``CreateDenominatorFst`` composes the phone LM with C and H; ``fstmakecontextfst`` with N=2,
P=1 needs no look-ahead) and of k2's ``ctc_topo`` in icefall's ``mmi_graph_compiler.py``. Chain
topology (``steps/nnet3/chain/gen_topo.py``): one emitting state per phone, entered by its
first-frame pdf and kept by its self-loop pdf, so a phone lasts one frame or more. Kaldi's
chain graphs ignore transition probabilities; all arcs score 0 here too.

States: 0 is the start (no left context); one state per "inside a phone" situation, keyed by
(the context the phone leaves, its self-loop pdf), so tied biphones share states. Arcs: the
self-loop ``loop_pdf:0``, and to every next phone q, ``first_pdf(c, q):q``; every state except
the start may end the utterance. Phone labels sit on the first-frame arcs only.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import k2
import torch

from asr2emo.lang.biphone import NO_LEFT, BiphonePdfMap


def chain_topo(pdf_map: BiphonePdfMap) -> k2.Fsa:
    """The transducer: labels = pdf ids (network outputs), aux_labels = phone ids (0 on loops)."""
    index: Dict[Tuple[int, int], int] = {}
    order: List[Tuple[int, int]] = []

    def state(context: int, loop_pdf: int) -> int:
        key = (context, loop_pdf)
        if key not in index:
            index[key] = len(order) + 1
            order.append(key)
        return index[key]

    arcs: List[Tuple[int, int, int, int]] = []  # (src, dst, pdf, phone)

    def entries(src: int, context: int) -> None:
        for q in pdf_map.phones:
            first, loop = pdf_map.pdfs(context, q)
            arcs.append((src, state(pdf_map.context_after(q), loop), first, q))

    entries(0, NO_LEFT)
    done = 0
    while done < len(order):  # breadth first over the reachable inside-phone states
        context, loop = order[done]
        done += 1
        src = index[(context, loop)]
        arcs.append((src, src, loop, 0))
        entries(src, context)
    final = len(order) + 1
    arcs.extend((s, final, -1, -1) for s in range(1, final))
    arcs.sort(key=lambda a: a[0])
    t = torch.tensor(arcs, dtype=torch.int32)
    fsa_arcs = torch.cat([t[:, :3], torch.zeros(len(arcs), 1, dtype=torch.int32)], dim=1)
    fsa = k2.Fsa(fsa_arcs)
    fsa.aux_labels = t[:, 3].contiguous()
    return k2.arc_sort(fsa)
