"""Tiny real training data for tests and benches: the Kaldi yes/no corpus as MFCC cuts + lang.

``waves_yesno/0_1_...wav``: 8 words per file, 0 = "NO", 1 = "YES" (one Hebrew speaker, 8 kHz).
Audio is resampled to 16 kHz and turned into 40-dim hires MFCC (:class:`KaldiMfccHires`); the
cuts carry no i-vectors (train with ``--require-ivectors=false``: the model then sees zeros,
which is fine for one speaker). The words are Hebrew "ken" (yes) and "lo" (no); the lexicon
spells them with their phones ``K E N`` and ``L O`` (+ SIL, SPN) rather than Kaldi's one phone
per word: with a CTC topology a repeated one-phone word ("lo lo") is told apart from a long one
only by a blank, which cost about 2 % WER in our runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet

from asr2emo.features.mfcc import KaldiMfccHires
from asr2emo.features.storage import feature_writer_type


def yesno_cuts(wav_dir: Path | str, out_dir: Path | str, files: List[Path] | None = None) -> CutSet:
    """Cuts (16 kHz, MFCC stored under ``out_dir/feats``) for the given (or all) yes/no files."""
    wav_dir, out_dir = Path(wav_dir), Path(out_dir)
    files = sorted(files if files is not None else wav_dir.glob("*.wav"))
    recs, sups = [], []
    for f in files:
        rec = Recording.from_file(f)
        words = ["YES" if b == "1" else "NO" for b in f.stem.split("_")]
        recs.append(rec)
        sups.append(
            SupervisionSegment(
                id=rec.id,
                recording_id=rec.id,
                start=0.0,
                duration=rec.duration,
                text=" ".join(words),
                speaker="yesno",
            )
        )
    cuts = CutSet.from_manifests(
        RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups)
    )
    cuts = cuts.resample(16000)
    out_dir.mkdir(parents=True, exist_ok=True)
    return cuts.compute_and_store_features(
        KaldiMfccHires(),
        storage_path=out_dir / "feats",
        storage_type=feature_writer_type(),
        num_jobs=1,
    ).to_eager()


def yesno_split(wav_dir: Path | str) -> Tuple[List[Path], List[Path]]:
    """Deterministic 30/30 split: alternate files of the sorted list."""
    files = sorted(Path(wav_dir).glob("*.wav"))
    return files[0::2], files[1::2]


def yesno_lang(lang_dir: Path | str, texts: List[str], topology: str = "ctc") -> Path:
    """A lang directory (L, P, G, HLG) for the two-word yes/no vocabulary; ``topology="chain"``
    ties its biphones with conf/lang.conf's counts (100 / 20)."""
    from asr2emo.lang.prepare import prepare_lang_from_lexicon

    lexicon = {"YES": [["K", "E", "N"]], "NO": [["L", "O"]]}
    return prepare_lang_from_lexicon(
        lexicon, texts, lang_dir, phone_lm_order=2, word_lm_order=2, topology=topology
    )
