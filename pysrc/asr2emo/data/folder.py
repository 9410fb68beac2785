"""Emotion corpora in the common folder layout ``<root>/<Label>/<file>.wav`` -> lhotse manifests.

Emo-DB, RAVDESS, URDU and many others ship (or are easily arranged) this way. The label is the
folder name lowercased; the speaker comes from a regex on the file name (group ``speaker`` or
the first group; an optional group ``gender`` gives the gender). Any format libsndfile reads
(wav, flac, ogg, mp3, ...) and any sampling rate are accepted (features resample to 16 kHz);
multi-channel files are used through channel 0, as in inference
(:data:`asr2emo.data.long_audio.CHANNEL`). Every entry under the corpus dir is accounted for:
what is not a usable recording in a label folder (a file at the root, a sub-folder, a broken or
looping link, a non-audio, empty or truncated file, a name the speaker regex misses) is skipped,
counted by reason and listed in full in the log.

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

from asr2emo.data.audio_check import probe_audio
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

# Files that are never recordings (listings, notes, checksums): skipped without probing.
NOT_AUDIO_SUFFIXES = (".txt", ".md", ".csv", ".json", ".xml", ".pdf", ".md5", ".sha1", ".log")


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


def _kind(p: Path) -> str:
    """'file', 'dir', or why the entry is neither (a broken or looping link, a device...)."""
    import os
    import stat

    try:
        mode = os.stat(p).st_mode
    except OSError as e:  # a dangling link (ENOENT) or one that points at itself (ELOOP)
        return f"link that cannot be followed ({e.strerror})"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "neither a file nor a folder"


def find_files(
    corpus_dir: Path, skipped: Optional[Dict[str, List[str]]] = None
) -> List[Tuple[str, Path]]:
    """``(label folder name, file)`` of every candidate recording one level below
    ``corpus_dir``; every other entry goes into ``skipped`` ({reason: [path]})."""
    if not corpus_dir.is_dir():
        raise UserError(
            f"corpus dir '{corpus_dir}' does not exist; expected <dir>/<Label>/<file>.wav"
        )
    skipped = skipped if skipped is not None else {}

    def skip(reason: str, path: Path) -> None:
        skipped.setdefault(reason, []).append(str(path))

    out = []
    for d in sorted(corpus_dir.iterdir()):
        if d.name.startswith("."):
            continue
        kind = _kind(d)
        if kind == "file":
            if d.suffix.lower() not in NOT_AUDIO_SUFFIXES:
                skip("file at the corpus root, not in a label folder", d)
            continue
        if kind != "dir":
            skip(kind, d)
            continue
        for f in sorted(d.iterdir()):
            if f.name.startswith("."):
                continue
            kind = _kind(f)
            if kind == "dir":
                skip("folder inside a label folder (the layout is <dir>/<Label>/<file>)", f)
            elif kind != "file":
                skip(kind, f)
            elif f.suffix.lower() in NOT_AUDIO_SUFFIXES:
                skip("not an audio file (by its name)", f)
            else:
                out.append((d.name, f))
    if not out:
        raise UserError(
            f"no files in '{corpus_dir}/<Label>/'; expected the folder layout "
            "<dir>/<Label>/<file>.wav (any format libsndfile reads)"
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
    for label, f in find_files(corpus_dir, skipped):
        spk = parse_speaker(regex, f.name)
        if spk is None:
            skipped.setdefault("speaker regex does not match the file name", []).append(str(f))
            continue
        problem = probe_audio(f)  # unreadable, empty or truncated (as for IEMOCAP)
        if problem is not None:
            skipped.setdefault(problem.split(" (")[0], []).append(f"{f}: {problem}")
            continue
        try:
            rec = Recording.from_file(f, recording_id=f"{label.lower()}_{f.stem}")
        except Exception as e:  # libsndfile and friends share no base class
            msg = (str(e).splitlines() or [type(e).__name__])[0][:80]
            skipped.setdefault("unreadable audio", []).append(f"{f}: {msg}")
            continue
        items.append((label, spk, rec))
    for reason, files in sorted(skipped.items()):
        logging.warning("skipped %d file(s): %s:", len(files), reason)
        for item in files:
            logging.warning("  skipped %s", item)
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
