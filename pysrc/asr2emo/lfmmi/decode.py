"""1-best decoding with HLG (``k2.intersect_dense_pruned`` + shortest path) and WER with kaldialign.

As icefall's ``get_lattice`` + ``one_best_decoding`` + ``get_texts``: the pruned intersection of
the decoding graph with the network outputs gives a lattice per supervision segment, its best
path (tropical semiring) carries the word ids on its aux_labels.

``acoustic_scale`` multiplies the network's log-probabilities before the search (Kaldi's
``--acoustic-scale``; equivalently an LM weight of ``1 / acoustic_scale``). The graph is HLG
for ``--topology=ctc`` and HCLG over biphone pdfs for ``--topology=chain`` (same file, same
search). The MMI-trained outputs of the CTC-topology model are sharp, so at 1.0 the acoustics
overrule the word 3-gram and the demo decodes many insertions; conf/mini/decode.conf sets the
value tuned on dev.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import k2
import kaldialign
import torch
from torch import Tensor

from asr2emo.lang.graphs import load_fsa

EPS_SYM = "*"


def load_hlg(lang_dir: Path | str, device: torch.device | str = "cpu") -> k2.Fsa:
    """HLG.pt of a lang directory, with ``words.txt`` attached as ``aux_labels_sym``."""
    lang_dir = Path(lang_dir)
    HLG = load_fsa(lang_dir / "HLG.pt", device)
    HLG.aux_labels_sym = k2.SymbolTable.from_file(str(lang_dir / "words.txt"))
    return HLG


def get_lattice(
    nnet_output: Tensor,
    supervision_segments: Tensor,
    HLG: k2.Fsa,
    search_beam: float = 20.0,
    output_beam: float = 8.0,
    min_active_states: int = 30,
    max_active_states: int = 10000,
    acoustic_scale: float = 1.0,
) -> k2.Fsa:
    """Pruned lattices, one per row of ``supervision_segments`` (sorted by duration, descending)."""
    if acoustic_scale <= 0:
        raise ValueError(f"acoustic_scale must be > 0, got {acoustic_scale}")
    if acoustic_scale != 1.0:
        nnet_output = nnet_output * acoustic_scale
    dense = k2.DenseFsaVec(nnet_output, supervision_segments.to(torch.int32).cpu())
    return k2.intersect_dense_pruned(
        HLG,
        dense,
        search_beam=search_beam,
        output_beam=output_beam,
        min_active_states=min_active_states,
        max_active_states=max_active_states,
    )


def best_path_word_ids(lattice: k2.Fsa) -> List[List[int]]:
    """Word ids on the shortest path of each lattice (icefall's ``get_texts``)."""
    best = k2.shortest_path(lattice, use_double_scores=True)
    if isinstance(best.aux_labels, torch.Tensor):
        aux_shape = best.arcs.shape().remove_axis(1)
        aux = k2.RaggedTensor(aux_shape, best.aux_labels)
    else:
        aux_shape = best.arcs.shape().compose(best.aux_labels.shape)
        aux_shape = aux_shape.remove_axis(1).remove_axis(1)
        aux = k2.RaggedTensor(aux_shape, best.aux_labels.values)
    aux = aux.remove_values_leq(0)
    return aux.tolist()


def decode_one_best(
    nnet_output: Tensor,
    supervision_segments: Tensor,
    HLG: k2.Fsa,
    search_beam: float = 20.0,
    output_beam: float = 8.0,
    min_active_states: int = 30,
    max_active_states: int = 10000,
    word_table: Optional[k2.SymbolTable] = None,
    acoustic_scale: float = 1.0,
) -> List[List[str]]:
    """Words of the best path per supervision segment (same order as its rows).

    The word table is ``word_table`` or the ``aux_labels_sym`` attached by :func:`load_hlg`.
    """
    table = word_table if word_table is not None else getattr(HLG, "aux_labels_sym", None)
    if table is None:
        raise ValueError("no word table: pass word_table or load HLG with load_hlg()")
    lattice = get_lattice(
        nnet_output,
        supervision_segments,
        HLG,
        search_beam=search_beam,
        output_beam=output_beam,
        min_active_states=min_active_states,
        max_active_states=max_active_states,
        acoustic_scale=acoustic_scale,
    )
    ids = best_path_word_ids(lattice)
    return [[table.get(i) for i in seq] for seq in ids]


def compute_wer(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> Dict:
    """Corpus WER: ``{"wer", "errors", "words", "ins", "del", "sub", "sentences", "sent_errors"}``.

    ``refs``/``hyps`` are word lists (a string is split on spaces). ``wer`` is in percent.
    """
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    ins = dele = sub = words = sent_err = 0
    for ref, hyp in zip(refs, hyps):
        ref = ref.split() if isinstance(ref, str) else list(ref)
        hyp = hyp.split() if isinstance(hyp, str) else list(hyp)
        d = kaldialign.edit_distance(ref, hyp)
        ins, dele, sub = ins + d["ins"], dele + d["del"], sub + d["sub"]
        words += len(ref)
        sent_err += int(d["total"] > 0)
    errors = ins + dele + sub
    return {
        "wer": 100.0 * errors / max(words, 1),
        "errors": errors,
        "words": words,
        "ins": ins,
        "del": dele,
        "sub": sub,
        "sentences": len(refs),
        "sent_errors": sent_err,
    }


def format_wer(stats: Dict) -> str:
    """Kaldi's ``compute-wer`` line: ``%WER 12.34 [ 123 / 1000, 10 ins, 20 del, 93 sub ]``."""
    return (
        f"%WER {stats['wer']:.2f} [ {stats['errors']} / {stats['words']}, "
        f"{stats['ins']} ins, {stats['del']} del, {stats['sub']} sub ]"
    )


def alignment_lines(utt_id: str, ref: Sequence[str], hyp: Sequence[str]) -> List[str]:
    """icefall-style per-utterance error lines: ``id: ref=[...]``, ``id: hyp=[...]`` and the
    alignment ``a (b->c) *`` where ``(x->y)`` marks a substitution, ``(x->*)`` a deletion."""
    ali = kaldialign.align(list(ref), list(hyp), EPS_SYM)
    marks = [r if r == h else f"({r}->{h})" for r, h in ali]
    return [
        f"{utt_id}:\tref={list(ref)}",
        f"{utt_id}:\thyp={list(hyp)}",
        f"{utt_id}:\t{' '.join(marks)}",
    ]
