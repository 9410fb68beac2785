"""Biphone pdf map of the chain topology: (left phone, phone, pdf class) -> pdf id, with tying.

Follows Kaldi's ``src/gmmbin/gmm-init-biphone.cc`` (``GetFullBiphoneStubMap``), the tree of
flat-start ("end-to-end") chain training (Hadian et al. 2018, ``steps/nnet3/chain/e2e/
prepare_e2e.sh --type biphone --tie true``). Every phone has two pdf classes, 0 for its first
frame and 1 for its self-loop (the chain topology of ``steps/nnet3/chain/gen_topo.py``), and a
pair of pdfs per left context: the "no left context" case (0: utterance start, or after a
context-independent phone) and each left phone. With counts, a biphone seen fewer than
``min_biphone_count`` times reverts to its monophone's pair (allocated on first use), and when
the phone itself is seen no more than ``min_monophone_count`` times, to one global "zerophone"
pair. Context-independent phones (``--ci-phones``, our ``--ci-silence``) get one pair whatever
their left context. Pdf ids are allocated in Kaldi's order: CI phones, then phone by phone.

Counts come from the training transcripts through the lexicon without silence, as Kaldi's
``steps/chain/e2e/text_to_phones.py --edge-silprob 0 --between-silprob 0 |
compute_biphone_stats.py`` (:func:`biphone_counts`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from asr2emo.lang.lexicon import Lexicon, words_to_phones
from asr2emo.utils.errors import UserError

NO_LEFT = 0  # Kaldi's left-context value for "no phone before" (phone ids start at 1)
FIRST, SELF_LOOP = 0, 1  # pdf classes of the chain topology


@dataclass(frozen=True)
class BiphonePdfMap:
    """``pdfs(left, phone) -> (first-frame pdf, self-loop pdf)`` for every left context.

    ``table`` holds every ``(left, phone)`` with ``left`` in ``{0} | phones``; ``ci_phones``
    are context independent (their pdfs ignore ``left``, and the phone after them sees no left
    context). ``kinds`` says per entry whether it is a "biphone", "mono" or "zero" pair (or
    "ci", "no-left") - for the log and the tests.
    """

    phones: Tuple[int, ...]
    ci_phones: Tuple[int, ...]
    table: Dict[Tuple[int, int], Tuple[int, int]]
    kinds: Dict[Tuple[int, int], str]
    num_pdfs: int

    def pdfs(self, left: int, phone: int) -> Tuple[int, int]:
        return self.table[(left, phone)]

    def context_after(self, phone: int) -> int:
        """The left context a phone leaves for the next one (0 after a CI phone)."""
        return NO_LEFT if phone in self.ci_phones else phone

    def summary(self) -> Dict[str, int]:
        """Number of (left, phone) entries per kind, and the pdf count."""
        counts = Counter(self.kinds.values())
        return dict(sorted(counts.items()), pdfs=self.num_pdfs)

    def write(self, path: Path | str, phone_symbols: Mapping[int, str]) -> None:
        """``pdf_map.txt``: ``left phone first-pdf self-loop-pdf kind`` (``<none>`` = no left)."""
        sym = dict(phone_symbols)
        sym[NO_LEFT] = "<none>"
        with open(path, "w", encoding="utf-8") as f:
            f.write(
                f"# num-pdfs {self.num_pdfs} ci-phones {' '.join(sym[p] for p in self.ci_phones)}\n"
            )
            for (left, phone), (a, b) in sorted(self.table.items()):
                f.write(f"{sym[left]} {sym[phone]} {a} {b} {self.kinds[(left, phone)]}\n")


def read_pdf_map(path: Path | str, phone_table: Mapping[str, int]) -> BiphonePdfMap:
    """Read what :meth:`BiphonePdfMap.write` wrote (symbols through ``phone_table``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"'{path}' does not exist: the lang directory has no chain pdf map")
    ids = dict(phone_table)
    ids["<none>"] = NO_LEFT
    lines = path.read_text(encoding="utf-8").splitlines()
    head = lines[0].split()
    if len(head) < 3 or head[:2] != ["#", "num-pdfs"]:
        raise UserError(f"{path}: not a pdf map (first line '{lines[0]}')")
    ci = tuple(ids[s] for s in head[4:])
    table, kinds = {}, {}
    for n, line in enumerate(lines[1:], start=2):
        f = line.split()
        if len(f) != 5 or f[0] not in ids or f[1] not in ids:
            raise UserError(f"{path}:{n}: bad pdf map line '{line}'")
        table[(ids[f[0]], ids[f[1]])] = (int(f[2]), int(f[3]))
        kinds[(ids[f[0]], ids[f[1]])] = f[4]
    phones = tuple(sorted({p for _, p in table}))
    return BiphonePdfMap(phones, ci, table, kinds, int(head[2]))


def biphone_counts(
    phone_seqs: Iterable[Sequence[int]],
) -> Tuple[Dict[Tuple[int, int], int], Dict[int, int]]:
    """``(left, phone)`` and ``phone`` counts of phone-id sequences; ``left`` = 0 at the start
    (Kaldi's ``compute_biphone_stats.py``)."""
    bi: Counter = Counter()
    mono: Counter = Counter()
    for seq in phone_seqs:
        left = NO_LEFT
        for p in seq:
            bi[(left, p)] += 1
            mono[p] += 1
            left = p
    return dict(bi), dict(mono)


def build_pdf_map(
    phones: Sequence[int],
    ci_phones: Sequence[int] = (),
    bi_counts: Optional[Mapping[Tuple[int, int], int]] = None,
    mono_counts: Optional[Mapping[int, int]] = None,
    min_biphone_count: int = 100,
    min_monophone_count: int = 20,
) -> BiphonePdfMap:
    """The pdf map of ``GetFullBiphoneStubMap``; no counts (None): the full, untied tree."""
    phones = sorted(set(phones))
    if not phones or phones[0] <= NO_LEFT:
        raise UserError("phone ids must be >= 1 (0 is the no-left-context value)")
    ci = sorted(set(ci_phones))
    if set(ci) - set(phones):
        raise UserError(f"context-independent phones {sorted(set(ci) - set(phones))} unknown")
    if min_biphone_count < 0 or min_monophone_count < 0:
        raise UserError("--min-biphone-count and --min-monophone-count must be >= 0")
    tie = bi_counts is not None
    bi = bi_counts or {}
    mono = mono_counts or {}
    lefts = [NO_LEFT] + phones
    table: Dict[Tuple[int, int], Tuple[int, int]] = {}
    kinds: Dict[Tuple[int, int], str] = {}
    next_pdf = 0

    def new_pair() -> Tuple[int, int]:
        nonlocal next_pdf
        next_pdf += 2
        return next_pdf - 2, next_pdf - 1

    for p in ci:
        pair = new_pair()
        for left in lefts:
            table[(left, p)], kinds[(left, p)] = pair, "ci"
    zero: Optional[Tuple[int, int]] = None
    normal = [p for p in phones if p not in ci]
    for p in normal:
        pair = new_pair()
        for left in [NO_LEFT] + ci:
            table[(left, p)], kinds[(left, p)] = pair, "no-left"
        mono_pair: Optional[Tuple[int, int]] = None
        for left in normal:
            if not tie or bi.get((left, p), 0) >= min_biphone_count:
                table[(left, p)], kinds[(left, p)] = new_pair(), "biphone"
            elif mono.get(p, 0) > min_monophone_count:
                mono_pair = mono_pair or new_pair()
                table[(left, p)], kinds[(left, p)] = mono_pair, "mono"
            else:
                zero = zero or new_pair()
                table[(left, p)], kinds[(left, p)] = zero, "zero"
    return BiphonePdfMap(tuple(phones), tuple(ci), table, kinds, next_pdf)


def pdf_sequence(
    pdf_map: BiphonePdfMap, phones: Sequence[int], durations: Sequence[int]
) -> List[int]:
    """The pdf of every frame when ``phones[i]`` lasts ``durations[i]`` frames (the definition
    of the topology, independent of its FST: first-frame pdf, then self-loop pdfs)."""
    out: List[int] = []
    left = NO_LEFT
    for p, d in zip(phones, durations):
        first, loop = pdf_map.pdfs(left, p)
        out.extend([first] + [loop] * (d - 1))
        left = pdf_map.context_after(p)
    return out


def pdf_map_from_transcripts(
    texts: Iterable[str],
    lexicon: Lexicon,
    phone_table: Mapping[str, int],
    min_biphone_count: int = 100,
    min_monophone_count: int = 20,
    ci_phones: Sequence[str] = (),
) -> BiphonePdfMap:
    """The tied pdf map of the real phones of ``phone_table``, counted on ``texts`` (first
    pronunciation of each word, OOV -> ``<unk>``, no silence: Kaldi's ``prepare_e2e.sh``)."""
    phones = [i for s, i in phone_table.items() if s != "<eps>" and not s.startswith("#")]
    seqs = []
    for text in texts:
        pron = words_to_phones(text.split(), lexicon)
        if pron:
            seqs.append([phone_table[p] for p in pron])
    bi, mono = biphone_counts(seqs)
    return build_pdf_map(
        phones,
        [phone_table[p] for p in ci_phones],
        bi,
        mono,
        min_biphone_count=min_biphone_count,
        min_monophone_count=min_monophone_count,
    )
