"""A seeded sentence grammar over a few hundred common English words (all in the CMU dictionary).

Texts carry no emotion: both demo corpora take their sentences from here, and the IEMOCAP-like
corpus renders the emotion with prosody only. Verbs are in the past tense or follow a modal, so
no agreement is needed and every sentence is grammatical enough for a word n-gram LM to learn.
"""

from __future__ import annotations

import random
from typing import Dict, List

WORDS: Dict[str, List[str]] = {
    "det": "the a this that every some our my your their his her one".split(),
    "subj": "i we you they he she people everyone nobody".split(),
    "noun": """people world idea story water city house school child friend family teacher doctor
        market garden river mountain road car train book letter picture music song problem
        question answer reason moment morning evening night day week year country village island
        forest ocean planet machine computer phone system energy money project team company office
        language science history future number table window door kitchen street bridge light color
        animal bird fish tree flower stone paper message dream voice heart brain body hand face
        community design game cell student artist engineer farmer scientist mother father brother
        sister camera map plan space room field building museum library hospital
        garage boat island journey""".split(),
    "adj": """old new small big large little young simple strange beautiful important different
        difficult quiet bright dark green blue red white long short warm cold early late real whole
        open public local human global modern ancient hidden empty full clear tiny huge common
        special free natural digital careful heavy light""".split(),
    "vt": """found built saw made took gave brought opened closed moved changed painted carried
        watched followed helped visited measured studied designed wrote read sold bought cleaned
        fixed shared started finished tested collected counted drew heard kept left lost met needed
        showed used wanted washed""".split(),
    "vi": """walked waited arrived stayed worked listened talked traveled returned slept grew
        failed jumped rested danced sang""".split(),
    "vb": """see build find make take change share open start design measure study help visit
        follow use move test""".split(),
    "modal": "can could will should might must would".split(),
    "prep": """in on near behind under over with from into across through around for after before
        beside""".split(),
    "adv": """slowly quickly together again today yesterday carefully finally always often never
        really suddenly later""".split(),
    "conj": "and but so because then while".split(),
    "opener": "so now well actually".split(),
    "num": "two three four five ten twenty".split(),
    "plural": """children friends students books trees birds ideas stories cities houses cars
        letters pictures songs questions years days weeks machines computers phones animals
        flowers stones maps rooms boats doctors teachers artists engineers farmers""".split(),
}


def vocabulary() -> List[str]:
    """Every word the grammar can produce, sorted."""
    return sorted({w for ws in WORDS.values() for w in ws})


def _np(rng: random.Random) -> List[str]:
    r = rng.random()
    if r < 0.15:
        return [rng.choice(WORDS["num"]), rng.choice(WORDS["plural"])]
    words = [rng.choice(WORDS["det"])]
    if rng.random() < 0.5:
        words.append(rng.choice(WORDS["adj"]))
    words.append(rng.choice(WORDS["noun"]))
    return words


def _subject(rng: random.Random) -> List[str]:
    return [rng.choice(WORDS["subj"])] if rng.random() < 0.5 else _np(rng)


def _vp(rng: random.Random) -> List[str]:
    r = rng.random()
    if r < 0.45:
        words = [rng.choice(WORDS["vt"])] + _np(rng)
    elif r < 0.7:
        words = [rng.choice(WORDS["modal"]), rng.choice(WORDS["vb"])] + _np(rng)
    else:
        words = [rng.choice(WORDS["vi"])]
    if rng.random() < 0.4:
        words += [rng.choice(WORDS["prep"])] + _np(rng)
    if rng.random() < 0.2:
        words.append(rng.choice(WORDS["adv"]))
    return words


def clause(rng: random.Random) -> List[str]:
    """One subject + verb phrase."""
    return _subject(rng) + _vp(rng)


def sentence(rng: random.Random, min_words: int = 3, max_words: int = 12) -> str:
    """A lowercase sentence of ``min_words``..``max_words`` words (retries until it fits)."""
    while True:
        words = clause(rng)
        if rng.random() < 0.15:
            words = [rng.choice(WORDS["opener"])] + words
        if rng.random() < 0.3:
            words += [rng.choice(WORDS["conj"])] + clause(rng)
        if min_words <= len(words) <= max_words:
            return " ".join(words)
