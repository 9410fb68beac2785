"""Volume perturbation of training cuts, as Kaldi's ``utils/data/perturb_data_dir_volume.sh``.

Kaldi scales every recording of the (speed-perturbed) training data by a factor drawn uniformly
from ``[--scale-low, --scale-high] = [0.125, 2]`` (``utils/data/internal/perturb_volume.py``:
``random.uniform`` after ``random.seed(0)``, a ``sox --vol`` in ``wav.scp``) before the hires
MFCC (tedlium ``local/nnet3/run_ivector_common.sh``). Here the factor of a cut is a function of
its id and a seed alone (a hash, not a generator's draw order), so ``--nj``, job runners and the
order of the manifests do not change it; the speed-perturbed copies have ids of their own and
get factors of their own. lhotse applies it to the float samples while loading the audio, with
no clipping (Kaldi's sox pipe writes 16-bit samples, clipped at full scale).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lhotse import CutSet

from asr2emo.utils.errors import UserError


@dataclass
class VolumePerturbConfig:
    """The ``--volume-perturb*`` keys of ``conf/mfcc_hires.conf``; defaults are Kaldi's range."""

    volume_perturb: bool = field(
        default=False,
        metadata={"help": "scale each cut of the speed-perturbed train part by its own factor"},
    )
    volume_low: float = field(default=0.125, metadata={"help": "smallest volume factor"})
    volume_high: float = field(default=2.0, metadata={"help": "largest volume factor"})
    volume_seed: int = field(default=0, metadata={"help": "hashed with each cut id"})

    def __post_init__(self) -> None:
        if not 0 < self.volume_low <= self.volume_high:
            raise UserError(
                f"volume perturbation needs 0 < --volume-low <= --volume-high, got "
                f"{self.volume_low} and {self.volume_high}"
            )


def volume_factor(cut_id: str, low: float, high: float, seed: int = 0) -> float:
    """Uniform in ``[low, high)``, determined by ``cut_id`` and ``seed`` (SHA-256 of both)."""
    digest = hashlib.sha256(f"{seed}\t{cut_id}".encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return low + (high - low) * u


def perturb_volume(cuts: CutSet, config: VolumePerturbConfig) -> CutSet:
    """Each cut scaled by its :func:`volume_factor` (ids kept: one copy per cut, as Kaldi)."""
    return CutSet.from_cuts(
        cut.perturb_volume(
            volume_factor(cut.id, config.volume_low, config.volume_high, config.volume_seed),
            affix_id=False,
        )
        for cut in cuts
    ).to_eager()
