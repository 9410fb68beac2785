"""Decoding graph HLG = H o min(det(L o G)) with k2, following icefall's ``compile_hlg.py``.

H is the topology transducer of the acoustic model's outputs: the CTC topology over the phone
ids (``--topology=ctc``, output 0 = blank), or the chain context + HMM transducer over biphone
pdfs (``--topology=chain``, :mod:`asr2emo.lang.chain_topo`), which makes the graph Kaldi's HCLG.
L carries ``#k`` disambiguation symbols so that L o G can be determinized; they are removed
(mapped to epsilon) afterwards.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import k2
import torch


def compile_hlg(
    L_disambig: k2.Fsa,
    G: k2.Fsa,
    first_phone_disambig: int,
    first_word_disambig: int,
    H: Optional[k2.Fsa] = None,
) -> k2.Fsa:
    """Build H o LG; labels are network outputs, aux_labels word ids. ``H`` (network outputs ->
    phones, epsilon-free on its input side) defaults to ``k2.ctc_topo`` over the phones."""
    L = k2.arc_sort(L_disambig)
    G = k2.arc_sort(G)
    LG = k2.connect(k2.compose(L, G))
    logging.info(f"LG: {LG.shape[0]} states, {LG.num_arcs} arcs")
    LG = k2.connect(k2.determinize(LG))
    LG.labels[LG.labels >= first_phone_disambig] = 0
    LG.__dict__["_properties"] = None  # labels changed in place; see k2 issue 874
    assert isinstance(LG.aux_labels, k2.RaggedTensor)
    LG.aux_labels.values[LG.aux_labels.values >= first_word_disambig] = 0
    LG = k2.connect(k2.remove_epsilon(LG))
    LG.aux_labels = LG.aux_labels.remove_values_eq(0)
    LG = k2.arc_sort(LG)
    name = "HLG" if H is None else "HCLG"
    if H is None:
        H = k2.ctc_topo(first_phone_disambig - 1)
    HLG = k2.arc_sort(k2.connect(k2.compose(H, LG, inner_labels="phones")))
    logging.info(f"{name}: {HLG.shape[0]} states, {HLG.num_arcs} arcs")
    return HLG


def save_fsa(fsa: k2.Fsa, path: Path) -> None:
    torch.save(fsa.as_dict(), path)


def load_fsa(path: Path, device: torch.device | str = "cpu") -> k2.Fsa:
    return k2.Fsa.from_dict(torch.load(path, map_location="cpu")).to(device)
