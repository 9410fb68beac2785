"""Synthetic speakers: an espeak-ng voice (accent + variant), a pitch and a speaking rate.

Every speaker of both demo corpora comes from one seeded draw over this pool, so TED-LIUM
train/dev/test and the ten IEMOCAP speakers are all different voices.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

FEMALE_VARIANTS = (
    "f1 f2 f3 f4 f5 Annie Andrea belinda linda steph steph2 aunty grandma anika Alicia".split()
)
MALE_VARIANTS = (
    "m1 m2 m3 m4 m5 m6 m7 m8 klatt klatt3 Mike robert antonio quincy michel paul".split()
)
ACCENTS = ("en-us", "en-us", "en-us", "en-gb", "en-gb-x-rp", "en-us-nyc", "en-029")

FIRST = {
    "female": "Amy Beth Clara Dana Emma Fiona Grace Hanna Iris Julia Kate Laura Maya Nora".split(),
    "male": "Adam Ben Carl David Eric Frank Greg Henry Ivan Jack Kevin Leo Mark Nick".split(),
}
LAST = "Adler Baker Carter Dunn Ellis Foster Grant Hayes Irwin Jones Klein Lowe Mills Nash".split()


@dataclass(frozen=True)
class Speaker:
    """One synthetic voice; ``voice`` is the espeak-ng ``-v`` argument."""

    name: str
    gender: str  # "female" or "male"
    voice: str
    pitch: int  # espeak-ng -p, 0..99
    rate: int  # espeak-ng -s, words per minute


def draw_speakers(seed: int, needs: Sequence[Tuple[str, str]]) -> Dict[str, Speaker]:
    """Distinct speakers for ``needs`` = [(key, gender), ...], deterministic in ``seed``.

    Variants are used once each before any is reused with another accent, so small corpora
    never share a variant between two speakers.
    """
    rng = random.Random(f"speakers-{seed}")
    pools: Dict[str, List[str]] = {}
    for gender, variants in (("female", FEMALE_VARIANTS), ("male", MALE_VARIANTS)):
        v = list(variants)
        rng.shuffle(v)
        pools[gender] = v
    firsts = {g: rng.sample(names, len(names)) for g, names in FIRST.items()}
    lasts = rng.sample(LAST, len(LAST))
    used: Dict[str, int] = {"female": 0, "male": 0}
    out: Dict[str, Speaker] = {}
    for key, gender in needs:
        i = used[gender]
        used[gender] += 1
        variant = pools[gender][i % len(pools[gender])]
        accent = ACCENTS[(i // len(pools[gender]) + rng.randrange(len(ACCENTS))) % len(ACCENTS)]
        if i >= len(pools[gender]):  # reuse of a variant: force a different accent
            accent = ACCENTS[3 + (i // len(pools[gender])) % 4]
        first = firsts[gender][i % len(firsts[gender])]
        last = lasts[(i + (gender == "male") * 7) % len(lasts)]
        suffix = "" if i < len(firsts[gender]) else str(i // len(firsts[gender]) + 1)
        out[key] = Speaker(
            name=f"{first}{last}{suffix}",
            gender=gender,
            voice=f"{accent}+{variant}",
            pitch=rng.randint(38, 62),
            rate=rng.randint(150, 185),
        )
    return out
