"""A small back-off n-gram estimator (interpolated Witten-Bell) with ARPA output.

Used for both the word 3-gram G (written as ARPA, compiled by kaldilm) and the phone LM P of the
LF-MMI denominator (turned directly into an epsilon-free k2 acceptor, see :mod:`phone_lm`).

Interpolated Witten-Bell (SRILM ``-wbdiscount -interpolate``): for a history h seen c(h) times
with T(h) distinct followers,

    p(w | h) = (c(h w) + T(h) p(w | h')) / (c(h) + T(h)),      h' = h without its first word,

and the unigram level interpolates with the uniform distribution over the vocabulary, so every
vocabulary word (also ones never seen in training) has non-zero probability. Because the
interpolated form is exactly "explicit probability if seen, else bow(h) * p(w | h')" with
bow(h) = T(h) / (c(h) + T(h)), it is written to ARPA without approximation. Witten-Bell is chosen
over Kneser-Ney because it needs no count-of-counts (robust on tiny demo corpora, and on the
small phone "vocabulary" where Kneser-Ney discounts are ill-defined).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

BOS, EOS = "<s>", "</s>"
Ngram = Tuple[str, ...]


class WittenBellLM:
    """Interpolated Witten-Bell n-gram model over a closed vocabulary (plus ``</s>``)."""

    def __init__(self, sentences: Iterable[Sequence[str]], vocab: Iterable[str], order: int = 3):
        if order < 1:
            raise ValueError(f"n-gram order must be >= 1, got {order}")
        self.order = order
        self.vocab: List[str] = sorted(set(vocab) - {BOS, EOS})
        known = set(self.vocab)
        # counts[n][ngram] for n = 1..order; histories start with <s>, which is never predicted.
        self.counts: List[Dict[Ngram, int]] = [defaultdict(int) for _ in range(order + 1)]
        for sent in sentences:
            words = [w for w in sent]
            unknown = [w for w in words if w not in known]
            if unknown:
                raise ValueError(f"words not in the vocabulary: {' '.join(sorted(set(unknown)))}")
            seq = [BOS] + words + [EOS]
            for i in range(1, len(seq)):
                for n in range(1, order + 1):
                    if i - n + 1 < 0:
                        break
                    self.counts[n][tuple(seq[i - n + 1 : i + 1])] += 1
        # History statistics: c(h) = sum_w c(h w), T(h) = #distinct w.
        self.hist_count: Dict[Ngram, int] = defaultdict(int)
        self.hist_types: Dict[Ngram, int] = defaultdict(int)
        for n in range(1, order + 1):
            for ngram, c in self.counts[n].items():
                self.hist_count[ngram[:-1]] += c
                self.hist_types[ngram[:-1]] += 1
        self.predicted = self.vocab + [EOS]
        self._cache: Dict[Tuple[Ngram, str], float] = {}

    def prob(self, word: str, history: Sequence[str]) -> float:
        """p(word | history); only the last ``order - 1`` history words matter."""
        h = tuple(history)[max(0, len(history) - self.order + 1) :] if self.order > 1 else ()
        return self._prob(word, h)

    def _prob(self, word: str, h: Ngram) -> float:
        key = (h, word)
        if key in self._cache:
            return self._cache[key]
        if h:
            lower = self._prob(word, h[1:])
        else:
            lower = 1.0 / len(self.predicted)
        c_h = self.hist_count.get(h, 0)
        if c_h == 0:
            p = lower
        else:
            t_h = self.hist_types[h]
            p = (self.counts[len(h) + 1].get(h + (word,), 0) + t_h * lower) / (c_h + t_h)
        self._cache[key] = p
        return p

    def backoff_weight(self, h: Ngram) -> float:
        c_h = self.hist_count.get(h, 0)
        if c_h == 0:
            return 1.0
        t_h = self.hist_types[h]
        return t_h / (c_h + t_h)

    def is_history(self, h: Ngram) -> bool:
        """True when h was seen as a context (its successors have explicit probabilities)."""
        return self.hist_count.get(h, 0) > 0

    def arpa_entries(self) -> List[List[Tuple[Ngram, float, float | None]]]:
        """Per order: ``(ngram, log10 prob, log10 bow or None)`` as they go into the ARPA file."""
        out: List[List[Tuple[Ngram, float, float | None]]] = []
        for n in range(1, self.order + 1):
            if n == 1:
                grams: List[Ngram] = [(w,) for w in self.predicted] + [(BOS,)]
            else:
                grams = sorted(self.counts[n])
            rows = []
            for g in grams:
                logp = -99.0 if g == (BOS,) else math.log10(self._prob(g[-1], g[:-1]))
                bow = None
                if n < self.order and g[-1] != EOS:
                    bow = math.log10(self.backoff_weight(g))
                rows.append((g, logp, bow))
            out.append(rows)
        return out

    def write_arpa(self, path: Path | str) -> None:
        entries = self.arpa_entries()
        with open(path, "w", encoding="utf-8") as f:
            f.write("\\data\\\n")
            for n, rows in enumerate(entries, start=1):
                f.write(f"ngram {n}={len(rows)}\n")
            for n, rows in enumerate(entries, start=1):
                f.write(f"\n\\{n}-grams:\n")
                for g, logp, bow in rows:
                    line = f"{logp:.6f}\t{' '.join(g)}"
                    if bow is not None:
                        line += f"\t{bow:.6f}"
                    f.write(line + "\n")
            f.write("\n\\end\\\n")
