"""Pronunciation lexicon: reading the TED-LIUM dictionary, symbol tables and the k2 lexicon FST L.

A lexicon is ``Dict[word, List[pronunciation]]`` with each pronunciation a list of phones. L maps
phones to words with optional silence between words (Kaldi's ``make_lexicon_fst.py`` with
``--sil-prob``); ``L_disambig`` adds ``#1..#K`` so that no pronunciation is a prefix of another
(needed to determinize L o G) and ``#0`` self-loops that carry G's back-off symbol through L.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import k2

from asr2emo.utils.errors import UserError

Lexicon = Dict[str, List[List[str]]]
# (word, phones) pairs in a fixed order; the disambiguated lexicon has one entry per pronunciation.
LexiconEntries = List[Tuple[str, List[str]]]

EPS = "<eps>"
SIL = "SIL"
SPN = "SPN"
UNK = "<unk>"
# Words reserved for the n-gram machinery; never entries of a lexicon.
RESERVED_WORDS = (EPS, "#0", "<s>", "</s>")

_ALT = re.compile(r"\(\d+\)$")
_STRESS = re.compile(r"\d+$")


def read_cmu_dict(path: Path | str) -> Lexicon:
    """Read a CMU-style dictionary (``TEDLIUM.152k.dic``): ``word PH PH ...`` and ``word(2) ...``.

    Alternative pronunciations ``word(N)`` are merged into ``word``; stress digits are dropped
    from phones (TED-LIUM's dictionary has none, CMUdict has). Sentence markers and ``<unk>``
    lines are skipped (Kaldi's tedlium ``prepare_dict.sh`` does the same), duplicates removed.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"dictionary '{path}' does not exist")
    lexicon: Lexicon = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            fields = line.split()
            if not fields or fields[0].startswith(";;;"):
                continue
            word = _ALT.sub("", fields[0])
            if word in ("<s>", "</s>", UNK, "<sil>") or word.startswith("#"):
                continue
            if len(fields) < 2:
                raise UserError(f"{path}:{n}: word '{word}' has no pronunciation")
            phones = [_STRESS.sub("", p).upper() for p in fields[1:]]
            prons = lexicon.setdefault(word, [])
            if phones not in prons:
                prons.append(phones)
    if not lexicon:
        raise UserError(f"dictionary '{path}' has no entries")
    return lexicon


def restrict_lexicon(
    lexicon: Lexicon, texts: Iterable[str], vocab: str = "train", unk: str = UNK
) -> Tuple[Lexicon, Dict[str, int]]:
    """Select the words of the final lexicon and add ``<unk> SPN``.

    ``vocab="train"`` keeps the dictionary words that occur in ``texts``; ``"all"`` keeps the whole
    dictionary (Kaldi tedlium s5_r2 uses the full 152k dictionary). Returns the lexicon and the
    counts of training words missing from the dictionary (they become ``<unk>``).
    """
    if vocab not in ("train", "all"):
        raise UserError(f"--vocab must be 'train' or 'all', got '{vocab}'")
    seen: Dict[str, int] = defaultdict(int)
    for text in texts:
        for w in text.split():
            seen[w] += 1
    oov = {w: c for w, c in seen.items() if w not in lexicon and w != unk}
    if vocab == "all":
        out = {w: [list(p) for p in prons] for w, prons in lexicon.items()}
    else:
        out = {w: [list(p) for p in lexicon[w]] for w in sorted(seen) if w in lexicon}
    out[unk] = [[SPN]]
    return out, oov


def lexicon_entries(lexicon: Lexicon) -> LexiconEntries:
    """Sorted ``(word, phones)`` pairs, one per pronunciation."""
    return [(w, list(p)) for w in sorted(lexicon) for p in lexicon[w]]


def read_lexicon_txt(path: Path | str) -> Lexicon:
    """Read ``lexicon.txt`` (``word ph ph ...``, one pronunciation per line)."""
    lexicon: Lexicon = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields:
            lexicon.setdefault(fields[0], []).append(fields[1:])
    return lexicon


def write_lexicon_txt(path: Path | str, entries: LexiconEntries) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for word, phones in entries:
            f.write(f"{word} {' '.join(phones)}\n")


def add_disambig_symbols(entries: LexiconEntries) -> Tuple[LexiconEntries, int]:
    """Append ``#1, #2, ...`` to pronunciations that are homophones or prefixes of others.

    Same rule as Kaldi's ``add_lex_disambig.pl``; ``#0`` stays free for G's back-off arcs.
    Returns the new entries and the highest disambiguation index used (0 if none).
    """
    count: Dict[Tuple[str, ...], int] = defaultdict(int)
    prefixes = set()
    for _, phones in entries:
        count[tuple(phones)] += 1
        for i in range(1, len(phones)):
            prefixes.add(tuple(phones[:i]))
    last: Dict[Tuple[str, ...], int] = defaultdict(int)
    out: LexiconEntries = []
    max_disambig = 0
    for word, phones in entries:
        key = tuple(phones)
        if count[key] == 1 and key not in prefixes:
            out.append((word, list(phones)))
            continue
        last[key] += 1
        max_disambig = max(max_disambig, last[key])
        out.append((word, list(phones) + [f"#{last[key]}"]))
    return out, max_disambig


def make_phone_table(entries: LexiconEntries, max_disambig: int) -> Dict[str, int]:
    """``<eps>``=0 (also the CTC blank), real phones sorted (with SIL and SPN), ``#0..#K``."""
    phones = {p for _, pron in entries for p in pron} | {SIL, SPN}
    bad = [p for p in phones if p.startswith("#") or p == EPS]
    if bad:
        raise UserError(f"lexicon uses reserved phone symbols: {' '.join(sorted(bad))}")
    symbols = [EPS] + sorted(phones) + [f"#{i}" for i in range(max_disambig + 1)]
    return {s: i for i, s in enumerate(symbols)}


def make_word_table(entries: LexiconEntries) -> Dict[str, int]:
    """``<eps>``=0, words sorted, then ``#0``, ``<s>``, ``</s>`` (icefall/Kaldi ``words.txt``)."""
    words = sorted({w for w, _ in entries})
    bad = [w for w in words if w in RESERVED_WORDS]
    if bad:
        raise UserError(f"lexicon contains reserved words: {' '.join(bad)}")
    symbols = [EPS] + words + ["#0", "<s>", "</s>"]
    return {s: i for i, s in enumerate(symbols)}


def write_symbol_table(path: Path | str, table: Dict[str, int]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for sym, i in sorted(table.items(), key=lambda x: x[1]):
            f.write(f"{sym} {i}\n")


def read_symbol_table(path: Path | str) -> Dict[str, int]:
    table = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            sym, i = line.split()
            table[sym] = int(i)
    return table


def lexicon_fst(
    entries: LexiconEntries,
    phone_table: Dict[str, int],
    word_table: Dict[str, int],
    sil_phone: str = SIL,
    sil_prob: float = 0.5,
    disambig: bool = False,
) -> k2.Fsa:
    """The lexicon transducer L (phones -> words) with optional silence, as a k2 Fsa.

    States: 0 start, 1 loop (between words), 2 "after silence-ending word". Each word leaves the
    loop state and returns either directly (prob 1 - sil_prob) or through SIL (prob sil_prob);
    the utterance may also start with SIL. The word label sits on the first phone's arc. With
    ``disambig`` (entries already carry ``#k``), ``#0:#0`` self-loops are added on every state
    with a word-emitting arc, as Kaldi's ``fstaddselfloops``.
    """
    if not 0.0 < sil_prob < 1.0:
        raise UserError(f"--sil-prob must be in (0, 1), got {sil_prob}")
    sil_score, no_sil_score = math.log(sil_prob), math.log(1.0 - sil_prob)
    sil = phone_table[sil_phone]
    start, loop, sil_state = 0, 1, 2
    next_state = 3
    arcs: List[Tuple[int, int, int, int, float]] = [
        (start, loop, 0, 0, no_sil_score),
        (start, sil_state, 0, 0, sil_score),
        (sil_state, loop, sil, 0, 0.0),
    ]
    for word, phones in entries:
        if not phones:
            raise UserError(f"word '{word}' has an empty pronunciation")
        wid = word_table[word]
        ids = [phone_table[p] for p in phones]
        cur = loop
        for i, pid in enumerate(ids[:-1]):
            arcs.append((cur, next_state, pid, wid if i == 0 else 0, 0.0))
            cur, next_state = next_state, next_state + 1
        w = wid if len(ids) == 1 else 0
        arcs.append((cur, loop, ids[-1], w, no_sil_score))
        arcs.append((cur, sil_state, ids[-1], w, sil_score))
    if disambig:
        d_phone, d_word = phone_table["#0"], word_table["#0"]
        emitting = sorted({a[0] for a in arcs if a[3] != 0})
        arcs.extend((s, s, d_phone, d_word, 0.0) for s in emitting)
    final = next_state
    arcs.append((loop, final, -1, -1, 0.0))
    return _fst_from_arcs(arcs, final)


def _fst_from_arcs(arcs: Sequence[Tuple[int, int, int, int, float]], final: int) -> k2.Fsa:
    """A k2 transducer from ``(src, dst, label, aux_label, score)`` arcs; final state ``final``."""
    arcs = sorted(arcs, key=lambda a: a[0])
    lines = [f"{s} {d} {i} {o} {w:.8g}" for s, d, i, o, w in arcs]
    lines.append(str(final))
    return k2.Fsa.from_str("\n".join(lines), num_aux_labels=1)


def words_to_phones(words: Sequence[str], lexicon: Lexicon, unk: str = UNK) -> Optional[List[str]]:
    """First pronunciation of each word (OOV -> ``unk``'s); None when ``unk`` has none."""
    phones: List[str] = []
    for w in words:
        prons = lexicon.get(w) or lexicon.get(unk)
        if not prons:
            return None
        phones.extend(prons[0])
    return phones
