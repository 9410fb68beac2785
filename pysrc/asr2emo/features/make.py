"""Stage 2/6 feature pipeline: manifests -> supervision cuts -> hires MFCC -> global CMVN.

For every part ``<corpus>_{recordings,supervisions}_<part>.jsonl.gz`` in the manifest directory
this writes ``<corpus>_cuts_<part>.jsonl.gz`` (one cut per supervision, features attached) and the
arrays under ``<corpus>_feats_<part>/``; ``train`` (or the only part) also gets 0.9/1.1 speed
perturbed copies when asked, then (with ``--volume-perturb``) every one of its cuts scaled in
volume (:mod:`asr2emo.features.volume`), and its statistics become ``<corpus>_cmvn.json``.
Recordings that cannot be decoded, and cuts too short for a feature frame, are skipped and listed in
``log/<corpus>_<part>_skipped.txt``. Each part ends with ``<corpus>_feats_<part>/.done``, a
record of the MFCC options and the part's manifests (:mod:`asr2emo.utils.markers`): a part is
recomputed when either changed, and the steps that read its cuts follow.
"""

from __future__ import annotations

import logging
import re
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from lhotse import CutSet, Recording, RecordingSet, SupervisionSet, load_manifest
from lhotse.cut import Cut

from asr2emo.features.cmvn import GlobalCmvn
from asr2emo.features.mfcc import KaldiMfccHires, KaldiMfccHiresConfig
from asr2emo.features.storage import feature_writer_type
from asr2emo.features.volume import VolumePerturbConfig, perturb_volume
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.jobs import runner_executor
from asr2emo.utils.markers import make_record, needs_run, write_marker

SPEED_FACTORS = (0.9, 1.1)


@dataclass
class PartReport:
    """What happened to one part: kept cuts and ``(id, reason)`` of every skipped item."""

    part: str
    num_cuts: int = 0
    skipped: List[Tuple[str, str]] = field(default_factory=list)


def find_parts(manifest_dir: Path, corpus: str) -> List[str]:
    """Parts having both a recordings and a supervisions manifest, ``train`` first."""
    pat = re.compile(rf"^{re.escape(corpus)}_recordings_(.+)\.jsonl\.gz$")
    parts = []
    for p in sorted(manifest_dir.glob(f"{corpus}_recordings_*.jsonl.gz")):
        m = pat.match(p.name)
        if m and (manifest_dir / f"{corpus}_supervisions_{m.group(1)}.jsonl.gz").is_file():
            parts.append(m.group(1))
    if not parts:
        raise UserError(
            f"no '{corpus}_recordings_<part>.jsonl.gz' + '{corpus}_supervisions_<part>.jsonl.gz'"
            f" in '{manifest_dir}' (run stage 0 first)"
        )
    return sorted(parts, key=lambda p: (p != "train", p))


def cmvn_part(parts: Sequence[str]) -> str:
    """The part whose statistics are the global CMVN: ``train``, else the only part."""
    if "train" in parts:
        return "train"
    if len(parts) == 1:
        return parts[0]
    raise UserError(
        f"cannot choose the CMVN part among {', '.join(parts)}: need 'train' or one part"
    )


def _safe_message(e: Exception) -> str:
    """First line of an exception's message; (lhotse breaks LibsndfileError's str())."""
    try:
        text = str(e)
    except Exception:
        text = " ".join(str(a) for a in e.args)
    return (text.splitlines() or [""])[0][:200]


def _check_recording(rec_dict: dict) -> Optional[str]:
    """None when the recording decodes to finite, non-empty audio; else the reason."""
    try:
        rec = Recording.from_dict(rec_dict)
        audio = rec.load_audio()
    except Exception as e:  # any decoder error means a corrupt file
        return f"unreadable audio: {type(e).__name__}: {_safe_message(e)}"
    if audio.size == 0:
        return "empty audio"
    if not np.all(np.isfinite(audio)):
        return "non-finite samples"
    return None


def _check_chunk(rec_dicts: List[dict]) -> List[Optional[str]]:
    return [_check_recording(d) for d in rec_dicts]


def check_recordings(recordings: RecordingSet, nj: int, executor=None) -> Dict[str, str]:
    """``{recording_id: reason}`` for recordings that cannot be used; decoded with ``nj`` jobs
    (local processes, or ``executor``'s jobs: contiguous chunks, one per job)."""
    recs = list(recordings)
    dicts = [r.to_dict() for r in recs]
    if executor is not None and nj > 1 and len(recs) > 1:
        bounds = np.linspace(0, len(dicts), min(nj, len(dicts)) + 1).astype(int)
        chunks = [dicts[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        reasons = [why for part in executor.map(_check_chunk, chunks) for why in part]
    elif nj > 1 and len(recs) > 1:
        with ProcessPoolExecutor(nj) as ex:
            reasons = list(ex.map(_check_recording, dicts, chunksize=8))
    else:
        reasons = [_check_recording(d) for d in dicts]
    return {r.id: why for r, why in zip(recs, reasons) if why is not None}


def make_part_cuts(
    recordings: RecordingSet,
    supervisions: SupervisionSet,
    sampling_rate: int,
    min_duration: float,
    speed_perturb: bool,
    report: PartReport,
    nj: int,
    executor=None,
    volume: Optional[VolumePerturbConfig] = None,
) -> CutSet:
    """One cut per supervision of the usable recordings at ``sampling_rate``; maybe perturbed:
    speed copies, then (``volume``) each cut's volume, as Kaldi perturbs train_sp_hires."""
    bad = check_recordings(recordings, nj, executor)
    for rid, why in sorted(bad.items()):
        report.skipped.append((rid, why))
    recordings = recordings.filter(lambda r: r.id not in bad)
    supervisions = supervisions.filter(lambda s: s.recording_id not in bad)
    cuts = CutSet.from_manifests(recordings=recordings, supervisions=supervisions)
    cuts = cuts.trim_to_supervisions(keep_overlapping=False).to_eager()
    short = [c.id for c in cuts if c.duration < min_duration]
    for cid in short:
        report.skipped.append((cid, f"shorter than --min-duration={min_duration}"))
    cuts = cuts.filter(lambda c: c.duration >= min_duration).to_eager()
    if any(c.sampling_rate != sampling_rate for c in cuts):
        cuts = cuts.resample(sampling_rate)
    if speed_perturb:
        cuts = cuts + sum((cuts.perturb_speed(f) for f in SPEED_FACTORS), start=CutSet())
    if volume is not None and volume.volume_perturb:
        cuts = perturb_volume(cuts, volume)
    return cuts.to_eager()


def _cmvn_of(cuts: Iterable[Cut], dim: int) -> GlobalCmvn:
    cmvn = GlobalCmvn(dim)
    for cut in cuts:
        cmvn.accumulate(cut.load_features())
    return cmvn


def _cmvn_job(cut_dicts: List[dict], dim: int) -> GlobalCmvn:
    return _cmvn_of(CutSet.from_dicts(cut_dicts), dim)


def accumulate_cmvn(cuts: CutSet, dim: int, nj: int = 1, executor=None) -> GlobalCmvn:
    """Global CMVN statistics over the stored features of ``cuts``, read by ``nj`` jobs.

    Jobs take contiguous slices and their float64 sums are merged in job order, so a given
    ``nj`` always gives the same statistics (other ``nj`` values agree to rounding).
    """
    if nj <= 1 or len(cuts) < 2:
        return _cmvn_of(cuts, dim)
    dicts = [c.to_dict() for c in cuts]
    bounds = np.linspace(0, len(dicts), min(nj, len(dicts)) + 1).astype(int)
    slices = [dicts[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    cmvn = GlobalCmvn(dim)
    if executor is not None:
        parts = list(executor.map(_cmvn_job, slices, [dim] * len(slices)))
    else:
        with ProcessPoolExecutor(len(slices)) as ex:
            parts = list(ex.map(_cmvn_job, slices, [dim] * len(slices)))
    for part in parts:
        cmvn.add(part)
    return cmvn


def make_features(
    manifest_dir: Path,
    corpus: str,
    mfcc_dir: Path,
    config: KaldiMfccHiresConfig,
    nj: int = 1,
    speed_perturb: bool = False,
    min_duration: float = 0.1,
    cmd: Optional[str] = None,
    volume: Optional[VolumePerturbConfig] = None,
) -> List[PartReport]:
    """Run the whole pipeline for every part; parts finished with these options and manifests
    are skipped. With ``cmd`` (a Kaldi job runner, e.g. ``utils/run.pl``) the ``nj`` jobs of
    each parallel phase run through it (:mod:`asr2emo.utils.jobs`), with the same outputs.
    ``volume`` perturbation goes with ``speed_perturb``: both augment the training part only."""
    manifest_dir, mfcc_dir = Path(manifest_dir), Path(mfcc_dir)
    parts = find_parts(manifest_dir, corpus)
    stats_part = cmvn_part(parts)
    extractor = KaldiMfccHires(config)
    reports = []
    for part in parts:
        feats_dir = mfcc_dir / f"{corpus}_feats_{part}"
        cuts_path = mfcc_dir / f"{corpus}_cuts_{part}.jsonl.gz"
        cmvn_path = mfcc_dir / f"{corpus}_cmvn.json"
        perturb = speed_perturb and part == stats_part
        settings = dict(asdict(config), speed_perturb=perturb, min_duration=min_duration)
        settings["cmvn"] = part == stats_part
        vp = volume if perturb and volume is not None and volume.volume_perturb else None
        if vp is not None:  # recorded only when applied: other parts keep their records
            settings.update(asdict(vp))
        manifests = {
            kind: manifest_dir / f"{corpus}_{kind}_{part}.jsonl.gz"
            for kind in ("recordings", "supervisions")
        }
        record = make_record("compute-mfcc", settings, manifests)
        if not needs_run(feats_dir, record, f"{corpus} {part} MFCC ({feats_dir})"):
            continue
        if feats_dir.exists():
            logging.info(f"{corpus} {part}: removing the unfinished {feats_dir}")
            shutil.rmtree(feats_dir)
        report = PartReport(part)
        recordings = load_manifest(manifests["recordings"])
        supervisions = load_manifest(manifests["supervisions"])
        name = f"{corpus}_{part}"
        cuts = make_part_cuts(
            recordings, supervisions, config.sampling_rate, min_duration, perturb, report, nj,
            runner_executor(cmd, mfcc_dir, f"check_audio_{name}"), vp,
        )  # fmt: skip
        if len(cuts) == 0:
            raise UserError(f"{corpus} {part}: no usable cut (see the skipped list in the log)")
        logging.info(
            f"{corpus} {part}: {len(cuts)} cuts, {sum(c.duration for c in cuts) / 3600:.2f} h"
            f"{', incl. speed 0.9/1.1 copies' if perturb else ''}"
            + (f", volume x U[{vp.volume_low}, {vp.volume_high}]" if vp else "")
            + f" -> {feats_dir}"
        )
        feats_dir.mkdir(parents=True)
        cuts = cuts.compute_and_store_features(
            extractor=extractor,
            storage_path=feats_dir / "feats",  # LilcomChunkyWriter adds .lca
            num_jobs=nj,
            storage_type=feature_writer_type(),
            executor=runner_executor(cmd, mfcc_dir, f"mfcc_{name}") if nj > 1 else None,
        )
        cuts = CutSet.from_cuts(sorted(cuts, key=lambda c: c.id))
        report.num_cuts = len(cuts)
        with atomic_path(cuts_path) as tmp:
            cuts.to_file(tmp)
        if part == stats_part:
            cmvn = accumulate_cmvn(
                cuts, extractor.feature_dim(config.sampling_rate), nj,
                runner_executor(cmd, mfcc_dir, f"cmvn_{corpus}"),
            )  # fmt: skip
            cmvn.save(cmvn_path)
            logging.info(f"{corpus}: global CMVN over {cmvn.count} frames of {part} -> {cmvn_path}")
        write_skipped(mfcc_dir / "log" / f"{corpus}_{part}_skipped.txt", report)
        write_marker(feats_dir, record)
        reports.append(report)
    return reports


def write_skipped(path: Path, report: PartReport) -> None:
    """Log the count and write the list of skipped items (id<TAB>reason)."""
    n = len(report.skipped)
    if n:
        logging.warning(f"{report.part}: skipped {n} item(s), listed in {path}")
        for item, why in report.skipped:
            logging.warning(f"  skipped {item}: {why}")
    else:
        logging.info(f"{report.part}: kept {report.num_cuts} cuts, skipped none")
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{item}\t{why}\n" for item, why in report.skipped))
