"""The phone language model P of the LF-MMI denominator graph.

Training transcripts are mapped to phones through the lexicon (first pronunciation; OOVs -> SPN).
There are no alignments at this point, so silence is inserted as the lexicon FST allows it: at the
start, between words and at the end, each with probability ``sil_prob`` drawn from a seeded RNG
(the expected silence statistics of L, reproducibly).

The n-gram (interpolated Witten-Bell, :class:`asr2emo.lang.ngram.WittenBellLM`) is turned directly
into an epsilon-free k2 acceptor: one state per seen history (plus the empty history), an arc for
every phone out of every state carrying the exact back-off probability p(phone | history), and a
final arc with p(</s> | history). Unlike an ARPA -> FST conversion with epsilon back-off arcs, each
phone string has exactly one path and the outgoing probabilities of every state sum to one, so the
denominator is a proper distribution over phone sequences. Kaldi's chain recipes use a 4-gram
without back-off below the 3-gram; we keep back-off down to the uniform distribution (order set by
``--phone-lm-order``: 3 at paper scale, 2 in conf/mini where the graph must stay small on a CPU).
"""

from __future__ import annotations

import math
import random
from typing import Dict, Iterable, List, Sequence, Tuple

import k2

from asr2emo.lang.lexicon import SIL, UNK, Lexicon
from asr2emo.lang.ngram import BOS, EOS, WittenBellLM


def phone_sentences(
    texts: Iterable[str], lexicon: Lexicon, sil_prob: float = 0.5, seed: int = 0
) -> List[List[str]]:
    """Phone strings of the transcripts, with optional silence inserted at random (seeded)."""
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = text.split()
        if not words:
            continue
        phones: List[str] = []
        if rng.random() < sil_prob:
            phones.append(SIL)
        for w in words:
            prons = lexicon.get(w) or lexicon[UNK]
            phones.extend(prons[0])
            if rng.random() < sil_prob:
                phones.append(SIL)
        out.append(phones)
    return out


def phone_lm_states(lm: WittenBellLM) -> List[Tuple[str, ...]]:
    """The states of P: empty history, then every seen history (start state ``(<s>,)`` first)."""
    hists = sorted(h for h in lm.hist_count if lm.is_history(h) and h and EOS not in h)
    states = [(BOS,)] + [h for h in hists if h != (BOS,)] + [()]
    return states


def _next_state(lm: WittenBellLM, h: Tuple[str, ...], phone: str, index: Dict) -> int:
    ctx = (h + (phone,))[max(0, len(h) + 1 - (lm.order - 1)) :] if lm.order > 1 else ()
    while ctx and ctx not in index:
        ctx = ctx[1:]
    return index[ctx]


def phone_lm_fsa(lm: WittenBellLM, phone_table: Dict[str, int]) -> k2.Fsa:
    """Epsilon-free k2 acceptor over phone ids (labels) with log-probability scores."""
    states = phone_lm_states(lm)
    index = {h: i for i, h in enumerate(states)}
    final = len(states)
    phones = [p for p in lm.vocab]
    lines = []
    for s, h in enumerate(states):
        for p in phones:
            d = _next_state(lm, h, p, index)
            lines.append(f"{s} {d} {phone_table[p]} {math.log(lm.prob(p, h)):.8g}")
        lines.append(f"{s} {final} -1 {math.log(lm.prob(EOS, h)):.8g}")
    lines.append(str(final))
    return k2.arc_sort(k2.Fsa.from_str("\n".join(lines), acceptor=True))


def build_phone_lm(
    texts: Sequence[str],
    lexicon: Lexicon,
    phone_table: Dict[str, int],
    order: int = 2,
    sil_prob: float = 0.5,
    seed: int = 0,
) -> Tuple[WittenBellLM, k2.Fsa]:
    """Estimate P on the transcripts; vocabulary = all real phones (no ``<eps>``, no ``#k``)."""
    vocab = [p for p in phone_table if p != "<eps>" and not p.startswith("#")]
    sents = phone_sentences(texts, lexicon, sil_prob=sil_prob, seed=seed)
    lm = WittenBellLM(sents, vocab, order=order)
    return lm, phone_lm_fsa(lm, phone_table)
