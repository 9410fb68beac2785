"""The word n-gram G for decoding: ARPA estimated on training text, compiled to an FST by kaldilm.

Words outside the lexicon become ``<unk>``. The ARPA is converted with kaldilm (Kaldi's
``arpa2fst`` as a Python package) reading our ``words.txt`` and writing back-off arcs with the
``#0`` disambiguation symbol, exactly as icefall's ``prepare.sh`` does
(``python -m kaldilm --read-symbol-table=words.txt --disambig-symbol='#0' --max-order=3``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Sequence

import k2
import kaldilm

from asr2emo.lang.lexicon import UNK
from asr2emo.lang.ngram import WittenBellLM


def word_sentences(texts: Iterable[str], vocab: Iterable[str], unk: str = UNK) -> List[List[str]]:
    known = set(vocab)
    return [[w if w in known else unk for w in t.split()] for t in texts if t.split()]


def build_word_arpa(
    texts: Sequence[str], vocab: Sequence[str], arpa: Path, order: int = 3, unk: str = UNK
) -> WittenBellLM:
    """Estimate the word n-gram on ``texts`` over ``vocab`` (lexicon words) and write ``arpa``."""
    lm = WittenBellLM(word_sentences(texts, vocab, unk), vocab, order=order)
    lm.write_arpa(arpa)
    return lm


def arpa_to_fst_txt(arpa: Path, words_txt: Path, fst_txt: Path, order: int = 3) -> None:
    """kaldilm: ARPA -> OpenFst text (G.fst.txt) with ``#0`` on back-off arcs."""
    text = kaldilm.arpa2fst(
        input_arpa=str(arpa),
        disambig_symbol="#0",
        read_symbol_table=str(words_txt),
        max_order=order,
    )
    Path(fst_txt).write_text(text)


def load_G(fst_txt: Path) -> k2.Fsa:
    """G as a k2 transducer (word ids on both sides, ``#0`` on back-off arcs)."""
    return k2.Fsa.from_openfst(Path(fst_txt).read_text(), acceptor=False)
