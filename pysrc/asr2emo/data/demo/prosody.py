"""Emotion as prosody: class profiles, per-speaker styles, per-utterance jitter, V/A/D labels.

Each class moves the speaker's neutral voice along pitch level, pitch range, rate, loudness and
voice quality. Speakers differ in how expressive they are and in their own version of each
class; every utterance adds random jitter, so high-arousal classes (ang, exc) overlap with each
other and low-arousal ones (neu, sad) too. ``strength`` scales all class effects (tuning knob
for how hard the task is).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, List, Tuple

# Per class: pitch shift (espeak -p units), range %, rate factor, gain dB, overdrive gain,
# treble dB, lowpass Hz (0 = none), tremolo depth %.
PROFILES: Dict[str, Tuple[float, float, float, float, float, float, float, float]] = {
    "neu": (0.0, 100.0, 1.00, 0.0, 0.0, 0.0, 0.0, 0.0),
    "ang": (6.0, 150.0, 1.10, 4.0, 6.0, 3.0, 0.0, 0.0),
    "exc": (12.0, 190.0, 1.15, 3.0, 0.0, 1.5, 0.0, 0.0),
    "sad": (-8.0, 60.0, 0.82, -4.0, 0.0, -1.0, 3500.0, 15.0),
    # labels the recipe drops: rendered like their nearest kept class, a bit weaker
    "hap": (9.0, 160.0, 1.08, 2.0, 0.0, 1.0, 0.0, 0.0),
    "fru": (3.0, 120.0, 1.05, 2.0, 3.0, 1.5, 0.0, 0.0),
    "sur": (14.0, 200.0, 1.05, 2.0, 0.0, 1.0, 0.0, 0.0),
    "fea": (8.0, 130.0, 1.12, -1.0, 0.0, 0.0, 0.0, 10.0),
    "dis": (-3.0, 90.0, 0.95, 1.0, 2.0, 0.0, 0.0, 0.0),
    "oth": (0.0, 110.0, 1.00, 0.0, 0.0, 0.0, 0.0, 0.0),
}
# "xxx" (no annotator agreement) borrows a random profile per utterance.
XXX_CHOICES = ("neu", "fru", "ang", "sad", "exc", "hap")

# Mean [valence, activation, dominance] on IEMOCAP's 1-5 scale.
VAD: Dict[str, Tuple[float, float, float]] = {
    "neu": (3.0, 2.4, 2.8),
    "ang": (1.8, 3.8, 3.9),
    "exc": (3.9, 3.7, 3.4),
    "sad": (2.1, 2.0, 2.2),
    "hap": (4.0, 3.2, 3.2),
    "fru": (2.0, 3.2, 3.3),
    "sur": (3.2, 3.8, 3.0),
    "fea": (2.0, 3.5, 2.0),
    "dis": (1.8, 3.1, 3.3),
    "oth": (3.0, 3.0, 3.0),
    "xxx": (2.7, 3.0, 3.0),
}

CATEGORY_NAMES = {
    "neu": "Neutral",
    "ang": "Anger",
    "exc": "Excited",
    "sad": "Sadness",
    "hap": "Happiness",
    "fru": "Frustration",
    "sur": "Surprise",
    "fea": "Fear",
    "dis": "Disgust",
    "oth": "Other",
}


@dataclass
class Style:
    """A speaker's way of expressing emotion: overall expressiveness and per-class offsets."""

    expressiveness: float
    gain_db: float
    class_pitch: Dict[str, float]
    class_rate: Dict[str, float]
    class_gain: Dict[str, float]


@dataclass
class Prosody:
    """Everything that renders one utterance besides the speaker's voice."""

    pitch: int
    rate: int
    range_pct: int
    gain_db: float
    effects: List[str]


def draw_style(rng: random.Random) -> Style:
    """A speaker style: expressiveness 0.8-1.3 and small per-class deviations."""
    return Style(
        expressiveness=rng.uniform(0.8, 1.3),
        gain_db=rng.gauss(0.0, 2.0),
        class_pitch={c: rng.gauss(0.0, 3.0) for c in PROFILES},
        class_rate={c: rng.gauss(0.0, 0.04) for c in PROFILES},
        class_gain={c: rng.gauss(0.0, 1.5) for c in PROFILES},
    )


def utterance_prosody(
    label: str,
    base_pitch: int,
    base_rate: int,
    style: Style,
    rng: random.Random,
    strength: float = 1.0,
) -> Prosody:
    """Prosody of one utterance of class ``label`` (any IEMOCAP label, incl. xxx)."""
    cls = rng.choice(XXX_CHOICES) if label == "xxx" else label
    dp, rng_pct, rate_f, gain, od, treble, lowpass, trem = PROFILES[cls]
    k = strength * style.expressiveness
    pitch = base_pitch + k * dp + style.class_pitch[cls] + rng.gauss(0.0, 4.0)
    rate = base_rate * (1.0 + k * (rate_f - 1.0) + style.class_rate[cls] + rng.gauss(0.0, 0.05))
    range_pct = 100.0 + k * (rng_pct - 100.0) + rng.gauss(0.0, 25.0)
    gain_db = style.gain_db + k * gain + style.class_gain[cls] + rng.gauss(0.0, 2.0)
    effects: List[str] = []
    od_gain = k * od + rng.gauss(0.0, 2.0)
    if od_gain > 1.0:
        effects += ["overdrive", f"{od_gain:.1f}", "20"]
    treble_db = k * treble + rng.gauss(0.0, 1.5)
    effects += ["treble", f"{treble_db:.1f}"]
    if lowpass > 0 and rng.random() < min(1.0, 0.8 * k):
        effects += ["lowpass", f"{lowpass * rng.uniform(0.8, 1.3):.0f}"]
    trem_depth = k * trem + rng.gauss(0.0, 4.0)
    if trem_depth > 3.0:
        effects += ["tremolo", f"{rng.uniform(4.0, 7.0):.1f}", f"{min(trem_depth, 40.0):.1f}"]
    return Prosody(
        pitch=int(round(min(99.0, max(0.0, pitch)))),
        rate=int(round(min(400.0, max(90.0, rate)))),
        range_pct=int(round(min(300.0, max(20.0, range_pct)))),
        gain_db=gain_db,
        effects=effects,
    )


def annotations(label: str, rng: random.Random) -> Tuple[List[str], List[Tuple[int, int, int]]]:
    """Categorical evaluations (``C-*`` lines' texts) and dimensional ones (val, act, dom).

    The majority of categorical evaluations agree with ``label`` (none for ``xxx``), and the
    dimensional ratings scatter around the class means on the 1-5 scale.
    """
    n_cat = rng.choice((3, 3, 4))
    names = list(CATEGORY_NAMES)
    if label == "xxx":
        cats = rng.sample([c for c in names if c != "oth"], n_cat)
    else:
        cats = [label] * (n_cat - 1) + [rng.choice(names) if rng.random() < 0.5 else label]
        rng.shuffle(cats)
    cat_text = [f"{CATEGORY_NAMES[c]};" for c in cats]
    v0, a0, d0 = VAD[label]
    dims = []
    for _ in range(rng.choice((2, 2, 3))):
        dims.append(
            tuple(int(min(5, max(1, round(m + rng.gauss(0.0, 0.7))))) for m in (v0, a0, d0))
        )
    return cat_text, dims  # type: ignore[return-value]
