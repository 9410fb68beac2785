"""Emotion corpora in the common folder layout ``<root>/<Label>/<file>.wav`` -> lhotse manifests.

Emo-DB, RAVDESS, URDU and many others ship (or are easily arranged) this way. The label is the
folder name lowercased; the speaker comes from a regex on the file name (group ``speaker`` or
the first group; an optional group ``gender`` gives the gender). Any sampling rate is accepted
(features resample to 16 kHz); multi-channel files are read on channel 0.

Cross-validation groups: ``custom["session"]`` is the fold group of the speaker: with
``num_folds`` K > 0 the speakers are spread over K groups of about equal utterance counts
(largest speakers first, seeded order among equals), with K = 0 every speaker is its own group.
Supervisions carry the same fields as IEMOCAP's (``custom``: emotion, raw_emotion, session,
dialog, improvised; valence/arousal/dominance are None), so stages 6-9 run unchanged.
Writes ``<name>_{recordings,supervisions}_all.jsonl.gz``.

    asr2emo prepare-folder --speaker-regex '^(S[MF]\\d+)_' \\
        ../shared/data/urdu data/urdu/manifests
"""

from __future__ import annotations

import logging
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.qa import validate_recordings_and_supervisions

from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

AUDIO_SUFFIXES = (".wav", ".flac")


def speaker_groups(utts_per_speaker: Dict[str, int], num_folds: int, seed: int) -> Dict[str, int]:
    """Speaker -> group id in ``1..K`` (balanced utterance counts), or one group per speaker."""
    speakers = sorted(utts_per_speaker)
    if num_folds <= 0:
        return {s: i + 1 for i, s in enumerate(speakers)}
    if num_folds > len(speakers):
        raise UserError(f"--num-folds {num_folds} exceeds the number of speakers ({len(speakers)})")
    random.Random(seed).shuffle(speakers)
    speakers.sort(key=lambda s: -utts_per_speaker[s])  # stable: seeded order among equals
    load = [0] * num_folds
    group = {}
    for s in speakers:
        g = min(range(num_folds), key=lambda i: (load[i], i))
        group[s] = g + 1
        load[g] += utts_per_speaker[s]
    return group


def find_files(corpus_dir: Path) -> List[Tuple[str, Path]]:
    """``(label folder name, file)`` of every audio file one level below ``corpus_dir``."""
    if not corpus_dir.is_dir():
        raise UserError(
            f"corpus dir '{corpus_dir}' does not exist; expected <dir>/<Label>/<file>.wav"
        )
    out = []
    for d in sorted(p for p in corpus_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(d.iterdir()):
            if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES and not f.name.startswith("."):
                out.append((d.name, f))
    if not out:
        raise UserError(
            f"no audio ({', '.join(AUDIO_SUFFIXES)}) in '{corpus_dir}/<Label>/'; "
            "expected the folder layout <dir>/<Label>/<file>.wav"
        )
    return out


def parse_speaker(regex: re.Pattern, name: str) -> Optional[Tuple[str, Optional[str]]]:
    m = regex.search(name)
    if m is None:
        return None
    gd = m.groupdict()
    speaker = gd.get("speaker") or (m.group(1) if m.groups() else m.group(0))
    gender = gd.get("gender")
    return speaker, (gender.upper() if gender else None)


def prepare_folder(
    corpus_dir: Path,
    speaker_regex: str,
    num_folds: int = 5,
    seed: int = 1,
    output_dir: Optional[Path] = None,
    name: str = "",
) -> Tuple[RecordingSet, SupervisionSet, Dict[str, List[str]]]:
    """Manifests of a folder-layout corpus; returns them and the skipped files by reason."""
    corpus_dir = Path(corpus_dir)
    try:
        regex = re.compile(speaker_regex)
    except re.error as e:
        raise UserError(f"--speaker-regex '{speaker_regex}' is not a valid regex: {e}")
    skipped: Dict[str, List[str]] = {}
    items = []
    for label, f in find_files(corpus_dir):
        spk = parse_speaker(regex, f.name)
        if spk is None:
            skipped.setdefault("speaker regex does not match the file name", []).append(str(f))
            continue
        try:
            rec = Recording.from_file(f, recording_id=f"{label.lower()}_{f.stem}")
        except Exception as e:  # libsndfile and friends share no base class
            msg = (str(e).splitlines() or [type(e).__name__])[0][:80]
            skipped.setdefault("unreadable audio", []).append(f"{f}: {msg}")
            continue
        if rec.duration <= 0:
            skipped.setdefault("empty audio", []).append(str(f))
            continue
        items.append((label, spk, rec))
    for reason, files in sorted(skipped.items()):
        logging.warning("skipped %d file(s): %s, e.g. %s", len(files), reason, files[0])
    if not items:
        raise UserError(f"no usable file in '{corpus_dir}' (speaker regex '{speaker_regex}')")
    counts = Counter(spk[0] for _, spk, _ in items)
    groups = speaker_groups(counts, num_folds, seed)
    sups = []
    for label, (speaker, gender), rec in items:
        sups.append(
            SupervisionSegment(
                id=rec.id,
                recording_id=rec.id,
                start=0.0,
                duration=rec.duration,
                channel=0,
                speaker=speaker,
                gender=gender,
                custom={
                    "emotion": label.lower(),
                    "raw_emotion": label,
                    "valence": None,
                    "arousal": None,
                    "dominance": None,
                    "session": groups[speaker],
                    "dialog": speaker,
                    "improvised": None,
                },
            )
        )
    recordings = RecordingSet.from_recordings(rec for _, _, rec in items)
    supervisions = SupervisionSet.from_segments(sups)
    validate_recordings_and_supervisions(recordings, supervisions)
    if output_dir is not None:
        name = name or corpus_dir.name.lower()
        output_dir = Path(output_dir)
        with atomic_path(output_dir / f"{name}_recordings_all.jsonl.gz") as tmp:
            recordings.to_file(tmp)
        with atomic_path(output_dir / f"{name}_supervisions_all.jsonl.gz") as tmp:
            supervisions.to_file(tmp)
    return recordings, supervisions, skipped


def summary(supervisions: SupervisionSet) -> str:
    """Utterances per group and label, speakers per group (for the log)."""
    table: Dict[int, Counter] = {}
    spk: Dict[int, set] = {}
    for s in supervisions:
        g = int(s.custom["session"])
        table.setdefault(g, Counter())[s.custom["emotion"]] += 1
        spk.setdefault(g, set()).add(s.speaker)
    labels = sorted({lab for c in table.values() for lab in c})
    lines = ["group " + " ".join(f"{lab:>8}" for lab in labels) + "  speakers"]
    for g in sorted(table):
        lines.append(
            f"{g:>5} " + " ".join(f"{table[g][lab]:>8}" for lab in labels) + f"  {len(spk[g])}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    from asr2emo.cli import main as cli_main

    sys.exit(cli_main(["prepare-folder", *sys.argv[1:]]))
