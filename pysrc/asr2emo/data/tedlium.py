"""TED-LIUM release 2 -> lhotse manifests, through lhotse's own recipe (prepare_tedlium2).

lhotse's recipe stops with an assertion or a bare ValueError on a talk whose .sph or .stm is
missing, unreadable or malformed. Before calling it we check every talk; bad talks are skipped,
counted and named in the log, and lhotse then reads a view of the corpus (symlinks) holding only
the good talks. Recording paths are mapped back to the real corpus files.

Layout: ``DIR/{train,dev,test}/sph/<talk>.sph``, ``DIR/{train,dev,test}/stm/<talk>.stm``
(``<talk> 1 <talk> <start> <end> <o,f0,male> words``; ``ignore_time_segment_in_scoring`` lines
are not speech and lhotse drops them), ``DIR/TEDLIUM.152k.dic``.
"""

from __future__ import annotations

import logging
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from lhotse import RecordingSet, SupervisionSet
from lhotse.audio import AudioSource
from lhotse.recipes.tedlium2 import prepare_tedlium2
from lhotse.utils import fastcopy

from asr2emo.data.audio_check import probe_audio
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

PARTS: Tuple[str, ...] = ("train", "dev", "test")
LAYOUT = (
    "expected TEDLIUM_release2 layout: DIR/{train,dev,test}/{sph,stm}/ and DIR/TEDLIUM.152k.dic"
)


def check_layout(corpus_dir: Path, parts: Sequence[str] = PARTS) -> None:
    """One-line UserError naming the expected layout when the corpus is not there."""
    if not corpus_dir.is_dir():
        raise UserError(f"TED-LIUM directory '{corpus_dir}' does not exist; {LAYOUT}")
    for part in parts:
        for sub in ("sph", "stm"):
            if not (corpus_dir / part / sub).is_dir():
                raise UserError(f"'{corpus_dir / part / sub}' is missing; {LAYOUT}")


def check_stm(path: Path) -> Optional[str]:
    """None when every line of the .stm parses as lhotse expects, else the first problem."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        return f"unreadable ({e.__class__.__name__})"
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith(";;"):
            return f"line {n}: empty or comment line (lhotse cannot parse it)"
        fields = line.split()
        if len(fields) < 6:
            return f"line {n}: fewer than 6 fields"
        try:
            start, end = float(fields[3]), float(fields[4])
        except ValueError:
            return f"line {n}: start/end are not numbers"
        if end < start:
            return f"line {n}: end {end} before start {start}"
        if fields[0] != path.stem:
            return f"line {n}: talk id '{fields[0]}' differs from the file name"
    return None


def check_sph(path: Path) -> Optional[str]:
    """None when the audio is readable, non-empty and as long as its header says."""
    return probe_audio(path)


def find_talks(part_dir: Path) -> Tuple[List[str], Dict[str, List[str]]]:
    """Talk ids with a good .sph/.stm pair, and the skipped ones by reason."""
    sph = {p.stem for p in (part_dir / "sph").glob("*.sph")}
    stm = {p.stem for p in (part_dir / "stm").glob("*.stm")}
    skipped: Dict[str, List[str]] = defaultdict(list)
    for talk in sorted(sph - stm):
        skipped["no .stm for .sph"].append(str(part_dir / "sph" / f"{talk}.sph"))
    for talk in sorted(stm - sph):
        skipped["no .sph for .stm"].append(str(part_dir / "stm" / f"{talk}.stm"))
    good = []
    for talk in sorted(sph & stm):
        problem = check_sph(part_dir / "sph" / f"{talk}.sph")
        if problem is not None:
            skipped["bad .sph"].append(f"{part_dir / 'sph' / talk}.sph: {problem}")
            continue
        problem = check_stm(part_dir / "stm" / f"{talk}.stm")
        if problem is not None:
            skipped["malformed .stm"].append(f"{part_dir / 'stm' / talk}.stm: {problem}")
            continue
        good.append(talk)
    return good, skipped


def _prepare_part(
    corpus_dir: Path, part: str, talks: List[str], num_jobs: int
) -> Tuple[RecordingSet, SupervisionSet]:
    """Run lhotse's recipe on a symlink view holding only ``talks`` of ``part``."""
    with tempfile.TemporaryDirectory(prefix="tedlium_view_") as tmp:
        view = Path(tmp)
        for sub, ext in (("sph", ".sph"), ("stm", ".stm")):
            (view / part / sub).mkdir(parents=True)
            for talk in talks:
                target = (corpus_dir / part / sub / f"{talk}{ext}").resolve()
                (view / part / sub / f"{talk}{ext}").symlink_to(target)
        manifests = prepare_tedlium2(view, output_dir=None, dataset_parts=[part], num_jobs=num_jobs)
    recordings = manifests[part]["recordings"]
    real_sph = corpus_dir.resolve() / part / "sph"
    fixed = []
    for rec in recordings:
        sources = [
            AudioSource(
                type=s.type, channels=s.channels, source=str(real_sph / Path(s.source).name)
            )
            for s in rec.sources
        ]
        fixed.append(fastcopy(rec, sources=sources))
    return RecordingSet.from_recordings(fixed), manifests[part]["supervisions"]


def prepare_tedlium(
    corpus_dir: Path,
    output_dir: Optional[Path] = None,
    parts: Sequence[str] = PARTS,
    num_jobs: int = 1,
) -> Tuple[Dict[str, Dict[str, object]], Dict[str, List[str]]]:
    """Manifests per part (``{part: {"recordings", "supervisions"}}``) and the skipped talks.

    Writes ``tedlium2_{recordings,supervisions}_{part}.jsonl.gz`` atomically when ``output_dir``
    is given.
    """
    corpus_dir = Path(corpus_dir)
    check_layout(corpus_dir, parts)
    result: Dict[str, Dict[str, object]] = {}
    skipped_all: Dict[str, List[str]] = defaultdict(list)
    for part in parts:
        talks, skipped = find_talks(corpus_dir / part)
        for reason, items in skipped.items():
            skipped_all[reason].extend(items)
        if not talks:
            why = "; ".join(f"{len(v)} {k} (e.g. {v[0]})" for k, v in sorted(skipped.items()))
            raise UserError(
                f"no usable talk in '{corpus_dir / part}': {why or 'no .sph/.stm pair'}; {LAYOUT}"
            )
        recordings, supervisions = _prepare_part(corpus_dir, part, talks, num_jobs)
        logging.info(
            f"TED-LIUM {part}: {len(recordings)} talks, {len(supervisions)} segments, "
            f"{sum(s.duration for s in supervisions) / 3600:.2f} h of speech"
        )
        result[part] = {"recordings": recordings, "supervisions": supervisions}
        if output_dir is not None:
            output_dir = Path(output_dir)
            output_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(output_dir / f"tedlium2_recordings_{part}.jsonl.gz") as tmp:
                recordings.to_file(tmp)
            with atomic_path(output_dir / f"tedlium2_supervisions_{part}.jsonl.gz") as tmp:
                supervisions.to_file(tmp)
    return result, skipped_all
