"""Online i-vectors for every cut, stored as a ``TemporalArray`` custom field ``ivector``.

One i-vector per ``ivector_period`` (10) feature frames, i.e. ``frame_shift = 0.1`` s, written by
``nj`` jobs each with its own lhotse writer under ``<out-dir>/<out-name>_ivector/``. Cuts whose
features cannot be read or are empty/non-finite are skipped, counted and listed.
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch
from lhotse import CutSet
from tqdm import tqdm

from asr2emo.features.storage import feature_writer_type
from asr2emo.ivector.extractor import IvectorExtractor
from asr2emo.utils.errors import UserError
from asr2emo.utils.jobs import RunnerExecutor


def _extract_job(
    args: Tuple[str, List[dict], str, int, bool],
) -> Tuple[List[dict], List[Tuple[str, str]]]:
    """Worker: i-vectors for a list of cut dicts into one writer; ``(cut dicts, skipped)``."""
    ivector_dir, cut_dicts, storage_path, job, show = args
    torch.set_num_threads(1)
    extractor = IvectorExtractor.load(ivector_dir)
    cuts = CutSet.from_dicts(cut_dicts)
    out, skipped = [], []
    writer_type = feature_writer_type()
    with writer_type(storage_path) as writer:
        for cut in tqdm(cuts, desc=f"i-vectors job {job}", disable=not show, total=len(cut_dicts)):
            try:
                feats = cut.load_features()
            except Exception as e:  # unreadable features are a per-cut problem
                skipped.append((cut.id, f"unreadable features: {type(e).__name__}"))
                continue
            if feats is None or feats.shape[0] == 0:
                skipped.append((cut.id, "no feature frames"))
                continue
            if not np.isfinite(feats).all():
                skipped.append((cut.id, "non-finite features"))
                continue
            shift = extractor.opts.ivector_period * cut.frame_shift
            ivec = extractor.extract_online(feats)
            cut.ivector = writer.store_array(
                cut.id, ivec, frame_shift=shift, temporal_dim=0, start=cut.start
            )
            out.append(cut.to_dict())
    return out, skipped


def extract_for_cuts(
    ivector_dir: Path, cuts: CutSet, storage_dir: Path, nj: int = 1, cmd: Optional[str] = None
) -> Tuple[CutSet, List[Tuple[str, str]]]:
    """Attach online i-vectors to ``cuts``; returns the new cuts and ``(cut_id, reason)`` skips.
    With ``cmd`` (a Kaldi job runner) the ``nj`` jobs run through it, with the same outputs."""
    dicts = [c.to_dict() for c in cuts]
    nj = max(1, min(nj, len(dicts)))
    chunks = [dicts[i::nj] for i in range(nj)]
    storage_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(ivector_dir), ch, str(storage_dir / f"ivector-{j}"), j, j == 0)
        for j, ch in enumerate(chunks)
    ]
    if nj == 1:
        results = [_extract_job(jobs[0])]
    elif cmd:
        name = f"extract_ivectors_{storage_dir.name}"
        results = list(RunnerExecutor(cmd, storage_dir.parent, name).map(_extract_job, jobs))
    else:
        with ProcessPoolExecutor(nj) as ex:
            results = list(ex.map(_extract_job, jobs))
    out: List[dict] = []
    skipped: List[Tuple[str, str]] = []
    for o, s in results:
        out.extend(o)
        skipped.extend(s)
    new = CutSet.from_dicts(sorted(out, key=lambda d: d["id"]))
    logging.info(f"i-vectors for {len(new)} cuts, skipped {len(skipped)}")
    return new, skipped


def check_cuts(cuts: CutSet, expected_dim: Optional[int]) -> None:
    """Refuse cuts without features (one line for the user); looks at the first cut."""
    for cut in cuts:
        if not cut.has_features:
            raise UserError(f"cut '{cut.id}' has no features: run steps/make_mfcc.sh first")
        if expected_dim is not None and cut.num_features != expected_dim:
            raise UserError(
                f"cut '{cut.id}' has {cut.num_features}-dim features;"
                f" the extractor wants {expected_dim}"
            )
        break
