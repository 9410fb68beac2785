"""Synthetic speakers: an espeak-ng voice (accent + variant), a pitch and a speaking rate.

Every speaker of both demo corpora comes from one seeded draw over this pool, so TED-LIUM
train/dev/test and the ten IEMOCAP speakers are all different voices. A corpus with more speakers
than variants reuses variants under another accent, pitch and rate, but never the variant of an
``exclusive`` speaker (the held-out dev/test voices stay unseen in training).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Collection, Dict, List, Sequence, Set, Tuple

FEMALE_VARIANTS = (
    "f1 f2 f3 f4 f5 Annie Andrea belinda linda steph steph2 aunty grandma anika Alicia".split()
)
MALE_VARIANTS = (
    "m1 m2 m3 m4 m5 m6 m7 m8 klatt klatt3 Mike robert antonio quincy michel paul".split()
)
# Variants only the extra ("wide") train speakers draw, once the pools above are used up: more
# distinct timbres for the acoustic model without changing any held-out or IEMOCAP voice. Left
# out: anikaRobot (anika's formants; anika is in the held-out pool), steph3 (steph's), the
# whisper, robot, demonic and klatt2-6 variants (not speech-like enough to help).
EXTRA_FEMALE_VARIANTS = ("shelby", "zac")
EXTRA_MALE_VARIANTS = (
    "Alex Andy Denis Diogo Gene Henrique Jacky Lee Marco Mario Nguyen Tweaky boris croak ed "
    "grandpa gustave iven john kaukovalta marcelo max miguel norbert pablo pedro rob sandro "
    "travis victor"
).split()
ACCENTS = ("en-us", "en-us", "en-us", "en-gb", "en-gb-x-rp", "en-us-nyc", "en-029")

FIRST = {
    "female": "Amy Beth Clara Dana Emma Fiona Grace Hanna Iris Julia Kate Laura Maya Nora".split(),
    "male": "Adam Ben Carl David Eric Frank Greg Henry Ivan Jack Kevin Leo Mark Nick".split(),
}
PITCH = (38, 62)  # espeak-ng -p range of a speaker
RATE = (150, 185)  # espeak-ng -s range (words per minute)
# Ranges of the ``wide`` speakers (extra train voices): a superset of the above, so training
# covers the pitch/rate space the held-out voices are drawn from, edges included.
WIDE_PITCH = (30, 70)
WIDE_RATE = (135, 200)
LAST = "Adler Baker Carter Dunn Ellis Foster Grant Hayes Irwin Jones Klein Lowe Mills Nash".split()


@dataclass(frozen=True)
class Speaker:
    """One synthetic voice; ``voice`` is the espeak-ng ``-v`` argument."""

    name: str
    gender: str  # "female" or "male"
    voice: str
    pitch: int  # espeak-ng -p, 0..99
    rate: int  # espeak-ng -s, words per minute


def draw_speakers(
    seed: int,
    needs: Sequence[Tuple[str, str]],
    exclusive: Collection[str] = (),
    wide: Collection[str] = (),
) -> Dict[str, Speaker]:
    """Distinct speakers for ``needs`` = [(key, gender), ...], deterministic in ``seed``.

    Variants are used once each, in ``needs`` order, before any is reused with an accent it has
    not had yet. The variant of a speaker whose key is in ``exclusive`` is never reused, so
    exclusive speakers must come before a gender's pool runs out (ValueError otherwise).
    Speakers whose key is in ``wide`` draw pitch and rate from the wider ranges.
    """
    rng = random.Random(f"speakers-{seed}")
    pools: Dict[str, List[str]] = {}
    for gender, variants in (("female", FEMALE_VARIANTS), ("male", MALE_VARIANTS)):
        v = list(variants)
        rng.shuffle(v)
        pools[gender] = v
    # After the shuffles, so the draws of the base pools (held-out voices included) do not move.
    extra_pools = {"female": list(EXTRA_FEMALE_VARIANTS), "male": list(EXTRA_MALE_VARIANTS)}
    extra_used = {"female": 0, "male": 0}
    firsts = {g: rng.sample(names, len(names)) for g, names in FIRST.items()}
    lasts = rng.sample(LAST, len(LAST))
    accents = list(dict.fromkeys(ACCENTS))  # distinct accents, for reuses
    used: Dict[str, int] = {"female": 0, "male": 0}
    accents_of: Dict[str, Set[str]] = {}
    reserved: Set[str] = set()
    out: Dict[str, Speaker] = {}
    for key, gender in needs:
        i = used[gender]
        used[gender] += 1
        pool = pools[gender]
        if i < len(pool):
            variant = pool[i]
            accent = ACCENTS[rng.randrange(len(ACCENTS))]
        elif key in wide and extra_used[gender] < len(extra_pools[gender]):
            variant = extra_pools[gender][extra_used[gender]]
            extra_used[gender] += 1
            accent = ACCENTS[rng.randrange(len(ACCENTS))]
        else:
            if key in exclusive:
                raise ValueError(f"exclusive speaker {key} drawn after the {gender} pool ran out")
            free = [v for v in pool if v not in reserved]
            fresh = [v for v in free if len(accents_of[v]) < len(accents)]
            if not fresh:
                raise ValueError(f"too many {gender} speakers for distinct voices")
            variant = fresh[(i - len(pool)) % len(fresh)]
            accent = rng.choice([a for a in accents if a not in accents_of[variant]])
        accents_of.setdefault(variant, set()).add(accent)
        if key in exclusive:
            reserved.add(variant)
        first = firsts[gender][i % len(firsts[gender])]
        last = lasts[(i + (gender == "male") * 7) % len(lasts)]
        suffix = "" if i < len(firsts[gender]) else str(i // len(firsts[gender]) + 1)
        out[key] = Speaker(
            name=f"{first}{last}{suffix}",
            gender=gender,
            voice=f"{accent}+{variant}",
            pitch=rng.randint(*(WIDE_PITCH if key in wide else PITCH)),
            rate=rng.randint(*(WIDE_RATE if key in wide else RATE)),
        )
    return out
